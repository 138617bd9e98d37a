package schedule

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/plan"
	"github.com/mixft/mixft/internal/sweep/sweeptest"
)

// eightRuns is a sweep of eight runs: two strategies, four seeds.
func eightRuns(t *testing.T) *plan.Plan {
	t.Helper()
	p, err := plan.Parse("s.yaml", []byte("base: {model: m, data_dir: d, task: rte}\naxes: {strategy: [dropout, mixout], seed: [1, 2, 3, 4]}"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKilledSweepFinishesOnlyMissingRuns: a sweep cancelled midway leaves
// finished, interrupted and unstarted runs; run again, it executes exactly
// the unfinished ones (resuming the interrupted), and a third time nothing.
func TestKilledSweepFinishesOnlyMissingRuns(t *testing.T) {
	pl := eightRuns(t)
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var started, blocked atomic.Int32
	first := func(ctx context.Context, w int, task Task) (Outcome, error) {
		if started.Add(1) <= 3 {
			sweeptest.FakeRun(t, task.Dir, task.Run.Config, 0.7, nil)
			return Completed, nil
		}
		// Both workers now hold a long run: the sweep is killed.
		if blocked.Add(1) == 2 {
			cancel()
		}
		<-ctx.Done()
		sweeptest.FakeInterrupted(t, task.Dir)
		return Stopped, nil
	}
	todo, done := Tasks(pl, out)
	if len(todo) != 8 || len(done) != 0 {
		t.Fatalf("fresh sweep: %d to do, %d done", len(todo), len(done))
	}
	sum := Execute(ctx, todo, first, Options{Workers: 2})
	if sum.Completed != 3 || sum.Stopped != 2 || sum.NotStarted != 3 {
		t.Fatalf("first pass: %+v", sum)
	}
	// One unstarted run had crashed before saving any state.
	crashed := todo[6].Dir
	os.MkdirAll(crashed, 0o755)
	os.WriteFile(filepath.Join(crashed, rundir.LogFile), []byte(`{"step":1}`+"\n"), 0o644)

	todo, done = Tasks(pl, out)
	if len(todo) != 5 || len(done) != 3 {
		t.Fatalf("restart: %d to do, %d done; want 5 and 3", len(todo), len(done))
	}
	states := map[sweep.State]int{}
	for _, task := range todo {
		states[task.State]++
	}
	if states[sweep.Interrupted] != 2 || states[sweep.Partial] != 1 || states[sweep.Missing] != 2 {
		t.Fatalf("restart states: %v", states)
	}
	var mu sync.Mutex
	var ran []string
	pr := &ProcessRunner{Manifest: "m.jsonl", OutDir: out}
	second := func(ctx context.Context, w int, task Task) (Outcome, error) {
		inv := pr.Invocation(w, task)
		if inv.Resume != (task.State == sweep.Interrupted) || inv.Overwrite != (task.State == sweep.Partial) {
			t.Errorf("%s run started with %+v", task.State, inv)
		}
		mu.Lock()
		ran = append(ran, task.Run.ID)
		mu.Unlock()
		sweeptest.FakeRun(t, task.Dir, task.Run.Config, 0.7, nil)
		return Completed, nil
	}
	sum = Execute(context.Background(), todo, second, Options{Workers: 2})
	if sum.Completed != 5 || len(ran) != 5 {
		t.Fatalf("second pass: %+v, ran %v", sum, ran)
	}
	for _, task := range done {
		if slices.Contains(ran, task.Run.ID) {
			t.Errorf("finished run %s ran again", task.Run.ID)
		}
	}
	if todo, _ := Tasks(pl, out); len(todo) != 0 {
		t.Errorf("third pass has %d runs to do", len(todo))
	}
}

// TestDivergedRunsAreNotRetried: metrics.json recording a divergence is a
// finished (failed) run.
func TestDivergedRunsAreNotRetried(t *testing.T) {
	pl := eightRuns(t)
	out := t.TempDir()
	sweeptest.FakeRun(t, filepath.Join(out, pl.Runs[0].ID), pl.Runs[0].Config, 0.7, map[string]any{"steps": 3, "failed": true, "failure": "diverged at step 3"})
	todo, done := Tasks(pl, out)
	if len(done) != 1 || done[0].State != sweep.Diverged || len(todo) != 7 {
		t.Fatalf("done %v, %d to do", done, len(todo))
	}
}

// TestStopAfterError: no run starts after an error unless KeepGoing.
func TestStopAfterError(t *testing.T) {
	pl := eightRuns(t)
	todo, _ := Tasks(pl, t.TempDir())
	fail := func(ctx context.Context, w int, task Task) (Outcome, error) {
		if task.Run.Index == 1 {
			return Errored, errors.New("boom")
		}
		return Completed, nil
	}
	sum := Execute(context.Background(), todo, fail, Options{Workers: 1})
	if sum.Errored != 1 || sum.Completed != 1 || sum.NotStarted != 6 {
		t.Errorf("halt: %+v", sum)
	}
	sum = Execute(context.Background(), todo, fail, Options{Workers: 3, KeepGoing: true})
	if sum.Errored != 1 || sum.Completed != 7 || sum.NotStarted != 0 {
		t.Errorf("keep going: %+v", sum)
	}
}

// TestProcessRunnerExitCodes: the exit statuses of finetune map to
// outcomes, output goes to the run's log, and a cancelled sweep sends
// SIGTERM and waits for the run to save its state.
func TestProcessRunnerExitCodes(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "fake-mixft")
	// Arguments: finetune --manifest M --index I ...; index 9 waits for SIGTERM.
	os.WriteFile(script, []byte(`#!/bin/sh
echo "args: $*"
case "$5" in
0) exit 0 ;; 1) exit 3 ;; 2) exit 4 ;;
9) trap 'echo saved; exit 3' TERM; sleep 30 & wait ;;
*) echo "mixft: something is wrong" >&2; exit 1 ;;
esac
`), 0o755)
	pr := &ProcessRunner{Executable: script, Command: sweeptest.FinetuneArgs, Manifest: "m.jsonl", OutDir: dir, Threads: 2, Devices: []string{"cuda:0", "cuda:1"}, Grace: 10 * time.Second}
	for i, want := range []Outcome{Completed, Stopped, Failed, Errored} {
		task := Task{Run: plan.Run{ID: fmt.Sprintf("run%d", i), Index: i}, Dir: filepath.Join(dir, fmt.Sprintf("run%d", i))}
		out, err := pr.Run(context.Background(), 1, task)
		if out != want {
			t.Errorf("index %d: %s (%v), want %s", i, out, err, want)
		}
		if want == Errored && (err == nil || !contains(err.Error(), "exit status 1", "something is wrong", LogFile)) {
			t.Errorf("error outcome: %v", err)
		}
		log, _ := os.ReadFile(filepath.Join(task.Dir, LogFile))
		if !contains(string(log), fmt.Sprintf("--index %d --output-dir %s --threads 2 --device cuda:1", i, dir)) {
			t.Errorf("log %s", log)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	task := Task{Run: plan.Run{ID: "run9", Index: 9}, Dir: filepath.Join(dir, "run9")}
	if out, err := pr.Run(ctx, 0, task); out != Stopped {
		t.Errorf("cancelled run: %s %v", out, err)
	}
	if log, _ := os.ReadFile(filepath.Join(task.Dir, LogFile)); !contains(string(log), "saved") {
		t.Errorf("the run did not get SIGTERM: %s", log)
	}
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
