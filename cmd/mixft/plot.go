package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/curves"
)

// plotOptions are the plot command's settings.
type plotOptions struct {
	// RunDir is the run directory to read; OutDir where the figures go
	// ("" = RunDir).
	RunDir, OutDir string
}

func newPlotCmd() *cobra.Command {
	opts := &plotOptions{}
	cmd := &cobra.Command{
		Use:   "plot RUN_DIR",
		Short: "Draw a run's training curves (curves.svg and curves.png)",
		Long: `plot reads a run directory's log.jsonl and metrics.json and draws the
training loss (raw, and smoothed as TensorBoard smooths it), the learning
rate, the gradient norm, the dev metric and (when the run recorded it) the
dev loss against the optimizer step, with the best checkpoint marked. It
writes curves.svg and curves.png into the run directory (or --out). A run
still in progress can be plotted: what it has logged so far is drawn.`,
		Example: `  mixft plot runs/rte-mixout
  mixft plot runs/rte-mixout --out figures/rte-mixout`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunDir = args[0]
			return runPlot(opts, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&opts.OutDir, "out", "", "directory for curves.svg and curves.png (default: RUN_DIR)")
	return cmd
}

func runPlot(opts *plotOptions, stdout io.Writer) error {
	r, err := curves.Read(opts.RunDir)
	if err != nil {
		return err
	}
	out := opts.OutDir
	if out == "" {
		out = opts.RunDir
	}
	paths, err := r.Write(out)
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return nil
}
