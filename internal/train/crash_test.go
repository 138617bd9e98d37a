package train

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/dirlock"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/rundir"
)

// Environment of the helper process TestCrashHelper: the step of a save
// to die at (1 is the first), the run directory and the data.
const (
	crashAtEnv   = "MIXFT_TEST_CRASH_AT"
	crashOutEnv  = "MIXFT_TEST_CRASH_OUT"
	crashDataEnv = "MIXFT_TEST_CRASH_DATA"
)

// crashConfig: 5 steps, evaluations (and saves of best/ and last/) at 2, 4 and 5.
func crashConfig(t *testing.T, data, out string) config.Run {
	cfg := resumeConfig(t, data)
	cfg.OutputDir, cfg.MaxSteps = out, 5
	return cfg
}

// TestCrashHelper is not a test: run as a helper process by
// TestKillAtEveryStepOfASave, it trains and SIGKILLs itself just before
// step MIXFT_TEST_CRASH_AT of its checkpoint saves.
func TestCrashHelper(t *testing.T) {
	at, err := strconv.Atoi(os.Getenv(crashAtEnv))
	if err != nil {
		t.Skip("helper process only")
	}
	cfg := crashConfig(t, os.Getenv(crashDataEnv), os.Getenv(crashOutEnv))
	tn, err := New(cfg, Options{Backend: cpu.New(1)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	tn.run.step = func(string) {
		if n++; n == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	if _, err := tn.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.Exit(7) // never reached the step: the parent counted wrong
}

// TestKillAtEveryStepOfASave kills a run (SIGKILL, in a helper process)
// before every step of every checkpoint save and metrics.json write; each
// time the checkpoint of the last finished save still loads, and --resume
// ends with the weights and evaluations of an uninterrupted run, bit for bit,
// and a directory without leftovers.
func TestKillAtEveryStepOfASave(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	cfg := crashConfig(t, data, t.TempDir())
	straight, err := New(cfg, Options{Backend: cpu.New(1)})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	straight.run.step = func(name string) { steps = append(steps, name) }
	if _, err := straight.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := straight.Model().Weights()
	for i, name := range steps {
		at := i + 1
		if testing.Short() && at%7 != 1 {
			continue
		}
		out := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
		cmd.Env = append(os.Environ(), crashAtEnv+"="+strconv.Itoa(at), crashOutEnv+"="+out, crashDataEnv+"="+data)
		outText, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("step %d (%s): helper not killed: %v\n%s", at, name, err, outText)
		}
		// Readers find a complete checkpoint whenever one was saved before.
		if dir, ok := atomicfile.CompleteDir(filepath.Join(out, rundir.LastDir), rundir.StateFile); ok {
			if _, err := model.Load(dir, model.LoadOptions{}); err != nil {
				t.Fatalf("step %d (%s): last checkpoint does not load: %v", at, name, err)
			}
		} else if savedLast(steps[:i]) {
			t.Fatalf("step %d (%s): no complete last checkpoint after a finished save", at, name)
		}
		rc := crashConfig(t, data, out)
		rc.Resume = true
		resumed, _, err := runTo(t, rc, -1)
		if err != nil {
			t.Fatalf("step %d (%s): resume: %v", at, name, err)
		}
		for k, v := range want {
			if !slices.Equal(v, resumed.Model().Weights()[k]) {
				t.Fatalf("step %d (%s): %s differs from the uninterrupted run", at, name, k)
			}
		}
		if a, b := straight.State().Evals, resumed.State().Evals; !slices.EqualFunc(a, b, func(x, y rundir.Eval) bool { return x.Step == y.Step && x.Primary == y.Primary }) {
			t.Fatalf("step %d (%s): evaluations %v, want %v", at, name, b, a)
		}
		entries, _ := os.ReadDir(out)
		for _, e := range entries {
			if n := e.Name(); strings.Contains(n, ".tmp") || strings.HasSuffix(n, ".old") {
				t.Errorf("step %d (%s): %s left in the run directory", at, name, n)
			}
		}
	}
	t.Logf("killed at %d points: %s", len(steps), strings.Join(steps, ", "))
}

// savedLast reports whether the steps include a finished save of last/.
func savedLast(steps []string) bool {
	for i, s := range steps {
		if s == "write "+rundir.StateFile && slices.Contains(steps[i:], "remove old") {
			return true
		}
	}
	return false
}

// TestStartRepairsAnInterruptedSave: every state a kill can leave between
// the renames of a save is repaired when the run starts, and temporary files
// of killed writes are removed.
func TestStartRepairsAnInterruptedSave(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	cfg := resumeConfig(t, data)
	cfg.MaxSteps = 2
	if _, _, err := runTo(t, cfg, -1); err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(cfg.OutputDir, rundir.LastDir)
	// The old binary's window: last/ renamed to last.old/, last.tmp/ complete.
	if err := os.Rename(last, last+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(last+".tmp", os.DirFS(last+".old")); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(cfg.OutputDir, ".metrics.json.tmp-123")
	if err := os.WriteFile(stray, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Resume, cfg.MaxSteps = true, 2
	tn, err := New(cfg, Options{Backend: cpu.New(1)})
	if err != nil {
		t.Fatalf("resume after an interrupted save: %v", err)
	}
	defer tn.Close()
	if got := tn.State().Step; got != 2 {
		t.Errorf("resumed at step %d, want 2", got)
	}
	for _, p := range []string{stray, last + ".old", last + ".tmp"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left after start", p)
		}
	}
}

// TestOneWriterPerRunDirectory: while a trainer holds output_dir, a second
// one (a Slurm requeue overlapping its old job) is refused before it
// changes anything; once the first has run, the directory is free again.
func TestOneWriterPerRunDirectory(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	cfg := resumeConfig(t, data)
	cfg.MaxSteps = 2
	first, err := New(cfg, Options{Backend: cpu.New(1)})
	if err != nil {
		t.Fatal(err)
	}
	second := cfg
	second.Overwrite = true
	_, err = New(second, Options{Backend: cpu.New(1)})
	var held *dirlock.HeldError
	if !errors.As(err, &held) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second writer: %v, want a lock error naming this process", err)
	}
	if _, err := first.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(cfg.OutputDir, rundir.LogFile))
	if n := strings.Count(string(raw), "\n"); n != 2 {
		t.Errorf("log.jsonl has %d lines, want 2", n)
	}
	tn, err := New(second, Options{Backend: cpu.New(1)})
	if err != nil {
		t.Fatalf("after the first run ended: %v", err)
	}
	tn.Close()
}

// TestRefusedRunLeavesNothing: a run refused while loading removes the
// output directory it created (lock file included).
func TestRefusedRunLeavesNothing(t *testing.T) {
	needFixtures(t)
	cfg := resumeConfig(t, writeRTE(t, readTrajectory(t, "A")))
	cfg.OutputDir = filepath.Join(t.TempDir(), "run")
	cfg.Model = filepath.Join(t.TempDir(), "missing")
	if _, err := New(cfg, Options{Backend: cpu.New(1)}); err == nil {
		t.Fatal("run with a missing model accepted")
	}
	if _, err := os.Stat(cfg.OutputDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused run left %s: %v", cfg.OutputDir, err)
	}
}

// TestInterruptDuringEvaluation: SIGINT during an evaluation stops it
// before it records anything, saves last/ with the evaluation due and marks
// metrics.json interrupted (no verdict); the resumed run evaluates first and
// ends with the evaluations and weights of an uninterrupted run.
func TestInterruptDuringEvaluation(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	straight, _, err := runTo(t, resumeConfig(t, data), -1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := resumeConfig(t, data)
	var evals int
	ctx, cancel := context.WithCancel(context.Background())
	tn, err := New(cfg, Options{Backend: cpu.New(2), OnStep: func(s rundir.StepInfo) {
		if s.Step == 4 { // an evaluation step: cancelled before it evaluates
			cancel()
		}
	}, OnEval: func(rundir.Eval) { evals++ }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.Run(ctx); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	if evals != 1 {
		t.Errorf("%d evaluations before the interrupt, want 1 (the one at step 4 stopped)", evals)
	}
	var mf map[string]any
	raw, _ := os.ReadFile(filepath.Join(cfg.OutputDir, rundir.MetricsFile))
	if err := json.Unmarshal(raw, &mf); err != nil {
		t.Fatal(err)
	}
	if _, decided := mf["failed"]; mf["status"] != rundir.StatusInterrupted || decided || mf["final"] != nil {
		t.Errorf("metrics.json of the interrupted run: status %v, failed %v, final %v", mf["status"], mf["failed"], mf["final"])
	}
	cfg.Resume = true
	resumed, _, err := runTo(t, cfg, -1)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := straight.State().Evals, resumed.State().Evals; !slices.EqualFunc(a, b, func(x, y rundir.Eval) bool { return x.Step == y.Step && x.Primary == y.Primary }) {
		t.Errorf("evaluations %v, want %v", b, a)
	}
	for k, v := range straight.Model().Weights() {
		if !slices.Equal(v, resumed.Model().Weights()[k]) {
			t.Errorf("%s differs from the uninterrupted run", k)
		}
	}
	raw, _ = os.ReadFile(filepath.Join(cfg.OutputDir, rundir.MetricsFile))
	mf = nil
	json.Unmarshal(raw, &mf)
	if _, decided := mf["failed"]; mf["status"] != rundir.StatusFinished || !decided || mf["final"] == nil {
		t.Errorf("metrics.json of the finished run: status %v, failed %v, final %v", mf["status"], mf["failed"], mf["final"])
	}
}
