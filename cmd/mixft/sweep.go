package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/sweep"
)

func newSweepCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Run grids of finetuning runs (seeds, strategies, mix probabilities) and report their distribution",
		Long: `sweep runs the mixout paper's experiments: many finetuning runs over a grid
of settings, locally or on a cluster, and their distribution as tables and
plots (mean, std, median, min, max and failed runs per group).

A sweep file (YAML) has base: (any run setting, keys as in run configs) and
axes: (setting -> list of values; the grid is their product). axes may be a
list of such maps: each is a grid and the runs are their concatenation (a run
two grids share appears once). A value list may be written as a range,
{from: 0.1, to: 0.9, step: 0.1}. String settings expand {task} (rte) and
{task_dir} (the GLUE folder name: RTE, MRPC, CoLA, STS-B, SST-2), so one
data_dir serves every task: data_dir: glue_data/{task_dir}. Strategy presets
apply per run, overridden by what base: or axes: set.

  base:
    model: models/bert-large-uncased
    data_dir: glue_data/{task_dir}
    lr: 2.0e-5
  axes:
    task: [rte, mrpc]
    strategy: [dropout, mixout]
    seed: {from: 1, to: 20}

Every run gets a content-hash id (the settings' SHA-256, output_dir, resume,
overwrite, threads and device left out) and the directory
<output dir>/<id>; runs already finished are never run again, so a sweep can
be extended, restarted after a crash, or run on several machines and merged.

Subcommands: plan (the manifest), run (a local pool of worker processes),
emit (a Slurm job array or a Kubernetes Indexed Job), report (tables and
plots). configs/sweeps/ holds the paper's grids.`,
		Example: `  mixft sweep plan configs/sweeps/fig4.yaml --set model=models/bert-large-uncased --set data_dir=glue_data/{task_dir}
  mixft sweep run configs/sweeps/fig3.yaml --output-dir runs/fig3 --workers 2 --set model=models/bert-large-uncased --set data_dir=glue_data/{task_dir}
  mixft sweep emit --slurm configs/sweeps/fig3.yaml --output-dir /scratch/runs/fig3 --throttle 16 > fig3.sbatch
  mixft sweep report runs/fig3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSweepPlanCmd(), newSweepRunCmd(), newSweepEmitCmd(), newSweepReportCmd())
	return cmd
}

// addSetFlag gives a sweep command --set key=value.
func addSetFlag(cmd *cobra.Command) {
	cmd.Flags().StringArray("set", nil, "run setting for every run, key=value (replaces the key in base:; e.g. model=DIR, data_dir=glue_data/{task_dir})")
}

// loadPlan reads a sweep file, or a manifest (.jsonl) as written by plan.
func loadPlan(cmd *cobra.Command, path string) (*sweep.Plan, error) {
	sets, _ := cmd.Flags().GetStringArray("set")
	var ovs []sweep.Override
	for _, s := range sets {
		o, err := sweep.ParseOverride(s)
		if err != nil {
			return nil, err
		}
		ovs = append(ovs, o)
	}
	if strings.HasSuffix(path, ".jsonl") {
		if len(ovs) > 0 {
			return nil, fmt.Errorf("--set: %s is a manifest, whose settings are fixed; give the sweep file instead", path)
		}
		return sweep.ReadManifest(path)
	}
	return sweep.Load(path, ovs)
}

func newSweepPlanCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Print the manifest of a sweep: one JSON line per run with its id and every setting",
		Long: `plan expands a sweep file into its manifest, one JSON line per run:

  {"id": "3f2a9c0d41be", "index": 0, "settings": {"adam_beta1": 0.9, ...}}

