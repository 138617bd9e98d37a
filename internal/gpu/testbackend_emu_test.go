//go:build kernelhost && !cuda

package gpu

import (
	"testing"

	"github.com/mixft/mixft/internal/backend"
)

// newTestBackend is the emulated backend: the kernels run on the host.
func newTestBackend(t testing.TB, prec Precision) *Backend {
	t.Helper()
	be := NewEmulated(prec)
	t.Cleanup(be.Close)
	return be
}

// checkInfo: the emulation says it is one and names its reference GEMM.
func checkInfo(t *testing.T, i backend.DeviceInfo) {
	t.Helper()
	if i.Device != "emu" || i.Name != "host emulation" || i.GEMMLibrary == "" || i.PTXTarget != "" {
		t.Fatalf("unexpected description of the emulation %+v", i)
	}
}
