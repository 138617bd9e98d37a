package train

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/rundir"
)

// resumeConfig trains A on 16 examples in batches of 4 (several epochs,
// dropout and mixout on, evaluation every 2 steps) for 7 steps.
func resumeConfig(t *testing.T, data string) config.Run {
	cfg := config.Default()
	cfg.Model, cfg.Task, cfg.DataDir, cfg.OutputDir = filepath.Join(fixtures, "checkpoints/A"), "rte", data, t.TempDir()
	cfg.BatchSize, cfg.GradAccum, cfg.MaxSteps, cfg.LR, cfg.MaxSeqLength = 4, 2, 7, 1e-3, 64
	cfg.Mixout, cfg.Dropout, cfg.EvalSteps, cfg.DecayTarget = 0.5, 0.1, 2, "pretrained"
	return cfg
}

func runTo(t *testing.T, cfg config.Run, stopAt int) (*Trainer, []float64, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var losses []float64
	tn, err := New(cfg, Options{Backend: cpu.New(2), OnStep: func(s rundir.StepInfo) {
		losses = append(losses, float64(s.Loss))
		if s.Step == stopAt {
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tn.Run(ctx)
	return tn, losses, err
}

// TestResumeIsBitIdentical interrupts a run after step 3 and resumes it:
// losses, final weights and metrics must equal an uninterrupted run's bit
// for bit (data order, dropout and mixout masks, moments, schedule).
func TestResumeIsBitIdentical(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	straight, want, err := runTo(t, resumeConfig(t, data), -1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := resumeConfig(t, data)
	_, first, err := runTo(t, cfg, 3)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: err = %v", err)
	}
	if len(first) != 3 {
		t.Fatalf("interrupted after %d steps, want 3", len(first))
	}
	cfg.Resume = true
	resumed, rest, err := runTo(t, cfg, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got := append(first, rest...); !slices.Equal(got, want) {
		t.Fatalf("losses\n got %v\nwant %v", got, want)
	}
	w1, w2 := straight.Model().Weights(), resumed.Model().Weights()
	for name, v := range w1 {
		if !slices.Equal(v, w2[name]) {
			t.Errorf("%s differs after resume", name)
		}
	}
	if a, b := straight.State().Best.Primary, resumed.State().Best.Primary; a != b {
		t.Errorf("best metric %v vs %v", a, b)
	}
	// log.jsonl holds each step once.
	raw, err := os.ReadFile(filepath.Join(cfg.OutputDir, rundir.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(slices.DeleteFunc(splitLines(raw), func(s string) bool { return s == "" })); n != 7 {
		t.Errorf("log.jsonl has %d lines, want 7", n)
	}
	for _, f := range []string{rundir.MetricsFile, rundir.ConfigFile, "best/model.safetensors", "last/model.safetensors", "last/" + rundir.StateFile, "last/" + rundir.OptimizerFile, "last/config.json", "last/vocab.txt"} {
		if _, err := os.Stat(filepath.Join(cfg.OutputDir, f)); err != nil {
			t.Errorf("run directory lacks %s", f)
		}
	}
}

func splitLines(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, string(b[start:i]))
			start = i + 1
		}
	}
	return append(out, string(b[start:]))
}

// TestRunDirectoryGuards: an existing run needs resume or overwrite, and
// resume refuses changed settings.
func TestRunDirectoryGuards(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	cfg := resumeConfig(t, data)
	cfg.MaxSteps = 2
	if _, _, err := runTo(t, cfg, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, Options{Backend: cpu.New(1)}); err == nil {
		t.Error("second run into the same output_dir accepted")
	}
	cfg.Resume, cfg.LR = true, 5e-4
	if _, err := New(cfg, Options{Backend: cpu.New(1)}); err == nil {
		t.Error("resume with a changed lr accepted")
	}
	// --overwrite removes everything the old run wrote, also what main's
	// runs add (TensorBoard events, curves, test predictions).
	extra := []string{rundir.TensorBoardDir, rundir.CurvesSVGFile, rundir.CurvesPNGFile, rundir.TestPredictionsFile}
	for _, f := range extra {
		if err := os.WriteFile(filepath.Join(cfg.OutputDir, f), []byte("old run"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Resume, cfg.Overwrite, cfg.MaxSteps = false, true, 1
	tn, err := New(cfg, Options{Backend: cpu.New(1)})
	if err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	for _, f := range append(extra, rundir.Markers...) {
		if _, err := os.Stat(filepath.Join(cfg.OutputDir, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("overwrite left %s of the old run: %v", f, err)
		}
	}
	if _, err := tn.Run(context.Background()); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
}

// TestWorkerCountDoesNotChangeResults: the same seed gives bit-identical
// losses and weights on 1 and 3 CPU workers (every reduction has a fixed
// order), so runs reproduce across machines with different core counts.
func TestWorkerCountDoesNotChangeResults(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	run := func(workers int) ([]float64, map[string][]float32) {
		cfg := resumeConfig(t, data)
		cfg.MaxSteps = 4
		var losses []float64
		tn, err := New(cfg, Options{Backend: cpu.New(workers), OnStep: func(s rundir.StepInfo) { losses = append(losses, float64(s.Loss)) }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tn.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return losses, tn.Model().Weights()
	}
	l1, w1 := run(1)
	l3, w3 := run(3)
	if !slices.Equal(l1, l3) {
		t.Fatalf("losses differ: %v vs %v", l1, l3)
	}
	for name, v := range w1 {
		if !slices.Equal(v, w3[name]) {
			t.Errorf("%s differs between 1 and 3 workers", name)
		}
	}
}