id is the content hash of the run's settings (the first 12 hex digits of the
SHA-256 of their JSON, without output_dir, resume, overwrite, threads and
device); index is the line number from 0; settings holds every setting with
output_dir empty: a run is written to <output dir>/<id>. The same file gives
the same manifest, byte for byte. Every run is validated first; an error
names the sweep file, the grid point and the key.`,
		Example: `  mixft sweep plan configs/sweeps/fig4.yaml --set model=models/bert-large-uncased --set data_dir=glue_data/{task_dir} > fig4.jsonl
  mixft sweep plan configs/sweeps/fig3.yaml --set model=m --set data_dir=glue_data/{task_dir} | wc -l`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, err := loadPlan(cmd, args[0])
			if err != nil {
				return err
			}
			if err := plan.WriteManifest(cmd.OutOrStdout()); err != nil {
				return err
			}
			note := ""
			if plan.Merged > 0 {
				note = fmt.Sprintf(" (%d grid points repeat a run and are merged)", plan.Merged)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d runs%s\n", args[0], len(plan.Runs), note)
			return nil
		},
	}
	addSetFlag(cmd)
	return cmd
}

// sweepDir prepares the sweep output directory: absolute (the runs record
// it and --resume checks it), created, with the manifest written.
func sweepDir(dir string, plan *sweep.Plan, source string) (string, string, error) {
	if dir == "" {
		return "", "", fmt.Errorf("--output-dir: required (the sweep's directory: its manifest and one directory per run)")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", fmt.Errorf("--output-dir %s: %v", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", "", fmt.Errorf("--output-dir: %v", err)
	}
	manifest := filepath.Join(abs, sweep.ManifestFile)
	if !sameFile(manifest, source) {
		if err := atomicfile.WriteFile(manifest, plan.Manifest(), 0o644); err != nil {
			return "", "", err
		}
	}
	if !strings.HasSuffix(source, ".jsonl") {
		if src, err := os.ReadFile(source); err == nil {
			if err := atomicfile.WriteFile(filepath.Join(abs, "sweep.yaml"), src, 0o644); err != nil {
				return "", "", err
			}
		}
	}
	return abs, manifest, nil
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

func newSweepRunCmd() *cobra.Command {
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
  mixft sweep run runs/fig4/manifest.jsonl --output-dir runs/fig4    # continue a stopped sweep`,
		Args: cobra.ExactArgs(1),
		RunE: runSweepRun,
	}
	f := cmd.Flags()
	f.String("output-dir", "", "the sweep's directory: manifest.jsonl and one run directory per run id")
	f.Int("workers", 0, "runs at a time (0: 1, or the number of --gpus)")
	f.String("gpus", "", "comma-separated CUDA device numbers, e.g. 0,1 (needs a build with -tags cuda)")
	f.Int("threads", 0, "CPU threads per run (0: the cores divided by the workers, unless the sweep sets threads)")
	f.Bool("keep-going", false, "start further runs after a run fails with an error")
	f.Bool("dry-run", false, "print what would run and exit")
	addSetFlag(cmd)
	return cmd
}

