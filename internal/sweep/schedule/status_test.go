//go:build unix

package schedule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mixft/mixft/internal/dirlock"
	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/sweeptest"
)

// TestStatusCounts builds a sweep directory holding runs in every state —
// finished, failed, diverged, interrupted (with a released lock file),
// running (a held lock; a fresh log line), started without a saved state,
// never started — and checks each run's status, the counts, the step and
// dev score of running runs, and both outputs.
func TestStatusCounts(t *testing.T) {
	pl := eightRuns(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, sweep.ManifestFile), pl.Manifest(), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := func(i int) string { return filepath.Join(dir, pl.Runs[i].ID) }
	write := func(i int, name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(runDir(i), name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logLines := func(steps, total int) string {
		var b strings.Builder
		for s := 1; s <= steps; s++ {
			fmt.Fprintf(&b, `{"step":%d,"total_steps":%d,"epoch":0.1,"loss":0.69,"lr":1e-5,"grad_norm":1,"examples_per_s":10}`+"\n", s, total)
		}
		return b.String()
	}
	sweeptest.FakeRun(t, runDir(0), pl.Runs[0].Config, 0.7, nil)
	sweeptest.FakeRun(t, runDir(1), pl.Runs[1].Config, 0.5, nil)
	sweeptest.FakeRun(t, runDir(2), pl.Runs[2].Config, 0.5, map[string]any{"steps": 5, "failure": "diverged: loss NaN at step 5"})
	sweeptest.FakeInterrupted(t, runDir(3))
	write(3, dirlock.File, "pid 1 on another-host\n") // left by a run that ended: not held
	sweeptest.FakeInterrupted(t, runDir(4))
	write(4, rundir.LogFile, logLines(7, 10))
	write(4, rundir.MetricsFile, `{"steps": 5, "total_steps": 10, "final": {"step": 5, "metrics": {"accuracy": 0.61}, "primary": 0.61}}`)
	write(4, dirlock.File, "")
	os.MkdirAll(runDir(5), 0o755)
	write(5, rundir.ConfigFile, "task: rte\n")
	write(5, rundir.LogFile, logLines(3, 10))
	// run 6: never started.
	os.MkdirAll(runDir(7), 0o755)
	write(7, rundir.ConfigFile, "task: rte\n")

	// Every file is an hour old except run 5's log, written "just now".
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	filepath.Walk(dir, func(path string, _ os.FileInfo, _ error) error {
		return os.Chtimes(path, now.Add(-time.Hour), now.Add(-time.Hour))
	})
	os.Chtimes(filepath.Join(runDir(5), rundir.LogFile), now.Add(-10*time.Second), now.Add(-10*time.Second))

	// Run 4's process holds its lock.
	lock, err := dirlock.Acquire(runDir(4))
	if err != nil {
		t.Fatal(err)
	}

	read, err := StatusManifest(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	st := ReadStatus(read, dir, StatusOptions{Now: now, Recent: time.Minute})
	want := []Progress{StatusFinished, StatusFailed, StatusDiverged, StatusInterrupted, StatusRunning, StatusRunning, StatusPending, StatusPending}
	for i, r := range st.Runs {
		if r.Progress != want[i] || r.Index != i || r.ID != pl.Runs[i].ID {
			t.Errorf("run %d (%s): %s, want %s", i, r.ID, r.Progress, want[i])
		}
	}
	wantCounts := map[Progress]int{StatusPending: 2, StatusRunning: 2, StatusInterrupted: 1, StatusFinished: 1, StatusFailed: 1, StatusDiverged: 1}
	for _, p := range Progresses {
		if st.Counts[p] != wantCounts[p] {
			t.Errorf("%s: %d runs, want %d", p, st.Counts[p], wantCounts[p])
		}
	}
	if r := st.Runs[4]; r.Step != 7 || r.TotalSteps != 10 || r.Dev == nil || *r.Dev != 0.61 || r.DevStep != 5 {
		t.Errorf("running run 4: step %d/%d, dev %v at %d; want step 7/10, dev 0.61 at 5", r.Step, r.TotalSteps, r.Dev, r.DevStep)
	}
	if r := st.Runs[5]; r.Step != 3 || r.Dev != nil {
		t.Errorf("running run 5: step %d, dev %v; want step 3, no dev score", r.Step, r.Dev)
	}
	// The probe left the lock with its holder.
	if !dirlock.Held(runDir(4)) {
		t.Error("the holder lost its lock")
	}
	// Once the lock is released and the log is old, run 4 is interrupted.
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	if r := ReadStatus(read, dir, StatusOptions{Now: now, Recent: time.Minute}).Runs[4]; r.Progress != StatusInterrupted {
		t.Errorf("run 4 after its lock was released: %s, want interrupted", r.Progress)
	}

	var text bytes.Buffer
	if err := st.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		dir + ": 8 runs: 2 pending, 2 running, 1 interrupted, 1 finished, 1 failed, 1 diverged\n",
		"  running  run 4 " + pl.Runs[4].ID + " (" + sweep.Describe(pl.Runs[4].Config) + "): step 7/10, dev 0.6100 at step 5\n",
		"  running  run 5 " + pl.Runs[5].ID + " (" + sweep.Describe(pl.Runs[5].Config) + "): step 3/10, no dev score yet\n",
	} {
		if !strings.Contains(text.String(), line) {
			t.Errorf("text output lacks %q:\n%s", line, text.String())
		}
	}
	var js bytes.Buffer
	if err := st.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Counts map[string]int `json:"counts"`
		Runs   []struct {
			Status string   `json:"status"`
			Step   int      `json:"step"`
			Dev    *float64 `json:"dev"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Counts["pending"] != 2 || back.Counts["running"] != 2 || back.Counts["finished"] != 1 || len(back.Runs) != 8 ||
		back.Runs[4].Status != "running" || back.Runs[4].Step != 7 || back.Runs[4].Dev == nil || *back.Runs[4].Dev != 0.61 {
		t.Errorf("json output: %s", js.String())
	}

	if _, err := StatusManifest(t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), sweep.ManifestFile) {
		t.Errorf("a directory without a manifest: %v", err)
	}
}

// TestStatusBelievesTheRunsRecord: a run interrupted a minute ago
// (metrics.json status interrupted) is interrupted, not running, though
// its files are recent; once its log changes after that record (resumed
// where its lock is not visible) it is running; a finished run whose
// metrics.json was damaged is corrupt, the file and the error named, even
// while its files are recent; a run recorded as running with recent files
// stays running (killed or not, nothing says otherwise).
func TestStatusBelievesTheRunsRecord(t *testing.T) {
	pl := eightRuns(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, sweep.ManifestFile), pl.Manifest(), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := func(i int) string { return filepath.Join(dir, pl.Runs[i].ID) }
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	write := func(i int, name, text string, age time.Duration) {
		t.Helper()
		p := filepath.Join(runDir(i), name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, now.Add(-age), now.Add(-age))
	}
	line := `{"step":4,"total_steps":10,"loss":0.6}` + "\n"
	// Run 0: interrupted a minute ago.
	write(0, rundir.LogFile, line, time.Minute)
	write(0, filepath.Join(rundir.LastDir, rundir.StateFile), "{}", time.Minute)
	write(0, filepath.Join(rundir.LastDir, rundir.OptimizerFile), "", time.Minute)
	write(0, rundir.MetricsFile, `{"status": "interrupted", "steps": 4, "total_steps": 10}`, time.Minute)
	// Run 1: the same, but its log was rewritten since (resumed elsewhere).
	write(1, filepath.Join(rundir.LastDir, rundir.StateFile), "{}", time.Minute)
	write(1, filepath.Join(rundir.LastDir, rundir.OptimizerFile), "", time.Minute)
	write(1, rundir.MetricsFile, `{"status": "interrupted", "steps": 4, "total_steps": 10}`, time.Minute)
	write(1, rundir.LogFile, line+`{"step":5,"total_steps":10,"loss":0.6}`+"\n", 5*time.Second)
	// Run 2: finished, then metrics.json cut short by a copy.
	write(2, rundir.LogFile, line, time.Minute)
	write(2, filepath.Join(rundir.LastDir, rundir.StateFile), "{}", time.Minute)
	write(2, rundir.MetricsFile, `{"status": "finished", "steps": 10, "total_ste`, time.Minute)
	// Run 3: training, metrics written a minute ago.
	write(3, rundir.LogFile, line, 10*time.Second)
	write(3, rundir.MetricsFile, `{"status": "running", "steps": 2, "total_steps": 10}`, time.Minute)
	// Run 4: interrupted a minute ago with save_only_model (no optimizer
	// state): it cannot resume and starts again.
	write(4, rundir.LogFile, line, time.Minute)
	write(4, filepath.Join(rundir.LastDir, rundir.StateFile), "{}", time.Minute)
	write(4, rundir.MetricsFile, `{"status": "interrupted", "steps": 4, "total_steps": 10}`, time.Minute)

	st := ReadStatus(pl, dir, StatusOptions{Now: now, Recent: 5 * time.Minute})
	want := []Progress{StatusInterrupted, StatusRunning, StatusCorrupt, StatusRunning, StatusPending, StatusPending}
	if d := sweep.DirState(runDir(4)); d.Decision() != sweep.Restart {
		t.Errorf("a run saved without optimizer state: %s, want to start afresh", d.Decision())
	}
	for i, w := range want {
		if r := st.Runs[i]; r.Progress != w {
			t.Errorf("run %d: %s, want %s", i, r.Progress, w)
		}
	}
	if r := st.Runs[1]; r.Step != 5 {
		t.Errorf("resumed run: step %d, want 5 (its log)", r.Step)
	}
	var text bytes.Buffer
	st.WriteText(&text)
	wantLine := "  corrupt  run 2 " + pl.Runs[2].ID + " (" + sweep.Describe(pl.Runs[2].Config) + "): " + filepath.Join(runDir(2), rundir.MetricsFile) + " is corrupt: unexpected end of JSON input\n"
	if !strings.Contains(text.String(), wantLine) || !strings.Contains(text.String(), "0 diverged, 1 corrupt\n") {
		t.Errorf("text output lacks %q:\n%s", wantLine, text.String())
	}
}
