package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/rundir"
)

// dirSize is the bytes of the regular files under dir.
func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// TestKeptCheckpoints: save_total_limit 1 keeps last/ alone (no best/);
// save_only_model keeps last/ without the optimizer state, and a resume
// of such an interrupted run is refused with ModelOnlyError (fresh Adam
// moments would be another run). The run directory shrinks by the best
// copy and the moments (two copies of the weights) respectively.
func TestKeptCheckpoints(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	sizes := map[string]int64{}
	for _, tc := range []struct {
		name      string
		limit     int
		onlyModel bool
		want      []string
		absent    []string
	}{
		{"default", 0, false, []string{"best/" + model.WeightsFile, "last/" + rundir.OptimizerFile, "last/" + rundir.StateFile}, nil},
		{"limit 2", 2, false, []string{"best/" + model.WeightsFile, "last/" + rundir.OptimizerFile}, nil},
		{"limit 1", 1, false, []string{"last/" + model.WeightsFile, "last/" + rundir.OptimizerFile}, []string{rundir.BestDir}},
		{"only model", 0, true, []string{"best/" + model.WeightsFile, "last/" + model.WeightsFile, "last/" + rundir.StateFile}, []string{"last/" + rundir.OptimizerFile}},
		{"both", 1, true, []string{"last/" + model.WeightsFile}, []string{rundir.BestDir, "last/" + rundir.OptimizerFile}},
	} {
		cfg := resumeConfig(t, data)
		cfg.MaxSteps, cfg.SaveTotalLimit, cfg.SaveOnlyModel = 4, tc.limit, tc.onlyModel
		if _, _, err := runTo(t, cfg, -1); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, f := range tc.want {
			if _, err := os.Stat(filepath.Join(cfg.OutputDir, f)); err != nil {
				t.Errorf("%s: no %s", tc.name, f)
			}
		}
		for _, f := range tc.absent {
			if _, err := os.Stat(filepath.Join(cfg.OutputDir, f)); err == nil {
				t.Errorf("%s: %s kept", tc.name, f)
			}
		}
		sizes[tc.name] = dirSize(t, cfg.OutputDir)
	}
	weights := dirSize(t, filepath.Join(fixtures, "checkpoints/A", model.WeightsFile))
	near := func(got, want int64) bool { return got > want-want/20 && got < want+want/20 }
	if d := sizes["default"] - sizes["limit 1"]; !near(d, weights) {
		t.Errorf("save_total_limit 1 saves %d bytes, want about the weights' %d", d, weights)
	}
	if d := sizes["default"] - sizes["only model"]; !near(d, 2*weights) {
		t.Errorf("save_only_model saves %d bytes, want about twice the weights' %d", d, weights)
	}
	t.Logf("run directory bytes: %v (weights %d)", sizes, weights)

	// Interrupted with save_only_model: resume refuses, naming the reason.
	cfg := resumeConfig(t, data)
	cfg.SaveOnlyModel = true
	var warned string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tn, err := New(cfg, Options{Backend: cpu.New(2), Warn: func(s string) { warned = s }, OnStep: func(s rundir.StepInfo) {
		if s.Step == 3 {
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tn.Run(ctx)
	if !errors.Is(err, ErrInterrupted) || warned == "" {
		t.Fatalf("interrupted run: %v, warning %q", err, warned)
	}
	cfg.Resume = true
	_, err = New(cfg, Options{Backend: cpu.New(1)})
	var mo *ModelOnlyError
	if !errors.As(err, &mo) || mo.Dir != filepath.Join(cfg.OutputDir, rundir.LastDir) {
		t.Fatalf("resume of a model-only checkpoint: %v", err)
	}
}
