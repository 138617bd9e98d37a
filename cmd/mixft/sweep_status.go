package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/sweep/schedule"
)

// sweepStatusOptions are sweep status's settings.
type sweepStatusOptions struct {
	common
	dir, manifest string
	recent        time.Duration
	json          bool
}

// newSweepStatusCmd returns the sweep status command; runF, when not nil,
// runs instead of runSweepStatus.
func newSweepStatusCmd(runF func(*sweepStatusOptions) error) *cobra.Command {
	if runF == nil {
		runF = runSweepStatus
	}
	o := &sweepStatusOptions{}
	cmd := &cobra.Command{
		Use:   "status DIR",
		Short: "Count a sweep's runs pending, running, interrupted, finished, failed and diverged, with the step and dev score of running ones",
		Long: `status reads the sweep directory DIR (its manifest.jsonl and one directory
per run; nothing else, so it works from a login node while a cluster runs the
sweep) and counts the runs:

  pending       not started, or started without a saved state (starts again)
  running       a process holds the run's lock (<run>/.lock); or its
                metrics.json says running (or is not written yet) and its log
                or metrics changed less than --recent ago (a lock held on
                another machine may not be visible here); or it was
                interrupted and its log changed since (resumed elsewhere)
  interrupted   stopped with its state saved (the next attempt resumes):
                metrics.json says so, however recent
  finished      every step ran
  failed        every step ran; final dev score at or below the majority class
  diverged      the loss diverged (a failed run, not retried)
  corrupt       metrics.json cannot be read (the file and the error are
                printed); counted only when there is one

The run's own record comes first: a held lock, then metrics.json's status;
only a run recorded as running is judged by the age of its files.

For each running run it prints the last step logged and the last dev score.
The lock is probed with a non-blocking shared flock released at once. --json
prints the counts and every run (index, id, status, step, total_steps, dev,
dev_step, updated, error). For a Kubernetes sweep, whose manifest is in a ConfigMap,
give it with --manifest.`,
		Example: `  mixft sweep status /scratch/runs/fig3
  # /scratch/runs/fig3: 320 runs: 180 pending, 16 running, 3 interrupted, 115 finished, 5 failed, 1 diverged
  #   running  run 141 3f2a9c0d41be (rte strategy=mixout mixout=0.7 seed=2): step 412/600, dev 0.6823 at step 400
  #   corrupt  run 7 9c1e0a2b3d4f (rte strategy=dropout dropout=0.1 seed=8): /scratch/runs/fig3/9c1e0a2b3d4f/metrics.json is corrupt: unexpected end of JSON input
  mixft sweep status runs/fig4 --json | jq .counts
  mixft sweep status /mnt/mixft/runs/fig4 --manifest fig4.jsonl --recent 10m`,
		Args: cobra.ExactArgs(1),
		RunE: runArgsE(o, func(args []string) { o.dir = args[0] }, runF),
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print JSON: the counts and every run")
	f.StringVar(&o.manifest, "manifest", "", "the sweep's manifest (default: DIR/manifest.jsonl)")
	f.DurationVar(&o.recent, "recent", 5*time.Minute, "a run whose log or metrics changed this recently is running")
	bindSettings(cmd)
	return cmd
}

// runSweepStatus prints where the sweep's runs stand.
func runSweepStatus(o *sweepStatusOptions) error {
	pl, err := schedule.StatusManifest(o.dir, o.manifest)
	if err != nil {
		return err
	}
	st := schedule.ReadStatus(pl, o.dir, schedule.StatusOptions{Now: time.Now(), Recent: o.recent})
	if o.json {
		return st.WriteJSON(o.stdout)
	}
	return st.WriteText(o.stdout)
}
