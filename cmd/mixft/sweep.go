package main

import "github.com/spf13/cobra"

// newSweepCmd returns the sweep command, the parent of plan, run, emit and
// report (sweep_*.go; what they share is in sweep_shared.go).
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
plots). configs/sweeps/ holds the paper's grids. Their settings resolve as
every command's do: flags, then MIXFT_* (MIXFT_WORKERS for --workers;
MIXFT_SET holds one key=value per line), then the --config YAML file (keys
as the flag names with _ for -; set: a list of key=value), then defaults.`,
		Example: `  mixft sweep plan configs/sweeps/fig4.yaml --set model=models/bert-large-uncased --set data_dir=glue_data/{task_dir}
  mixft sweep run configs/sweeps/fig3.yaml --output-dir runs/fig3 --workers 2 --set model=models/bert-large-uncased --set data_dir=glue_data/{task_dir}
  mixft sweep emit --slurm configs/sweeps/fig3.yaml --output-dir /scratch/runs/fig3 --throttle 16 > fig3.sbatch
  mixft sweep report runs/fig3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSweepPlanCmd(nil), newSweepRunCmd(nil), newSweepEmitCmd(nil), newSweepReportCmd(nil))
	return cmd
}
