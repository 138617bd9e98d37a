package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/curves"
)

// plotOptions are plot's settings.
type plotOptions struct {
	common
	// runDir is the run directory to read; outDir where the figures go
	// ("" = runDir).
	runDir, outDir string
}

// newPlotCmd returns the plot command; runF, when not nil, runs instead of
// runPlot.
func newPlotCmd(runF func(*plotOptions) error) *cobra.Command {
	if runF == nil {
		runF = runPlot
	}
	o := &plotOptions{}
	cmd := &cobra.Command{
		Use:   "plot RUN_DIR",
		Short: "Draw a run's training curves (curves.svg and curves.png)",
		Long: `plot reads a run directory's log.jsonl and metrics.json and draws the
training loss (raw, and smoothed as TensorBoard smooths it), the learning
rate, the gradient norm, the dev metric and (when the run recorded it) the
dev loss against the optimizer step, with the best checkpoint marked. It
writes curves.svg and curves.png into the run directory (or --out). A run
still in progress can be plotted: what it has logged so far is drawn.
finetune draws them at the end of every run.`,
		Example: `  mixft plot runs/rte-mixout
  mixft plot runs/rte-mixout --out figures/rte-mixout`,
		Args: cobra.ExactArgs(1),
		RunE: runArgsE(o, func(args []string) { o.runDir = args[0] }, runF),
	}
	cmd.Flags().StringVar(&o.outDir, "out", "", "directory for curves.svg and curves.png (default: RUN_DIR)")
	bindSettings(cmd)
	return cmd
}

// runPlot draws the run's curves.
func runPlot(o *plotOptions) error {
	r, err := curves.Read(o.runDir)
	if err != nil {
		return err
	}
	out := o.outDir
	if out == "" {
		out = o.runDir
	}
	paths, err := r.Write(out)
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintf(o.stdout, "wrote %s\n", p)
	}
	return nil
}