func runSweepRun(cmd *cobra.Command, args []string) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	f := cmd.Flags()
	outFlag, _ := f.GetString("output-dir")
	workers, _ := f.GetInt("workers")
	gpus, _ := f.GetString("gpus")
	threads, _ := f.GetInt("threads")
	keepGoing, _ := f.GetBool("keep-going")
	dry, _ := f.GetBool("dry-run")
	var devices []string
	if gpus != "" {
		for _, g := range strings.Split(gpus, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(g))
			if err != nil || n < 0 {
				return fmt.Errorf("--gpus %q: expected device numbers separated by commas, e.g. 0,1", gpus)
			}
			devices = append(devices, fmt.Sprintf("cuda:%d", n))
		}
	}
	if workers < 0 {
		return fmt.Errorf("--workers %d: expected 1 or more", workers)
	}
	if workers == 0 {
		workers = max(1, len(devices))
	}
	if threads < 0 {
		return fmt.Errorf("--threads %d: expected 0 (automatic) or more", threads)
	}
	plan, err := loadPlan(cmd, args[0])
	if err != nil {
		return err
	}
	if threads == 0 && plan.Runs[0].Config.Threads == 0 {
		threads = max(1, runtime.NumCPU()/workers)
	}
	if dry {
		abs, err := filepath.Abs(outFlag)
		if outFlag == "" || err != nil {
			return fmt.Errorf("--output-dir: required (the sweep's directory: its manifest and one directory per run)")
		}
		todo, done := sweep.Tasks(plan, abs)
		for _, t := range done {
			fmt.Fprintf(stdout, "%-12s %s  %s\n", t.State, t.Run.ID, sweep.Describe(t.Run.Config))
		}
		for _, t := range todo {
			what := map[sweep.State]string{sweep.Missing: "start", sweep.Partial: "restart", sweep.Interrupted: "resume"}[t.State]
			fmt.Fprintf(stdout, "%-12s %s  %s\n", what, t.Run.ID, sweep.Describe(t.Run.Config))
		}
		fmt.Fprintf(stderr, "%d runs: %d done, %d to run\n", len(plan.Runs), len(done), len(todo))
		return nil
	}
	dir, manifest, err := sweepDir(outFlag, plan, args[0])
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("sweep run: cannot find the mixft binary: %v", err)
	}
	todo, done := sweep.Tasks(plan, dir)
	counts := map[sweep.State]int{}
	for _, t := range append(append([]sweep.Task{}, done...), todo...) {
		counts[t.State]++
	}
	threadNote := ""
	if threads > 0 {
		threadNote = fmt.Sprintf(" × %d threads", threads)
	}
	fmt.Fprintf(stderr, "%s: %d runs in %s: %d finished, %d diverged; %d to resume, %d to start; %d workers%s\n",
		args[0], len(plan.Runs), dir, counts[sweep.Finished], counts[sweep.Diverged], counts[sweep.Interrupted],
		counts[sweep.Missing]+counts[sweep.Partial], workers, threadNote)
	if len(todo) == 0 {
		fmt.Fprintf(stdout, "every run is finished; report: mixft sweep report %s\n", dir)
		return nil
	}
	runner := &sweep.ProcessRunner{Executable: exe, Manifest: manifest, OutDir: dir, Threads: threads, Devices: devices}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	prog := newSweepProgress(stderr, len(todo), workers)
	sum := sweep.Execute(ctx, todo, runner.Run, sweep.Options{Workers: workers, KeepGoing: keepGoing,
		OnStart: prog.start, OnDone: prog.done})
	prog.finish()
	fmt.Fprintf(stdout, "%d runs completed, %d diverged, %d interrupted, %d errors, %d not started; results in %s\n",
		sum.Completed, sum.Failed, sum.Stopped, sum.Errored, sum.NotStarted, dir)
	switch {
	case sum.Errored > 0:
		for _, r := range sum.Results {
			if r.Outcome == sweep.Errored {
				return fmt.Errorf("run %d (%s) failed: %v", r.Task.Run.Index, r.Task.Run.ID, r.Err)
			}
		}
	case sum.Stopped > 0 || sum.NotStarted > 0:
		return &exitError{exitInterrupted, fmt.Errorf("sweep interrupted; run it again to resume: mixft sweep run %s --output-dir %s", manifest, dir)}
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

func (p *sweepProgress) start(worker int, t sweep.Task) {
	if p.bar == nil {
		what := map[sweep.State]string{sweep.Interrupted: "resume", sweep.Partial: "restart"}[t.State]
		if what == "" {
			what = "start"
		}
		fmt.Fprintf(p.w, "worker %d: %s run %d %s (%s)\n", worker, what, t.Run.Index, t.Run.ID, sweep.Describe(t.Run.Config))
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

func (p *sweepProgress) done(r sweep.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished++
	p.busy += r.Duration
	line := fmt.Sprintf("[%d/%d] run %d %s (%s): %s in %s", p.finished, p.total, r.Task.Run.Index, r.Task.Run.ID,
		sweep.Describe(r.Task.Run.Config), r.Outcome, r.Duration.Round(time.Second/10))
	if m, err := sweep.ReadMetrics(r.Task.Dir); err == nil && r.Outcome == sweep.Completed && m.Final != nil {
		line += fmt.Sprintf(", dev %.4f", float64(m.Final.Primary))
		if m.Failed {
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

func newSweepEmitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "emit (--slurm | --k8s) FILE",
		Short: "Print a Slurm job array script or a Kubernetes Indexed Job that runs a sweep on a cluster",
		Long: `emit prints a job for a cluster scheduler; task i of the job runs
'mixft finetune --manifest M --index i' (the index also comes from
SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX) into <output dir>/<run id>.
Paths (--output-dir, model, data_dir) are as the compute nodes or pods see
them. Exit statuses of a task: 0 done (or already done), 3 interrupted with
its state saved (safe to retry: it resumes), 4 diverged (a failed run: do not
retry), 1 error.

--slurm writes the manifest to <output dir>/manifest.jsonl (run emit where
that path is the cluster's, e.g. on a login node) and prints an sbatch script:
a job array 0..N-1 with at most --throttle tasks at once (%throttle), one CPU
task (and with --gpu one GPU) each, --signal=B:TERM@120 so a task saves its
state before the time limit; a task that exits 3 requeues itself (scontrol
requeue) and resumes; exit 4 is final. Output: <output dir>/slurm/%A_%a.out.

--k8s prints a ConfigMap holding the manifest (or, with --manifest-path, uses
one already on the volume) and an Indexed Job: completions = runs,
parallelism, completionMode Indexed, restartPolicy Never, the volume claim
--pvc mounted at --mount, and a pod failure policy: exit 3 and disruptions
(preemption, eviction) -> Ignore (retried, not counted; the retry resumes);
exit 4 -> FailIndex (a failed run: that index is not retried and is listed in
status.failedIndexes; the other indexes go on); other failures count
against backoffLimitPerIndex (--retries). Needs Kubernetes 1.29 or newer.

Whatever runs the tasks, 'mixft sweep report <output dir>' reads the results;
'mixft sweep run' on the same directory finishes what the cluster left.`,
		Example: `  mixft sweep emit --slurm configs/sweeps/fig3.yaml --output-dir /scratch/$USER/fig3 --throttle 16 --time 04:00:00 --gpu \
      --set model=/scratch/models/bert-large-uncased --set data_dir=/scratch/glue/{task_dir} > fig3.sbatch && sbatch fig3.sbatch
  mixft sweep emit --k8s configs/sweeps/fig4.yaml --output-dir /mnt/mixft/runs/fig4 --image registry.example.com/mixft:1.0 \
      --pvc mixft-data --parallelism 8 --gpu --set model=/mnt/mixft/models/bert-large-uncased \
      --set data_dir=/mnt/mixft/glue/{task_dir} | kubectl apply -f -`,
		Args: cobra.ExactArgs(1),
		RunE: runSweepEmit,
	}
	f := cmd.Flags()
	f.Bool("slurm", false, "print an sbatch job array script")
	f.Bool("k8s", false, "print a Kubernetes Indexed Job (and a ConfigMap with the manifest)")
	f.String("output-dir", "", "the sweep's directory as the jobs see it")
	f.String("name", "", "job name (default: mixft-<sweep file name>)")
	f.String("mixft", "mixft", "the mixft binary on the nodes or in the image")
	f.Bool("gpu", false, "one GPU per task (--device cuda:0)")
	f.Int("throttle", 8, "slurm: most array tasks running at once")
	f.Int("cpus", 4, "slurm: CPUs per task (also --threads)")
	f.String("time", "", "slurm: time limit per task, e.g. 04:00:00")
	f.String("mem", "", "slurm: memory per task, e.g. 32G")
	f.String("partition", "", "slurm: partition")
	f.StringArray("sbatch", nil, "slurm: further sbatch option, e.g. --sbatch=--account=proj (repeatable)")
	f.String("image", "", "k8s: container image holding mixft")
	f.String("pvc", "", "k8s: PersistentVolumeClaim holding the model, the data and the runs")
	f.String("mount", "/mnt/mixft", "k8s: where the claim is mounted in the pod")
	f.String("namespace", "", "k8s: namespace")
	f.Int("parallelism", 4, "k8s: most pods at once")
	f.String("cpu", "4", "k8s: CPU request per pod (also --threads when whole)")
	f.String("memory", "16Gi", "k8s: memory request and limit per pod")
	f.Int("retries", 2, "k8s: backoffLimitPerIndex, retries of an index after errors (exit 1)")
	f.String("manifest-path", "", "k8s: the manifest's path in the pod instead of a ConfigMap (for manifests over 1 MB)")
	addSetFlag(cmd)
	return cmd
}

func runSweepEmit(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	slurm, _ := f.GetBool("slurm")
	k8s, _ := f.GetBool("k8s")
	if slurm == k8s {
		return fmt.Errorf("emit: give exactly one of --slurm and --k8s")
	}
	out, _ := f.GetString("output-dir")
	if out == "" {
		return fmt.Errorf("--output-dir: required (the sweep's directory as the jobs see it)")
	}
	name, _ := f.GetString("name")
	if name == "" {
		name = sweep.JobName(args[0])
	}
	mixftBin, _ := f.GetString("mixft")
	gpu, _ := f.GetBool("gpu")
	plan, err := loadPlan(cmd, args[0])
	if err != nil {
		return err
	}
	var text string
	if slurm {
		dir, manifest, err := sweepDir(out, plan, args[0])
		if err != nil {
			return err
		}
		// sbatch needs the directory of --output before the job starts.
		if err := os.MkdirAll(filepath.Join(dir, "slurm"), 0o755); err != nil {
			return fmt.Errorf("--output-dir: %v", err)
		}
		o := sweep.SlurmOptions{JobName: name, Source: args[0], Manifest: manifest, OutDir: dir, Runs: len(plan.Runs), GPU: gpu, Mixft: mixftBin}
		o.Throttle, _ = f.GetInt("throttle")
		o.CPUs, _ = f.GetInt("cpus")
		o.Time, _ = f.GetString("time")
		o.Mem, _ = f.GetString("mem")
		o.Part, _ = f.GetString("partition")
		o.Extra, _ = f.GetStringArray("sbatch")
		if text, err = sweep.Slurm(o); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d runs; manifest written to %s; submit the script with sbatch\n", args[0], len(plan.Runs), manifest)
	} else {
		o := sweep.K8sOptions{Name: name, Source: args[0], Manifest: plan.Manifest(), OutDir: out, Runs: len(plan.Runs), GPU: gpu, Mixft: mixftBin}
		o.Image, _ = f.GetString("image")
		o.PVC, _ = f.GetString("pvc")
		o.Mount, _ = f.GetString("mount")
		o.Namespace, _ = f.GetString("namespace")
		o.Parallelism, _ = f.GetInt("parallelism")
		o.CPU, _ = f.GetString("cpu")
		o.Memory, _ = f.GetString("memory")
		o.Retries, _ = f.GetInt("retries")
		o.ManifestPath, _ = f.GetString("manifest-path")
		if text, err = sweep.K8s(o); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d runs; apply with kubectl apply -f\n", args[0], len(plan.Runs))
	}
	_, err = io.WriteString(cmd.OutOrStdout(), text)
	return err
}

func newSweepReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report DIR [DIR...]",
		Short: "Tables and plots of the dev scores of a sweep's runs: mean, std, median, min, max and failed runs per group",
		Long: `report reads every run directory (config.yaml and metrics.json) under the
given directories, so results of several machines or clusters merge (a run
found twice, by its settings, counts once; unfinished runs are listed and
left out, interrupted ones apart from the others), and writes into the
first DIR:

  report.md, report.csv, report.json   per group: runs, failed runs, mean,
      std (sample), median, min and max of the final dev score (the task's
      primary metric), mean training seconds per run; report.json also
      lists every run's id, seed and score
  scores-<task>.svg/.png        Figure 3 style: every run's final dev score
      per strategy (box plot and points; failed runs as red crosses; the
      majority-class baseline dashed)
  score-vs-p-<task>.svg/.png    Figure 4 style, when the runs vary the mixout
      or dropout probability p: mean score against p for mixout and for
      dropout, min–max bars, failed runs counted at each p

Groups: runs sharing task, strategy, mixout, dropout and
weight_decay_target; any other setting that differs between the runs of such
a group (lr, output_layer, weight_decay, ...) joins the key, except the seed
(its runs are the restarts) and model, data_dir, threads, device, save_best.
A run failed when its final dev score is at or below the majority-class
baseline of the dev set, its loss diverged, or its score is undefined (NaN);
statistics are over the runs with a score.`,
		Example: `  mixft sweep report runs/fig3
  mixft sweep report runs/fig4 /mnt/cluster/runs/fig4    # merge two machines' runs; writes into runs/fig4`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := sweep.Collect(args)
			if err != nil {
				return err
			}
			if err := rep.Write(args[0]); err != nil {
				return err
			}
			runs, failed := 0, 0
			for _, g := range rep.Groups {
				runs += g.Runs
				failed += g.Failed
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d runs in %d groups (%d failed); wrote %s, %s, %s", runs, len(rep.Groups), failed,
				sweep.ReportMarkdown, sweep.ReportCSV, sweep.ReportJSON)
			for _, f := range rep.Figures {
				fmt.Fprintf(w, ", %s.svg/.png", f.Name)
			}
			fmt.Fprintf(w, " in %s\n", args[0])
			if a, b := len(rep.Interrupted), len(rep.Incomplete); a+b > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "mixft: warning: %d unfinished runs left out: %d interrupted (resumable), %d other (listed in %s)\n", a+b, a, b, sweep.ReportMarkdown)
			}
			if n := len(rep.Duplicates); n > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "mixft: warning: %d run directories repeat a run found elsewhere; counted once\n", n)
			}
			return nil
		},
	}
	return cmd
}

