package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/cpu"
)

// TestBenchCPU: `mixft bench --device cpu` times train.Step on a tiny model
// and reports it with the peak of the CPU's GEMM at the precision, naming
// the kernel that ran: the calibration's choice (the test process's,
// which bench, run in process, shares).
func TestBenchCPU(t *testing.T) {
	calib := calibration()
	for _, c := range []struct{ precision, kernel string }{{"fp32", calib.FP32}, {"bf16", calib.BF16}} {
		code, out, errOut := mixft(t, "bench", "--device", "cpu", "--preset", "tiny", "--batch", "2", "--seq", "8",
			"--steps", "2", "--warmup-steps", "0", "--mixout", "0.5", "--precision", c.precision, "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var r benchResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if r.Device != "cpu" || r.Threads < 1 || r.Kernel != c.kernel || len(r.StepMs) != 2 || !(r.MsPerStep > 0) || !(r.ForwardMs > 0) ||
			!(r.GemmPeakGFLOPS > 0) || !(r.PeakShare > 0) || r.Precision != c.precision {
			t.Fatalf("--precision %s: unexpected result %+v (want kernel %s)", c.precision, r, c.kernel)
		}
	}
	code, _, errOut := mixft(t, "bench", "--preset", "tiny", "--precision", "fp16")
	if code == 0 || !strings.Contains(errOut, "flag --precision") || !strings.Contains(errOut, "fp32, bf16") {
		t.Fatalf("--precision fp16: exit %d, %s", code, errOut)
	}
}

// fakeAccelerator is the CPU backend presented as an accelerator: bench
// must wait for it, read its memory peak and copy its device description
// into the result.
type fakeAccelerator struct {
	*cpu.Backend
	syncs int
}

func (f *fakeAccelerator) Synchronize()                             { f.syncs++ }
func (f *fakeAccelerator) MemoryStats() (inUse, peak, cached int64) { return 1, 3 << 30, 0 }
func (f *fakeAccelerator) DeviceName() string                       { return "Test Card" }
func (f *fakeAccelerator) GEMMPrecision() string                    { return "bf16" }
func (f *fakeAccelerator) PeakTFLOPS() float64                      { return 100 }
func (f *fakeAccelerator) Info() backend.DeviceInfo {
	return backend.DeviceInfo{Device: "cuda:0", Name: "Test Card", Capability: "9.0", PTXTarget: "sm_90",
		GEMMLibrary: "/opt/lib/libcublas.so.13", GEMMLibraryVersion: 130100, GEMMPrecision: "bf16"}
}

// TestBenchAcceleratorRecord: on an accelerator, bench --json names the
// card, its precision and peak memory, and carries its device description
// (compute capability, PTX target, cuBLAS file and version); the text
// output prints it on one line.
func TestBenchAcceleratorRecord(t *testing.T) {
	acc := &fakeAccelerator{Backend: cpu.New(1)}
	o := benchOptions{preset: "tiny", batch: 2, seq: 8, steps: 2, json: true, seed: 1, noForward: true}
	var out strings.Builder
	if err := benchModel(&out, acc, o); err != nil {
		t.Fatal(err)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if r.Machine != "Test Card" || r.Precision != "bf16" || r.PeakMemGiB != 3 || r.GemmPeakGFLOPS != 100e3 || acc.syncs < 2 {
		t.Fatalf("unexpected result %+v (%d synchronizations)", r, acc.syncs)
	}
	if r.DeviceInfo == nil || *r.DeviceInfo != acc.Info() {
		t.Fatalf("device_info %+v, want %+v", r.DeviceInfo, acc.Info())
	}
	if !strings.Contains(out.String(), `"gemm_library":"/opt/lib/libcublas.so.13"`) {
		t.Fatalf("JSON lacks the cuBLAS file: %s", out.String())
	}
	o.json = false
	out.Reset()
	if err := benchModel(&out, acc, o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "device: cuda:0: Test Card, compute capability 9.0, PTX sm_90") ||
		!strings.Contains(out.String(), "GEMMs: /opt/lib/libcublas.so.13 (version 130100)") {
		t.Fatalf("text output lacks the device line:\n%s", out.String())
	}
}
