package emit

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/mixft/mixft/internal/exitcode"
	"github.com/mixft/mixft/internal/sweep"
)

// SlurmOptions describe the sbatch job array of a sweep.
type SlurmOptions struct {
	// JobName is the job's name; Source the sweep it came from.
	JobName, Source string
	// Manifest and OutDir are paths as the compute nodes see them.
	Manifest, OutDir string
	// Runs is the number of manifest lines; Throttle the most array tasks
	// running at once.
	Runs, Throttle int
	// CPUs per task (also each run's threads), Time limit, Mem and
	// Partition ("": the cluster's default).
	CPUs            int
	Time, Mem, Part string
	// GPU gives each task one GPU (--gres=gpu:1, device cuda:0).
	GPU bool
	// Mixft is the mixft binary on the cluster; Command gives its
	// arguments.
	Mixft   string
	Command sweep.Command
	// Extra are further sbatch options ("--account=proj").
	Extra []string
}

// Placeholders for the words of the Slurm command line that the script
// expands (no user value holds a NUL byte).
const (
	indexWord   = "\x00index"
	threadsWord = "\x00threads"
)

// Slurm writes an sbatch script running the manifest as a job array:
// task i runs line i of the manifest. A task that was interrupted
// (exitcode.Interrupted: SIGTERM before the time limit or at preemption,
// state saved) requeues itself and resumes; a diverged run
// (exitcode.Diverged) is a failed run and is not retried; any other
// failure is left to the user (sacct shows the exit code; the output is in
// OutDir/slurm/).
//
// Every value is data: each is checked against what sbatch takes (job
// name, --time, --mem and --partition formats of sbatch(1)) and refused
// when no quoting could keep it one word of an #SBATCH line (control
// characters, a backslash); each is then quoted with shellQuote, and every
// word of the command line is. A bad option is a *config.FieldError of its
// key (name, throttle, cpus, time, mem, partition, output_dir, mixft,
// sbatch).
func Slurm(o SlurmOptions) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	if o.Mixft == "" {
		o.Mixft = "mixft"
	}
	inv := sweep.Invocation{Manifest: o.Manifest, Index: indexWord, OutDir: o.OutDir, Threads: threadsWord}
	if o.GPU {
		inv.Device = "cuda:0"
	}
	command := []string{`"$MIXFT"`}
	for _, w := range o.Command(inv) {
		switch {
		case w == indexWord:
			w = `"$index"`
		case w == threadsWord:
			w = fmt.Sprintf(`"${SLURM_CPUS_PER_TASK:-%d}"`, o.CPUs)
		case strings.ContainsRune(w, 0):
			return "", fmt.Errorf("slurm: the command word %q holds a placeholder inside it", w)
		default:
			w = shellQuote(w)
		}
		command = append(command, w)
	}

	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("#!/bin/bash")
	// Single-quoted values are data, never expanded: what SC2016 warns of.
	p("# shellcheck disable=SC2016")
	p("# mixft sweep %s: %d runs, at most %d at a time (job array %d-%d, throttle %%%d).", o.Source, o.Runs, o.Throttle, 0, o.Runs-1, o.Throttle)
	p("# Written by mixft sweep emit. Submit with: sbatch THIS_FILE")
	p("# Array task i runs line i of the manifest into %s/<run id>.", o.OutDir)
	p("# Exit status of a task: %d done (or already done), %d interrupted with its state", exitcode.OK, exitcode.Interrupted)
	p("# saved: the task requeues itself and resumes, %d diverged: a failed run, not", exitcode.Diverged)
	p("# retried, %d error: see %s/slurm/<job>_<task>.out.", exitcode.Error, o.OutDir)
	p("# When every task has ended: mixft sweep report %s", o.OutDir)
	p("# (chain it with sbatch --dependency=afterany:<job id>).")
	p("#SBATCH --job-name=%s", shellQuote(o.JobName))
	p("#SBATCH --array=0-%d%%%d", o.Runs-1, o.Throttle)
	p("#SBATCH --output=%s%%A_%%a.out", shellQuote(o.OutDir+"/slurm/"))
	p("#SBATCH --open-mode=append")
	p("#SBATCH --ntasks=1")
	p("#SBATCH --cpus-per-task=%d", o.CPUs)
	if o.Time != "" {
		p("#SBATCH --time=%s", shellQuote(o.Time))
	}
	if o.Mem != "" {
		p("#SBATCH --mem=%s", shellQuote(o.Mem))
	}
	if o.Part != "" {
		p("#SBATCH --partition=%s", shellQuote(o.Part))
	}
	if o.GPU {
		p("#SBATCH --gres=gpu:1")
	}
	p("#SBATCH --requeue")
	p("# SIGTERM 120 s before the time limit: the run saves its state and exits %d.", exitcode.Interrupted)
	p("#SBATCH --signal=B:TERM@120")
	for _, e := range o.Extra {
		// Written as given: an sbatch option in sbatch's own syntax.
		p("#SBATCH %s", e)
	}
	p("")
	p("set -u")
	p("mkdir -p %s", shellQuote(o.OutDir+"/slurm"))
	p("MIXFT=${MIXFT:-%s}", shellQuote(o.Mixft))
	p(`index=${SLURM_ARRAY_TASK_ID:?run this script with sbatch (it is a job array)}`)
	p(`%s &`, strings.Join(command, " "))
	p(`pid=$!`)
	p(`# Pass SIGTERM/SIGINT on to the run, then wait for it to save its state.`)
	p(`trap 'kill -TERM "$pid" 2>/dev/null' TERM INT`)
	p(`while :; do`)
	p(`  wait "$pid"`)
	p(`  rc=$?`)
	p(`  kill -0 "$pid" 2>/dev/null || break`)
	p(`done`)
	p(`case $rc in`)
	p(`  %d)`, exitcode.Interrupted)
	p(`    # Requeue the task unless Slurm already did (preemption, scontrol requeue:`)
	p(`    # the task is then no longer RUNNING, and a second requeue is refused).`)
	p(`    state=$(squeue -h -j "$SLURM_JOB_ID" -o %%T 2>/dev/null)`)
	p(`    case $state in`)
	p(`      RUNNING | "")`)
	p(`        echo "mixft: run $index interrupted with its state saved; requeueing to resume it"`)
	p(`        scontrol requeue "$SLURM_JOB_ID"`)
	p(`        ;;`)
	p(`      *)`)
	p(`        echo "mixft: run $index interrupted with its state saved; requeued by Slurm ($state), it resumes when it starts again"`)
	p(`        ;;`)
	p(`    esac`)
	p(`    ;;`)
	p(`  %d)`, exitcode.Diverged)
	p(`    echo "mixft: run $index diverged: a failed run (counted by mixft sweep report), not retried"`)
	p(`    ;;`)
	p(`esac`)
	p(`exit "$rc"`)
	return b.String(), nil
}

// JobName derives a Kubernetes/Slurm job name from a sweep file name:
// "configs/sweeps/fig3.yaml" gives "mixft-fig3".
func JobName(source string) string {
	base := strings.TrimSuffix(path.Base(strings.ReplaceAll(source, "\\", "/")), path.Ext(source))
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	name := strings.Trim(regexp.MustCompile(`-+`).ReplaceAllString(b.String(), "-"), "-")
	if name == "" || name == "manifest" {
		name = "sweep"
	}
	name = "mixft-" + name
	if len(name) > 52 {
		name = strings.TrimRight(name[:52], "-")
	}
	return name
}