// errRunDone: in manifest mode, the run is already finished.
var errRunDone = errors.New("run already finished")

// manifestKeys are the settings finetune --manifest takes from the command
// line; every other one comes from the manifest line.
var manifestKeys = map[string]bool{"output_dir": true, "resume": true, "overwrite": true, "threads": true, "device": true}

// addManifestFlags gives finetune --manifest and --index.
func addManifestFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("manifest", "", "run line --index of this sweep manifest (mixft sweep plan) into <--output-dir>/<run id>")
	f.Int("index", -1, "the manifest line to run, from 0 (default: $SLURM_ARRAY_TASK_ID, else $JOB_COMPLETION_INDEX)")
}

// manifestIndex is --index, else SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX.
func manifestIndex(s *settings) (int, error) {
	if s.isSet("index") {
		i := s.Int("index")
		if err := s.Err(); err != nil {
			return 0, err
		}
		if i < 0 {
			return 0, fmt.Errorf("%s: %d is not a manifest line (0 or more)", s.source("index"), i)
		}
		return i, nil
	}
	for _, env := range []string{"SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"} {
		if v, ok := os.LookupEnv(env); ok {
			i, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || i < 0 {
				return 0, fmt.Errorf("environment variable %s: %q is not a manifest line (0 or more)", env, v)
			}
			return i, nil
		}
	}
	return 0, fmt.Errorf("--manifest needs --index N (or SLURM_ARRAY_TASK_ID, or JOB_COMPLETION_INDEX)")
}

