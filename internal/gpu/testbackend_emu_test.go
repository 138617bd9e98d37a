//go:build kernelhost && !cuda

package gpu

import "testing"

// newTestBackend is the emulated backend: the kernels run on the host.
func newTestBackend(t testing.TB, prec Precision) *Backend {
	t.Helper()
	be := NewEmulated(prec)
	t.Cleanup(be.Close)
	return be
}
