package main

import (
	"encoding/json"
	"testing"
)

// TestBenchCPU: `mixft bench --device cpu` times train.Step on a tiny model
// and reports it with the CPU's SGEMM peak.
func TestBenchCPU(t *testing.T) {
	code, out, errOut := mixft(t, "bench", "--device", "cpu", "--preset", "tiny", "--batch", "2", "--seq", "8",
		"--steps", "2", "--warmup-steps", "0", "--mixout", "0.5", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Device != "cpu" || r.Threads < 1 || r.Kernel == "" || len(r.StepMs) != 2 || !(r.MsPerStep > 0) || !(r.ForwardMs > 0) ||
		!(r.GemmPeakGFLOPS > 0) || r.Precision != "" {
		t.Fatalf("unexpected result %+v", r)
	}
}
