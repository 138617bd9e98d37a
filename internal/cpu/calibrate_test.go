package cpu

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCalibrate: the first use measures and keeps the choice; the next
// reads it; a file made for another machine, or not a calibration, is
// measured again; a path that cannot be written still gives a measured
// choice. The choices are kernels this CPU runs.
func TestCalibrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mixft", "gemm-calibration.json")
	c := Calibrate(path)
	if !strings.Contains(c.Source, "measured now (no calibration yet), kept in "+path) {
		t.Fatalf("first use: %s", c.Source)
	}
	bnames, _ := BF16Kernels()
	if !slices.Contains(Kernels(), c.FP32) || !slices.Contains(bnames, c.BF16) || c.Key != calibrationKey() {
		t.Fatalf("calibration %+v: kernels not of this CPU (%v, %v)", c, Kernels(), bnames)
	}
	again := Calibrate(path)
	if again.Source != "read from "+path || again.FP32 != c.FP32 || again.BF16 != c.BF16 {
		t.Fatalf("second use: %+v, want %+v read from the file", again, c)
	}

	other := c
	other.Key, other.FP32 = "v1 another CPU", "no such kernel"
	raw, _ := json.Marshal(other)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if c := Calibrate(path); !strings.Contains(c.Source, "made for another CPU") || c.FP32 == "no such kernel" {
		t.Fatalf("another machine's file: %+v", c)
	}
	if err := os.WriteFile(path, []byte("fp32: avx2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c := Calibrate(path); !strings.Contains(c.Source, "is not a calibration file") {
		t.Fatalf("garbage file: %s", c.Source)
	}

	// The parent is a regular file: nothing can be kept there.
	blocked := filepath.Join(path, "x.json")
	if c := Calibrate(blocked); !strings.Contains(c.Source, "not kept") || !slices.Contains(Kernels(), c.FP32) {
		t.Fatalf("unwritable path: %+v", c)
	}

	if len(c.Rejected) != 0 {
		t.Fatalf("kernels rejected: %v", c.Rejected)
	}
	be := New(1)
	be.UseCalibration(Calibration{FP32: Kernels()[len(Kernels())-1], BF16: "no such kernel"})
	if be.Kernel() != Kernels()[len(Kernels())-1] {
		t.Fatalf("UseCalibration: kernel %s, want %s", be.Kernel(), Kernels()[len(Kernels())-1])
	}
}

// TestCalibrationRejectsAWrongKernel: a kernel whose product is wrong (here
// one that drops the last k-pair) disagrees with the Go kernel and would be
// rejected, while the kernels this CPU runs agree.
func TestCalibrationRejectsAWrongKernel(t *testing.T) {
	wrong := goBF16MicroKernel
	wrong.name = "drops a k-pair"
	wrong.fn = func(kp int, a, b *uint32, c *float32, ldc int, alpha, beta float32) {
		goBF16Kernel(kp-1, a, b, c, ldc, alpha, beta)
	}
	be := New(1)
	be.SetPrecision(BF16)
	be.bkern = &wrong
	if why := agreesWithGo(be, BF16); !strings.Contains(why, "differs from the Go kernel's") {
		t.Fatalf("a wrong kernel: %q", why)
	}
	names, _ := BF16Kernels()
	for _, name := range names {
		be := New(2)
		be.SetPrecision(BF16)
		if err := be.SetBF16Kernel(name); err != nil {
			t.Fatal(err)
		}
		if why := agreesWithGo(be, BF16); why != "" {
			t.Errorf("%s: %s", name, why)
		}
	}
	for _, name := range Kernels() {
		be := New(2)
		if err := be.SetKernel(name); err != nil {
			t.Fatal(err)
		}
		if why := agreesWithGo(be, FP32); why != "" {
			t.Errorf("%s: %s", name, why)
		}
	}
}
