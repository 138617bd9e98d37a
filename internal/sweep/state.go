package sweep

import (
	"os"
	"path/filepath"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/rundir"
)

// State is where a run directory stands.
type State int

const (
	// Missing: nothing of the run exists; start it.
	Missing State = iota
	// Partial: the run started but saved no state to resume from (it was
	// stopped before its first evaluation); start it again (overwrite).
	Partial
	// Interrupted: last/trainer_state.json exists (or, after a save cut
	// short, in the copy atomicfile.CompleteDir finds) and the run did not
	// finish; resume it.
	Interrupted
	// Finished: metrics.json records every step of the run.
	Finished
	// Diverged: metrics.json records a diverged loss; a failed run that
	// fails again when retried, so it is not run again.
	Diverged
)

func (s State) String() string {
	return [...]string{"missing", "partial", "interrupted", "finished", "diverged"}[s]
}

// Done reports whether the run needs no more work.
func (s State) Done() bool { return s.Decision().Done() }

// Decision is what to do about a run directory.
type Decision int

const (
	// Start the run: nothing of it exists.
	Start Decision = iota
	// Resume the run from its saved state.
	Resume
	// Restart the run, overwriting what an attempt that saved no state
	// left.
	Restart
	// Skip the run: it finished.
	Skip
	// Refuse the run: it diverged, a failed run that fails again when
	// retried.
	Refuse
)

func (d Decision) String() string {
	return [...]string{"start", "resume", "start afresh", "skip (finished)", "refuse (diverged)"}[d]
}

// Done reports whether the decision runs nothing.
func (d Decision) Done() bool { return d == Skip || d == Refuse }

// Decision is the sweep's policy for a directory in state s: finished runs
// are not run again, diverged ones are not retried, interrupted ones
// resume, partial ones start afresh.
func (s State) Decision() Decision {
	return [...]Decision{Missing: Start, Partial: Restart, Interrupted: Resume, Finished: Skip, Diverged: Refuse}[s]
}

// Decide is the decision for the run directory dir: resume or overwrite,
// when the user asked for one, else the policy for the directory's state.
func Decide(dir string, resume, overwrite bool) Decision {
	switch {
	case resume:
		return Resume
	case overwrite:
		return Restart
	}
	return DirState(dir).Decision()
}

// DirState inspects a run directory. metrics.json is rewritten at every
// evaluation, so only its status finished or diverged (in files of older
// versions: steps == total_steps, or a recorded divergence) means the run
// is over.
func DirState(dir string) State {
	if m, err := rundir.ReadMetrics(dir); err == nil {
		switch {
		case m.Diverged():
			return Diverged
		case m.Finished():
			return Finished
		}
	}
	// A checkpoint save cut short leaves the state in last.old or last.tmp,
	// which finetune restores: the run resumes, its checkpoint kept. A
	// checkpoint without optimizer state (save_only_model) cannot resume:
	// the run starts again.
	if last, ok := atomicfile.CompleteDir(filepath.Join(dir, rundir.LastDir), rundir.StateFile); ok {
		if _, err := os.Stat(filepath.Join(last, rundir.OptimizerFile)); err == nil {
			return Interrupted
		}
	}
	for _, f := range rundir.Markers {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return Partial
		}
	}
	return Missing
}