// manifestConfig is finetune's configuration in manifest mode: line
// --index of --manifest, written to <--output-dir, default the manifest's
// directory>/<id>, resumed or restarted as its directory requires.
func manifestConfig(s *settings, manifest string, stdout, stderr io.Writer) (config.Run, error) {
	var cfg config.Run
	if s.file != "" {
		return cfg, fmt.Errorf("--config %s: not allowed with --manifest (the run's settings come from the manifest)", s.file)
	}
	for _, fd := range config.Fields() {
		if !manifestKeys[fd.Key] && s.isSet(fd.Key) {
			return cfg, fmt.Errorf("%s: not allowed with --manifest (the run's settings come from the manifest; change the sweep file and plan it again)", s.source(fd.Key))
		}
	}
	index, err := manifestIndex(s)
	if err != nil {
		return cfg, err
	}
	run, err := sweep.ReadManifestRun(manifest, index)
	if err != nil {
		return cfg, err
	}
	cfg = run.Config
	out := filepath.Dir(manifest)
	if s.isSet("output_dir") {
		out = s.String("output_dir")
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return cfg, fmt.Errorf("--output-dir %s: %v", out, err)
	}
	cfg.OutputDir = filepath.Join(abs, run.ID)
	if s.isSet("threads") {
		cfg.Threads = s.Int("threads")
	}
	if s.isSet("device") {
		cfg.Device = s.String("device")
	}
	cfg.Resume, cfg.Overwrite = s.Bool("resume"), s.Bool("overwrite")
	if err := s.Err(); err != nil {
		return cfg, err
	}
	what := fmt.Sprintf("manifest %s line %d: run %s (%s)", manifest, index, run.ID, sweep.Describe(cfg))
	if !cfg.Resume && !cfg.Overwrite {
		switch st := sweep.DirState(cfg.OutputDir); st {
		case sweep.Finished:
			fmt.Fprintf(stdout, "%s: already finished in %s\n", what, cfg.OutputDir)
			return cfg, errRunDone
		case sweep.Diverged:
			return cfg, &exitError{exitDiverged, fmt.Errorf("%s: diverged in an earlier attempt (%s); a failed run is not retried", what, filepath.Join(cfg.OutputDir, "metrics.json"))}
		case sweep.Interrupted:
			cfg.Resume = true
		case sweep.Partial:
			cfg.Overwrite = true
		}
	}
	mode := "start"
	switch {
	case cfg.Resume:
		mode = "resume"
	case cfg.Overwrite:
		mode = "start afresh"
	}
	fmt.Fprintf(stderr, "mixft: %s: %s in %s\n", what, mode, cfg.OutputDir)
	return cfg, cfg.Validate()
}
