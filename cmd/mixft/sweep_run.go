package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mixft/mixft/internal/exitcode"
	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/schedule"
)

// sweepRunOptions are sweep run's settings.
type sweepRunOptions struct {
	common
	file, outputDir   string
	workers, threads  int
	gpus              string
	keepGoing, dryRun bool
	sets              []string
}

// newSweepRunCmd returns the sweep run command; runF, when not nil, runs
// instead of runSweepRun.
func newSweepRunCmd(runF func(*sweepRunOptions) error) *cobra.Command {
	if runF == nil {
		runF = runSweepRun
	}
	o := &sweepRunOptions{}
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a sweep with a local pool of worker processes, skipping finished runs and resuming interrupted ones",
		Long: `run writes the manifest to <output dir>/manifest.jsonl and runs every run
that is not finished, --workers at a time, each as a process
'mixft finetune --manifest <output dir>/manifest.jsonl --index i'. Per run:

  finished (metrics.json has every step)      skipped
  diverged (metrics.json records it)          skipped: a failed run
  interrupted (last/trainer_state.json)       resumed (--resume)
  started without a saved state               started again (--overwrite)
  not started                                 started

Each run's output goes to <output dir>/<id>/finetune.log. A progress bar over
runs with an ETA is shown on a terminal, a line per run otherwise. SIGINT or
SIGTERM stops the sweep: the running runs save their state (exit 3) and the
next 'sweep run' resumes them. After a run fails with an error no new run
starts (--keep-going starts them anyway); the sweep exits with status 1.
Exit status 3: interrupted; 0: every run is finished (diverged ones count as
finished failed runs).

CPU threads: each worker gets --threads (default: the cores divided by the
workers) unless the sweep sets threads. --gpus 0,1 (a build with -tags cuda)
gives worker w the device cuda:<gpus[w mod len]>; --workers defaults to the
number of GPUs listed, so --gpus 0,1 --workers 4 puts two workers on each.

FILE may also be a manifest (.jsonl) written by plan.`,
		Example: `  mixft sweep run configs/sweeps/fig4.yaml --output-dir runs/fig4 --workers 2 --set model=models/bert-large-uncased --set data_dir=glue_data/{task_dir}
  mixft sweep run configs/sweeps/fig3.yaml --output-dir runs/fig3 --gpus 0,1,2,3 --set model=models/bert-large-uncased --set data_dir=/data/glue/{task_dir}
  mixft sweep run runs/fig4/manifest.jsonl --output-dir runs/fig4    # continue a stopped sweep
  MIXFT_WORKERS=4 mixft sweep run configs/sweeps/fig3.yaml --config fig3-here.yaml    # output_dir: and set: [model=..., data_dir=...] in the file`,
		Args: cobra.ExactArgs(1),
		RunE: runArgsE(o, func(args []string) { o.file = args[0] }, runF),
	}
	f := cmd.Flags()
	f.StringVar(&o.outputDir, "output-dir", "", "the sweep's directory: manifest.jsonl and one run directory per run id")
	f.IntVar(&o.workers, "workers", 0, "runs at a time (0: 1, or the number of --gpus)")
	f.StringVar(&o.gpus, "gpus", "", "comma-separated CUDA device numbers, e.g. 0,1 (needs a build with -tags cuda)")
	f.IntVar(&o.threads, "threads", 0, "CPU threads per run (0: the cores divided by the workers, unless the sweep sets threads)")
	f.BoolVar(&o.keepGoing, "keep-going", false, "start further runs after a run fails with an error")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would run and exit")
	addSetFlag(cmd, &o.sets)
	bindSettings(cmd)
	return cmd
}

