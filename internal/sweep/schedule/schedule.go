// Package schedule executes a sweep on this machine and says where it
// stands: which runs still need work (Tasks), a pool of workers running
// them (Execute), each run as a process of the mixft binary that is
// stopped with SIGTERM so that it saves its state (ProcessRunner), one
// manifest line placed in its run directory on a cluster node
// (PrepareLine), and the status of every run (ReadStatus).
package schedule

import (
	"context"
	"path/filepath"
	"sync"
	"time"

	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/plan"
)

// Task is one run to execute: the run, its directory and the state that
// directory was in when the sweep looked.
type Task struct {
	Run   plan.Run
	Dir   string
	State sweep.State
}

// Outcome is how a run attempt ended.
type Outcome int

const (
	// Completed: the run finished (failed or not by the majority baseline).
	Completed Outcome = iota
	// Failed: the loss diverged; the run is over and counts as failed.
	Failed
	// Stopped: the run was interrupted and saved its state; run the sweep
	// again to resume it.
	Stopped
	// Errored: the run could not run (bad path, crash); see its log.
	Errored
)

func (o Outcome) String() string {
	return [...]string{"completed", "failed (diverged)", "interrupted", "error"}[o]
}

// Runner executes one task on a worker and reports how it ended; err
// explains an Errored outcome. It must return soon after ctx is
// cancelled (the run saving its state and reporting Stopped).
type Runner func(ctx context.Context, worker int, t Task) (Outcome, error)

// Result is one finished attempt.
type Result struct {
	Task     Task
	Worker   int
	Outcome  Outcome
	Err      error
	Duration time.Duration
}

// Options tune Execute.
type Options struct {
	// Workers is the number of runs at a time (at least 1).
	Workers int
	// KeepGoing keeps starting runs after one ends with an error; by
	// default no new run starts after an error (the running ones finish).
	KeepGoing bool
	// OnStart and OnDone observe the schedule; calls are serialised.
	OnStart func(worker int, t Task)
	OnDone  func(Result)
}

// Summary counts the outcomes of Execute.
type Summary struct {
	Completed, Failed, Stopped, Errored int
	// NotStarted counts tasks never started (cancelled, or after an error).
	NotStarted int
	Results    []Result
}

// Tasks lists the runs of plan under outDir that still need work, with
// the state of each one's directory; done counts those that need none.
func Tasks(pl *plan.Plan, outDir string) (todo []Task, done []Task) {
	for _, r := range pl.Runs {
		dir := filepath.Join(outDir, r.ID)
		t := Task{Run: r, Dir: dir, State: sweep.DirState(dir)}
		if t.State.Done() {
			done = append(done, t)
		} else {
			todo = append(todo, t)
		}
	}
	return todo, done
}

// Execute runs tasks in order on a pool of workers and waits for them.
// Cancelling ctx starts no new task and lets the running ones stop.
func Execute(ctx context.Context, tasks []Task, run Runner, opt Options) Summary {
	workers := max(1, opt.Workers)
	var (
		mu      sync.Mutex
		sum     Summary
		halted  bool
		next    int
		wg      sync.WaitGroup
		started int
	)
	// take hands out the next task unless the sweep stops.
	take := func() (Task, bool) {
		mu.Lock()
		defer mu.Unlock()
		if halted || ctx.Err() != nil || next >= len(tasks) {
			return Task{}, false
		}
		t := tasks[next]
		next++
		started++
		return t, true
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t, ok := take()
				if !ok {
					return
				}
				mu.Lock()
				if opt.OnStart != nil {
					opt.OnStart(w, t)
				}
				mu.Unlock()
				began := time.Now()
				out, err := run(ctx, w, t)
				res := Result{Task: t, Worker: w, Outcome: out, Err: err, Duration: time.Since(began)}
				mu.Lock()
				switch out {
				case Completed:
					sum.Completed++
				case Failed:
					sum.Failed++
				case Stopped:
					sum.Stopped++
				default:
					sum.Errored++
					if !opt.KeepGoing {
						halted = true
					}
				}
				sum.Results = append(sum.Results, res)
				if opt.OnDone != nil {
					opt.OnDone(res)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sum.NotStarted = len(tasks) - started
	return sum
}
