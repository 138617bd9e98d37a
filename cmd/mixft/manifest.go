package main

import "github.com/mixft/mixft/internal/sweep"

// The command line of one sweep run, shared by finetune, which takes it,
// and the sweep commands, which start it (sweep run) or write it into
// cluster jobs (sweep emit).

// Flags of finetune's manifest mode.
const (
	manifestFlag = "manifest"
	indexFlag    = "index"
)

// manifestRunArgs is mixft's sweep.Command: the finetune arguments that run
// one line of a manifest. Each word of inv is one argument, as it is: the
// Slurm script quotes every word (its index and threads stand in for the
// shell expansions), the Kubernetes Job and sweep run pass them as argv.
func manifestRunArgs(inv sweep.Invocation) []string {
	args := []string{"finetune", "--" + manifestFlag, inv.Manifest}
	if inv.Index != "" {
		args = append(args, "--"+indexFlag, inv.Index)
	}
	args = append(args, "--"+flagName("output_dir"), inv.OutDir)
	if inv.Resume {
		args = append(args, "--"+flagName("resume"))
	}
	if inv.Overwrite {
		args = append(args, "--"+flagName("overwrite"))
	}
	if inv.Threads != "" {
		args = append(args, "--"+flagName("threads"), inv.Threads)
	}
	if inv.Device != "" {
		args = append(args, "--"+flagName("device"), inv.Device)
	}
	return args
}
