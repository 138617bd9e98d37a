package sweep

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

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

// LineRun is one line of a manifest made ready to run on this machine.
type LineRun struct {
	// Run is the manifest's run; its Config has OutputDir, and Resume or
	// Overwrite as the Decision requires.
	Run Run
	// Decision is what the run's directory calls for.
	Decision Decision
}

// PrepareLine reads line index of a manifest and places the run in
// <outDir>/<run id> (outDir "": the manifest's folder). local holds the
// settings this machine gives (only Unhashed keys: they do not change
// what the run computes); resume and overwrite among them force that
// decision, else the directory's state decides (Decide). The
// configuration is validated; a bad setting is a *config.FieldError.
func PrepareLine(manifest string, index int, outDir string, local map[string]any) (LineRun, error) {
	run, err := ReadManifestRun(manifest, index)
	if err != nil {
		return LineRun{}, err
	}
	if outDir == "" {
		outDir = filepath.Dir(manifest)
	}
	abs, err := filepath.Abs(outDir)
	if err != nil {
		return LineRun{}, fmt.Errorf("output directory %s: %v", outDir, err)
	}
	cfg := &run.Config
	for k, v := range local {
		if k == "output_dir" || !slices.Contains(Unhashed, k) {
			return LineRun{}, fmt.Errorf("setting %s comes from the manifest", k)
		}
		if err := cfg.Set(k, v); err != nil {
			return LineRun{}, err
		}
	}
	cfg.OutputDir = filepath.Join(abs, run.ID)
	d := Decide(cfg.OutputDir, cfg.Resume, cfg.Overwrite)
	cfg.Resume = cfg.Resume || d == Resume
	cfg.Overwrite = cfg.Overwrite || d == Restart
	return LineRun{Run: run, Decision: d}, cfg.Validate()
}
