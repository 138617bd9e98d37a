package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/sweep/report"
)

// sweepReportOptions are sweep report's settings: the run directories.
type sweepReportOptions struct {
	common
	dirs []string
}

// newSweepReportCmd returns the sweep report command; runF, when not nil,
// runs instead of runSweepReport.
func newSweepReportCmd(runF func(*sweepReportOptions) error) *cobra.Command {
	if runF == nil {
		runF = runSweepReport
	}
	o := &sweepReportOptions{}
	cmd := &cobra.Command{
		Use:   "report DIR [DIR...]",
		Short: "Tables and plots of the dev scores of a sweep's runs: mean, std, median, min, max and failed runs per group",
		Long: `report reads every run directory (config.yaml and metrics.json) under the
given directories, so results of several machines or clusters merge
(unfinished runs are listed and left out, interrupted ones apart from the
others), prints the table of groups, and writes into the first DIR:

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
  dev-curves-<task>.svg/.png    per group, every run's dev score at each
      evaluation against the step, overlaid (failed runs in red)

Groups: runs sharing task, strategy, mixout, dropout and
weight_decay_target; any other setting that differs between the runs of such
a group (lr, output_layer, weight_decay, ...) joins the key, except the seed
(its runs are the restarts), the paths (model, data_dir) and how runs were
executed or kept (threads, device, save_best, save_total_limit,
save_only_model).
A run failed when its final dev score is at or below the majority-class
baseline of the dev set, its loss diverged, or its score is undefined (NaN);
statistics are over the runs with a score.

A run found twice counts once, with a warning naming both directories: two
run directories are one run when they compute the same thing, that is when
their settings are equal leaving out where things lie and how the run was
executed (model, data_dir and the data files' paths, output_dir, threads,
device, logging_steps, report_to, save_best, save_total_limit,
save_only_model) and their checkpoint and data are the same by content:
metrics.json records the SHA-256 of the model directory's config.json,
weights and tokenizer files (model_sha256) and of the train and dev files
(data_sha256). So a grid run on a laptop and again on a cluster, from copies
of one checkpoint at other paths (other run ids), counts each seed once.
Runs of mixft versions that recorded no fingerprints are one run when their
paths are equal too; equal but for the paths, both count and a warning
names them as maybe the same run. report.json lists both kinds
(duplicates, lookalikes) with the two scores.`,
		Example: `  mixft sweep report runs/fig3
  mixft sweep report runs/fig4 /mnt/cluster/runs/fig4    # merge two machines' runs; writes into runs/fig4
  # task  strategy  mixout  dropout  wd to  metric    runs  failed  mean    std     median  min     max
  # rte   mixout    0.7     model's  zero   accuracy  20    1       0.7043  0.0212  0.7076  0.6498  0.7329
  # mixft: warning: duplicate run, counted once: /mnt/cluster/runs/fig4/9c1e0a2b3d4f repeats runs/fig4/41be3f2a9c0d (scores 0.7076 and 0.7076)`,
		Args: cobra.MinimumNArgs(1),
		RunE: runArgsE(o, func(args []string) { o.dirs = args }, runF),
	}
	return cmd
}

// runSweepReport writes the report into the first directory.
func runSweepReport(o *sweepReportOptions) error {
	rep, err := report.Collect(o.dirs)
	if err != nil {
		return err
	}
	if err := rep.Write(o.dirs[0]); err != nil {
		return err
	}
	runs, failed := 0, 0
	for _, g := range rep.Groups {
		runs += g.Runs
		failed += g.Failed
	}
	w := o.stdout
	if err := rep.WriteText(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d runs in %d groups (%d failed); wrote %s, %s, %s", runs, len(rep.Groups), failed,
		report.MarkdownFile, report.CSVFile, report.JSONFile)
	for _, f := range rep.Figures {
		fmt.Fprintf(w, ", %s.svg/.png", f.Name)
	}
	fmt.Fprintf(w, " in %s\n", o.dirs[0])
	if a, b := len(rep.Interrupted), len(rep.Incomplete); a+b > 0 {
		o.warn(fmt.Sprintf("%d unfinished runs left out: %d interrupted (resumable), %d other (listed in %s)", a+b, a, b, report.MarkdownFile))
	}
	for _, l := range rep.DuplicateLines(rep.Duplicates) {
		o.warn("duplicate run, counted once: " + l)
	}
	for _, l := range rep.DuplicateLines(rep.Lookalikes) {
		o.warn("maybe the same run twice (settings equal but for the checkpoint's or data's path; no fingerprints recorded to tell), both counted: " + l)
	}
	return nil
}
