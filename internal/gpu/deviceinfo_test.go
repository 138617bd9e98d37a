//go:build cuda || kernelhost

package gpu

import (
	"strings"
	"testing"
)

// TestDeviceInfo: the backend describes its device (on a GPU: card,
// compute capability, driver, PTX target, cuBLAS file and version) in each
// precision, and the description's line says the precision. It runs first
// in scripts/gpu-check.sh, which records the line.
func TestDeviceInfo(t *testing.T) {
	for _, prec := range []Precision{FP32, TF32, BF16} {
		be := newTestBackend(t, prec)
		i := be.Info()
		t.Logf("%v", i)
		checkInfo(t, i)
		if i.GEMMPrecision != prec.String() || !strings.HasSuffix(i.String(), "precision "+prec.String()) {
			t.Fatalf("%v: description %q", prec, i)
		}
		if be.DeviceName() != i.Name {
			t.Fatalf("DeviceName %q, Info().Name %q", be.DeviceName(), i.Name)
		}
	}
}
