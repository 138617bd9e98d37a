package sweep

import (
	"fmt"
	"strconv"
	"strings"
)

// Invocation is one run of a manifest line as the process runner and the
// cluster jobs start it. Empty fields are left out: the run reads its
// index from its environment (IndexEnv), and takes threads and device from
// the manifest.
type Invocation struct {
	Manifest, Index, OutDir string
	Threads, Device         string
	Resume, Overwrite       bool
}

// Command turns an invocation into the arguments after the mixft binary.
// The command line owns it: the sweep packages do not know its flags. Each
// field must come out as one argument of its own, unchanged: the Slurm
// script passes placeholders for its shell expansions and quotes every
// other word itself.
type Command func(Invocation) []string

// IndexEnv are the environment variables a cluster sets to a task's index
// in its job array, looked up in this order: Slurm job arrays, Kubernetes
// Indexed Jobs.
var IndexEnv = []string{"SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"}

// IndexFromEnv reads a manifest index from the first of IndexEnv that
// lookup finds; ok is false when none is set.
func IndexFromEnv(lookup func(string) (string, bool)) (index int, ok bool, err error) {
	for _, env := range IndexEnv {
		if v, set := lookup(env); set {
			i, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || i < 0 {
				return 0, true, fmt.Errorf("environment variable %s: %q is not a manifest line (0 or more)", env, v)
			}
			return i, true, nil
		}
	}
	return 0, false, nil
}