// runSweepRun runs the runs of the sweep that are not finished.
func runSweepRun(o *sweepRunOptions) error {
	s, stdout, stderr := o.settings, o.stdout, o.stderr
	workers, threads := o.workers, o.threads
	var devices []string
	if o.gpus != "" {
		for _, g := range strings.Split(o.gpus, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(g))
			if err != nil || n < 0 {
				return s.bad("gpus", strconv.Quote(o.gpus), "device numbers separated by commas, e.g. 0,1")
			}
			devices = append(devices, fmt.Sprintf("cuda:%d", n))
		}
	}
	if workers < 0 {
		return s.bad("workers", workers, "1 or more (0: automatic)")
	}
	if workers == 0 {
		workers = max(1, len(devices))
	}
	if threads < 0 {
		return s.bad("threads", threads, "0 (automatic) or more")
	}
	pl, err := loadPlan(o.file, o.sets, s)
	if err != nil {
		return err
	}
	if threads == 0 && pl.Runs[0].Config.Threads == 0 {
		threads = max(1, runtime.NumCPU()/workers)
	}
	if o.dryRun {
		abs, err := sweepAbs(o.outputDir, s)
		if err != nil {
			return err
		}
		todo, done := schedule.Tasks(pl, abs)
		for _, t := range done {
			fmt.Fprintf(stdout, "%-12s %s  %s\n", t.State, t.Run.ID, sweep.Describe(t.Run.Config))
		}
		for _, t := range todo {
			fmt.Fprintf(stdout, "%-12s %s  %s\n", t.State.Decision(), t.Run.ID, sweep.Describe(t.Run.Config))
		}
		fmt.Fprintf(stderr, "%d runs: %d done, %d to run\n", len(pl.Runs), len(done), len(todo))
		return nil
	}
	dir, manifest, err := sweepDir(o.outputDir, pl, o.file, s)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("sweep run: cannot find the mixft binary: %v", err)
	}
	todo, done := schedule.Tasks(pl, dir)
	counts := map[sweep.State]int{}
	for _, t := range append(append([]schedule.Task{}, done...), todo...) {
		counts[t.State]++
	}
	threadNote := ""
	if threads > 0 {
		threadNote = fmt.Sprintf(" × %d threads", threads)
	}
	fmt.Fprintf(stderr, "%s: %d runs in %s: %d finished, %d diverged; %d to resume, %d to start; %d workers%s\n",
		o.file, len(pl.Runs), dir, counts[sweep.Finished], counts[sweep.Diverged], counts[sweep.Interrupted],
		counts[sweep.Missing]+counts[sweep.Partial], workers, threadNote)
	if len(todo) == 0 {
		fmt.Fprintf(stdout, "every run is finished; report: mixft sweep report %s\n", dir)
		return nil
	}
	runner := &schedule.ProcessRunner{Executable: exe, Command: manifestRunArgs, Manifest: manifest, OutDir: dir, Threads: threads, Devices: devices}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	prog := newSweepProgress(stderr, len(todo), workers)
	sum := schedule.Execute(ctx, todo, runner.Run, schedule.Options{Workers: workers, KeepGoing: o.keepGoing,
		OnStart: prog.start, OnDone: prog.done})
	prog.finish()
	fmt.Fprintf(stdout, "%d runs completed, %d diverged, %d interrupted, %d errors, %d not started; results in %s\n",
		sum.Completed, sum.Failed, sum.Stopped, sum.Errored, sum.NotStarted, dir)
	switch {
	case sum.Errored > 0:
		for _, r := range sum.Results {
			if r.Outcome == schedule.Errored {
				return fmt.Errorf("run %d (%s) failed: %v", r.Task.Run.Index, r.Task.Run.ID, r.Err)
			}
		}
	case sum.Stopped > 0 || sum.NotStarted > 0:
		return &exitError{exitcode.Interrupted, fmt.Errorf("sweep interrupted; run it again to resume: mixft sweep run %s --output-dir %s", manifest, dir)}
	}
	fmt.Fprintf(stdout, "report: mixft sweep report %s\n", dir)
	return nil
}

// sweepProgress shows the sweep's progress: a bar over runs on a
// terminal, a line per run otherwise; both with an ETA.
type sweepProgress struct {
	mu              sync.Mutex
	w               io.Writer
	bar             *progressbar.ProgressBar
	total, finished int
	workers         int
	began           time.Time
	busy            time.Duration
}

func newSweepProgress(w io.Writer, total, workers int) *sweepProgress {
	p := &sweepProgress{w: w, total: total, workers: workers, began: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("runs"), progressbar.OptionSetDescription("sweep"),
			progressbar.OptionSetPredictTime(false), progressbar.OptionSetElapsedTime(true), progressbar.OptionSetWidth(30))
		p.bar.RenderBlank() // starts the bar's clock: its ETA counts from the sweep's start
	}
	return p
}

func (p *sweepProgress) start(worker int, t schedule.Task) {
	if p.bar == nil {
		fmt.Fprintf(p.w, "worker %d: %s run %d %s (%s)\n", worker, t.State.Decision(), t.Run.Index, t.Run.ID, sweep.Describe(t.Run.Config))
	}
}

// eta estimates the time left from the mean duration of finished runs.
func (p *sweepProgress) eta() time.Duration {
	if p.finished == 0 {
		return 0
	}
	per := p.busy / time.Duration(p.finished)
	left := p.total - p.finished
	return per * time.Duration((left+p.workers-1)/p.workers)
}

func (p *sweepProgress) done(r schedule.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished++
	p.busy += r.Duration
	line := fmt.Sprintf("[%d/%d] run %d %s (%s): %s in %s", p.finished, p.total, r.Task.Run.Index, r.Task.Run.ID,
		sweep.Describe(r.Task.Run.Config), r.Outcome, r.Duration.Round(time.Second/10))
	if m, err := rundir.ReadMetrics(r.Task.Dir); err == nil && r.Outcome == schedule.Completed && m.Final != nil {
		line += fmt.Sprintf(", dev %.4f", float64(m.Final.Primary))
		if m.HasFailed() {
			line += " (failed run)"
		}
	}
	if r.Err != nil {
		line += ": " + r.Err.Error()
	}
	if p.finished < p.total {
		line += fmt.Sprintf("; ETA %s", p.eta().Round(time.Second))
	}
	if p.bar != nil {
		p.bar.Clear()
		fmt.Fprintln(p.w, line)
		if p.finished < p.total {
			p.bar.Describe(fmt.Sprintf("sweep, ETA %s", p.eta().Round(time.Second)))
		}
		p.bar.Add(1)
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *sweepProgress) finish() {
	if p.bar != nil {
		p.bar.Describe("sweep")
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
