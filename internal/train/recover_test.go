package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/rundir"
)

// TestResumeKeepsTheNewestCompleteCheckpoint: a run directory with every
// combination of last/, last.tmp/ and last.old/ being complete (holding
// trainer_state.json, which the save writes last), partial (model files
// only, a save cut short or a copy by hand) or absent. Opening it to
// resume restores last/ from the newest complete copy (last.tmp, then
// last, then last.old) — so a complete last.old beside a partial last.tmp
// resumes from last.old — and removes a complete copy only when a newer
// complete one is in place; with none complete, the run has no saved state.
func TestResumeKeepsTheNewestCompleteCheckpoint(t *testing.T) {
	const (
		absent = iota
		partial
		complete
	)
	word := []string{"absent", "partial", "complete"}
	suffixes := []string{".tmp", "", ".old"} // newest first
	for st := range 27 {
		state := [3]int{st % 3, st / 3 % 3, st / 9}
		var desc []string
		want := -1
		for i, s := range state {
			desc = append(desc, rundir.LastDir+suffixes[i]+" "+word[s])
			if s == complete && want < 0 {
				want = i
			}
		}
		t.Run(strings.Join(desc, ", "), func(t *testing.T) {
			out := t.TempDir()
			for i, s := range state {
				if s == absent {
					continue
				}
				p := filepath.Join(out, rundir.LastDir+suffixes[i])
				os.MkdirAll(p, 0o755)
				os.WriteFile(filepath.Join(p, model.ConfigFile), []byte("{}"), 0o644)
				os.WriteFile(filepath.Join(p, "which"), []byte(suffixes[i]), 0o644)
				if s == complete {
					os.WriteFile(filepath.Join(p, rundir.StateFile), []byte("{}"), 0o644)
				}
			}
			r, err := openRunDir(config.Run{OutputDir: out, Resume: true})
			if want < 0 {
				// Nothing to resume from: refused, or started afresh.
				if err == nil {
					defer r.close()
					if r.saved {
						t.Fatal("no complete copy, yet a saved state")
					}
				}
				if _, err := os.Stat(filepath.Join(out, rundir.LastDir, rundir.StateFile)); err == nil {
					t.Fatal("last/ complete from nothing")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			got, _ := os.ReadFile(filepath.Join(out, rundir.LastDir, "which"))
			if !r.saved || string(got) != suffixes[want] {
				t.Fatalf("resumes from last%s (saved %v), want the complete last%s", got, r.saved, suffixes[want])
			}
			entries, _ := os.ReadDir(out)
			for _, e := range entries {
				if n := e.Name(); strings.HasPrefix(n, rundir.LastDir+".") {
					t.Errorf("%s left", n)
				}
			}
		})
	}
}
