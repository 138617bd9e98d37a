package sweep_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/sweeptest"
)

// TestCutShortSaveIsResumed: a run killed between the renames of a
// checkpoint save (last/ gone, last.old/ and a complete last.tmp/ there) is
// interrupted, so it is resumed, never started afresh over its checkpoint.
func TestCutShortSaveIsResumed(t *testing.T) {
	for _, keep := range [][]string{{".old", ".tmp"}, {".old"}} {
		dir := t.TempDir()
		sweeptest.FakeInterrupted(t, dir)
		last := filepath.Join(dir, rundir.LastDir)
		for _, suffix := range keep {
			os.CopyFS(last+suffix, os.DirFS(last))
		}
		os.RemoveAll(last)
		if st := sweep.DirState(dir); st != sweep.Interrupted {
			t.Errorf("last%v: state %s, want interrupted", keep, st)
		}
	}
	// A first save cut short: last.tmp alone, complete once it holds
	// trainer_state.json (written last), which finetune then restores.
	dir := t.TempDir()
	sweeptest.FakeInterrupted(t, dir)
	tmp := filepath.Join(dir, rundir.LastDir+".tmp")
	os.Rename(filepath.Join(dir, rundir.LastDir), tmp)
	if st := sweep.DirState(dir); st != sweep.Interrupted {
		t.Errorf("complete last.tmp alone: state %s, want interrupted", st)
	}
	os.Remove(filepath.Join(tmp, rundir.StateFile))
	if st := sweep.DirState(dir); st != sweep.Partial {
		t.Errorf("partial last.tmp alone (a first save cut short): state %s, want partial", st)
	}
}
