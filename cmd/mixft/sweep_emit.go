package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/emit"
)

// sweepEmitOptions are sweep emit's settings.
type sweepEmitOptions struct {
	common
	file                         string
	slurm, k8s, gpu              bool
	outputDir, name, mixft       string
	throttle, cpus               int
	time, mem, partition         string
	sbatch                       []string
	image, pvc, mount, namespace string
	parallelism, retries         int
	cpu, memory, manifestPath    string
	sets                         []string
}

// newSweepEmitCmd returns the sweep emit command; runF, when not nil, runs
// instead of runSweepEmit.
func newSweepEmitCmd(runF func(*sweepEmitOptions) error) *cobra.Command {
	if runF == nil {
		runF = runSweepEmit
	}
	o := &sweepEmitOptions{}
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
against backoffLimitPerIndex (--retries). Needs Kubernetes 1.29 or newer
(backoffLimitPerIndex and FailIndex: beta, on by default, in 1.29; GA in 1.33).

What emit writes is data, never code: every value is checked before anything
is written, and refused with one line naming its flag when it holds a control
character (newline, tab, ...) or when Slurm or Kubernetes would not take it.
Slurm: --name letters, digits, '.', '_', '+', '-'; --time as sbatch --time
takes it (minutes, minutes:seconds, hours:minutes:seconds, days-hours,
days-hours:minutes, days-hours:minutes:seconds, UNLIMITED); --mem a whole
number with an optional K, M, G or T; --partition names (letters, digits,
'.', '_', '+', '-') separated by commas; --output-dir (made absolute) without
'\' or '%' (sbatch reads them in --output) or "hetjob"; --sbatch one option
starting with '-'. Every value in the script is single-quoted: it reaches
mixft as one argument, byte for byte. Kubernetes: --name (at most 52
characters) and --namespace DNS-1123 labels, --pvc a DNS-1123 subdomain,
--image an OCI image reference, --mount and --manifest-path clean absolute
paths, --output-dir one under --mount.

Whatever runs the tasks, 'mixft sweep report <output dir>' reads the results;
'mixft sweep run' on the same directory finishes what the cluster left.`,
		Example: `  mixft sweep emit --slurm configs/sweeps/fig3.yaml --output-dir /scratch/$USER/fig3 --throttle 16 --time 04:00:00 --gpu \
      --set model=/scratch/models/bert-large-uncased --set data_dir=/scratch/glue/{task_dir} > fig3.sbatch && sbatch fig3.sbatch
  mixft sweep emit --slurm configs/sweeps/fig4.yaml --output-dir "/scratch/$USER/fig 4" --time 1-12:00 --mem 32G \
      --partition gpu,gpu-long --sbatch=--account=proj --set model=... --set data_dir=... > fig4.sbatch
  mixft sweep emit --k8s configs/sweeps/fig4.yaml --output-dir /mnt/mixft/runs/fig4 --image registry.example.com/mixft:1.0 \
      --pvc mixft-data --parallelism 8 --gpu --set model=/mnt/mixft/models/bert-large-uncased \
      --set data_dir=/mnt/mixft/glue/{task_dir} | kubectl apply -f -`,
		Args: cobra.ExactArgs(1),
		RunE: runArgsE(o, func(args []string) { o.file = args[0] }, runF),
	}
	f := cmd.Flags()
	f.BoolVar(&o.slurm, "slurm", false, "print an sbatch job array script")
	f.BoolVar(&o.k8s, "k8s", false, "print a Kubernetes Indexed Job (and a ConfigMap with the manifest)")
	f.StringVar(&o.outputDir, "output-dir", "", "the sweep's directory as the jobs see it")
	f.StringVar(&o.name, "name", "", "job name (default: mixft-<sweep file name>; k8s: a DNS-1123 label, at most 52 characters)")
	f.StringVar(&o.mixft, "mixft", "mixft", "the mixft binary on the nodes or in the image")
	f.BoolVar(&o.gpu, "gpu", false, "one GPU per task (--device cuda:0)")
	f.IntVar(&o.throttle, "throttle", 8, "slurm: most array tasks running at once")
	f.IntVar(&o.cpus, "cpus", 4, "slurm: CPUs per task (also --threads)")
	f.StringVar(&o.time, "time", "", "slurm: time limit per task as sbatch --time takes it, e.g. 04:00:00 or 1-12:00")
	f.StringVar(&o.mem, "mem", "", "slurm: memory per task, a whole number with an optional K, M, G or T, e.g. 32G")
	f.StringVar(&o.partition, "partition", "", "slurm: partition, or a comma-separated list of them")
	f.StringArrayVar(&o.sbatch, "sbatch", nil, "slurm: further sbatch option, e.g. --sbatch=--account=proj (repeatable)")
	f.StringVar(&o.image, "image", "", "k8s: container image holding mixft, e.g. registry.example.com/mixft:1.0")
	f.StringVar(&o.pvc, "pvc", "", "k8s: PersistentVolumeClaim holding the model, the data and the runs")
	f.StringVar(&o.mount, "mount", "/mnt/mixft", "k8s: where the claim is mounted in the pod")
	f.StringVar(&o.namespace, "namespace", "", "k8s: namespace (a DNS-1123 label)")
	f.IntVar(&o.parallelism, "parallelism", 4, "k8s: most pods at once")
	f.StringVar(&o.cpu, "cpu", "4", "k8s: CPU request per pod (also --threads when whole)")
	f.StringVar(&o.memory, "memory", "16Gi", "k8s: memory request and limit per pod")
	f.IntVar(&o.retries, "retries", 2, "k8s: backoffLimitPerIndex, retries of an index after errors (exit 1)")
	f.StringVar(&o.manifestPath, "manifest-path", "", "k8s: the manifest's path in the pod instead of a ConfigMap (for manifests over 1 MB)")
	addSetFlag(cmd, &o.sets)
	bindSettings(cmd)
	return cmd
}

// runSweepEmit prints the Slurm script or the Kubernetes Job.
func runSweepEmit(o *sweepEmitOptions) error {
	s := o.settings
	if o.slurm == o.k8s {
		return fmt.Errorf("emit: give exactly one of --slurm and --k8s")
	}
	if o.outputDir == "" {
		return s.fieldError(&config.FieldError{Key: "output_dir", Missing: true, Expected: "the sweep's directory as the jobs see it"})
	}
	name := o.name
	if name == "" {
		name = emit.JobName(o.file)
	}
	pl, err := loadPlan(o.file, o.sets, s)
	if err != nil {
		return err
	}
	var text string
	if o.slurm {
		// The script first: a value it refuses leaves nothing written.
		dir, err := sweepAbs(o.outputDir, s)
		if err != nil {
			return err
		}
		text, err = emit.Slurm(emit.SlurmOptions{JobName: name, Source: o.file, Manifest: filepath.Join(dir, sweep.ManifestFile), OutDir: dir,
			Runs: len(pl.Runs), Throttle: o.throttle, CPUs: o.cpus, Time: o.time, Mem: o.mem, Part: o.partition, GPU: o.gpu,
			Mixft: o.mixft, Command: manifestRunArgs, Extra: o.sbatch})
		if err != nil {
			return s.fieldError(err)
		}
		_, manifest, err := sweepDir(dir, pl, o.file, s)
		if err != nil {
			return err
		}
		// sbatch needs the directory of --output before the job starts.
		if err := os.MkdirAll(filepath.Join(dir, "slurm"), 0o755); err != nil {
			return fmt.Errorf("%s: %v", s.source("output_dir"), err)
		}
		fmt.Fprintf(o.stderr, "%s: %d runs; manifest written to %s; submit the script with sbatch\n", o.file, len(pl.Runs), manifest)
	} else {
		text, err = emit.K8s(emit.K8sOptions{Name: name, Namespace: o.namespace, Source: o.file, Image: o.image, Mixft: o.mixft,
			Command: manifestRunArgs, Manifest: pl.Manifest(), ManifestPath: o.manifestPath, OutDir: o.outputDir, PVC: o.pvc,
			Mount: o.mount, Runs: len(pl.Runs), Parallelism: o.parallelism, CPU: o.cpu, Memory: o.memory, GPU: o.gpu, Retries: o.retries})
		if err != nil {
			return s.fieldError(err)
		}
		fmt.Fprintf(o.stderr, "%s: %d runs; apply with kubectl apply -f\n", o.file, len(pl.Runs))
	}
	_, err = io.WriteString(o.stdout, text)
	return err
}
