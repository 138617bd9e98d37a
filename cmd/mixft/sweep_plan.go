package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// sweepPlanOptions are sweep plan's settings.
type sweepPlanOptions struct {
	common
	file string
	sets []string
}

// newSweepPlanCmd returns the sweep plan command; runF, when not nil, runs
// instead of runSweepPlan.
func newSweepPlanCmd(runF func(*sweepPlanOptions) error) *cobra.Command {
	if runF == nil {
		runF = runSweepPlan
	}
	o := &sweepPlanOptions{}
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
		RunE: runArgsE(o, func(args []string) { o.file = args[0] }, runF),
	}
	addSetFlag(cmd, &o.sets)
	bindSettings(cmd)
	return cmd
}

// runSweepPlan prints the manifest.
func runSweepPlan(o *sweepPlanOptions) error {
	pl, err := loadPlan(o.file, o.sets, o.settings)
	if err != nil {
		return err
	}
	if err := pl.WriteManifest(o.stdout); err != nil {
		return err
	}
	note := ""
	if pl.Merged > 0 {
		note = fmt.Sprintf(" (%d grid points repeat a run and are merged)", pl.Merged)
	}
	fmt.Fprintf(o.stderr, "%s: %d runs%s\n", o.file, len(pl.Runs), note)
	return nil
}
