// Package sweeptest holds what the sweep packages' tests share: run
// directories shaped as finetune leaves them, run settings, and a
// sweep.Command shaped as mixft's. Only tests import it.
package sweeptest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/sweep"
)

// FakeRun writes what a finished run leaves in dir: config.yaml and a
// complete metrics.json with the given final score; m adds or replaces
// keys of metrics.json.
func FakeRun(t testing.TB, dir string, cfg config.Run, score float64, m map[string]any) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	cfg.OutputDir = dir
	y, _ := yaml.Marshal(cfg.Map())
	if err := os.WriteFile(filepath.Join(dir, rundir.ConfigFile), y, 0o644); err != nil {
		t.Fatal(err)
	}
	mf := map[string]any{"task": cfg.Task, "strategy": cfg.Strategy, "seed": cfg.Seed, "steps": 10, "total_steps": 10,
		"final":             map[string]any{"step": 10, "metrics": map[string]any{"accuracy": score}, "primary": score},
		"majority_baseline": 0.52, "failed": score <= 0.52, "train_seconds": 2.0}
	for k, v := range m {
		mf[k] = v
	}
	b, _ := json.Marshal(mf)
	if err := os.WriteFile(filepath.Join(dir, rundir.MetricsFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// FakeInterrupted writes what an interrupted run leaves in dir: a saved
// state (last/ with the trainer and optimizer state) and an unfinished
// metrics.json.
func FakeInterrupted(t testing.TB, dir string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, rundir.LastDir), 0o755)
	os.WriteFile(filepath.Join(dir, rundir.ConfigFile), []byte("task: rte\n"), 0o644)
	os.WriteFile(filepath.Join(dir, rundir.MetricsFile), []byte(`{"steps": 4, "total_steps": 10}`), 0o644)
	os.WriteFile(filepath.Join(dir, rundir.LastDir, rundir.StateFile), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(dir, rundir.LastDir, rundir.OptimizerFile), nil, 0o644)
}

// Config is a run's settings: model m, data d, the task, strategy (its
// preset applied) and seed, then set. A bad key or value panics.
func Config(task, strategy string, seed uint64, set map[string]any) config.Run {
	c := config.Default()
	c.Model, c.DataDir, c.Task, c.Strategy, c.Seed = "m", "d", task, strategy, seed
	c.ApplyStrategy(func(string) bool { return false })
	for k, v := range set {
		if err := c.Set(k, v); err != nil {
			panic(err)
		}
	}
	return c
}

// FinetuneArgs is a sweep.Command shaped as mixft's (cmd/mixft builds the
// real one; its tests run the scripts end to end).
func FinetuneArgs(inv sweep.Invocation) []string {
	args := []string{"finetune", "--manifest", inv.Manifest}
	if inv.Index != "" {
		args = append(args, "--index", inv.Index)
	}
	args = append(args, "--output-dir", inv.OutDir)
	if inv.Resume {
		args = append(args, "--resume")
	}
	if inv.Overwrite {
		args = append(args, "--overwrite")
	}
	if inv.Threads != "" {
		args = append(args, "--threads", inv.Threads)
	}
	if inv.Device != "" {
		args = append(args, "--device", inv.Device)
	}
	return args
}
