package schedule

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/sweeptest"
)

// TestPrepareLine: a manifest line runs in <out dir>/<id>, started,
// resumed, started afresh, skipped or refused as its directory's state
// calls for, with the machine's settings applied and no others allowed.
func TestPrepareLine(t *testing.T) {
	pl := eightRuns(t)
	dir := t.TempDir()
	manifest := filepath.Join(dir, sweep.ManifestFile)
	if err := os.WriteFile(manifest, pl.Manifest(), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := func(i int) string { return filepath.Join(dir, pl.Runs[i].ID) }
	sweeptest.FakeRun(t, runDir(1), pl.Runs[1].Config, 0.7, nil)
	sweeptest.FakeRun(t, runDir(2), pl.Runs[2].Config, 0.7, map[string]any{"steps": 3, "failed": true, "failure": "diverged at step 3"})
	sweeptest.FakeInterrupted(t, runDir(3))
	os.MkdirAll(runDir(4), 0o755)
	os.WriteFile(filepath.Join(runDir(4), "log.jsonl"), nil, 0o644)
	for i, want := range []sweep.Decision{sweep.Start, sweep.Skip, sweep.Refuse, sweep.Resume, sweep.Restart} {
		lr, err := PrepareLine(manifest, i, "", map[string]any{"threads": 3})
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		c := lr.Run.Config
		if lr.Decision != want || c.OutputDir != runDir(i) || c.Threads != 3 || c.Resume != (want == sweep.Resume) || c.Overwrite != (want == sweep.Restart) {
			t.Errorf("line %d: %s, %+v; want %s", i, lr.Decision, c, want)
		}
	}
	// The user's resume or overwrite wins over the directory's state.
	if lr, err := PrepareLine(manifest, 1, dir, map[string]any{"overwrite": true}); err != nil || lr.Decision != sweep.Restart {
		t.Errorf("overwrite a finished run: %v %v", lr.Decision, err)
	}
	if _, err := PrepareLine(manifest, 0, "", map[string]any{"lr": 1.0}); err == nil {
		t.Error("a hashed setting was given locally")
	}
}
