package schedule

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/plan"
)

// LineRun is one line of a manifest made ready to run on this machine.
type LineRun struct {
	// Run is the manifest's run; its Config has OutputDir, and Resume or
	// Overwrite as the Decision requires.
	Run plan.Run
	// Decision is what the run's directory calls for.
	Decision sweep.Decision
}

// PrepareLine reads line index of a manifest and places the run in
// <outDir>/<run id> (outDir "": the manifest's folder). local holds the
// settings this machine gives (only sweep.Unhashed keys: they do not change
// what the run computes); resume and overwrite among them force that
// decision, else the directory's state decides (sweep.Decide). The
// configuration is validated; a bad setting is a *config.FieldError.
func PrepareLine(manifest string, index int, outDir string, local map[string]any) (LineRun, error) {
	run, err := plan.ReadManifestRun(manifest, index)
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
		if k == "output_dir" || !slices.Contains(sweep.Unhashed, k) {
			return LineRun{}, fmt.Errorf("setting %s comes from the manifest", k)
		}
		if err := cfg.Set(k, v); err != nil {
			return LineRun{}, err
		}
	}
	cfg.OutputDir = filepath.Join(abs, run.ID)
	d := sweep.Decide(cfg.OutputDir, cfg.Resume, cfg.Overwrite)
	cfg.Resume = cfg.Resume || d == sweep.Resume
	cfg.Overwrite = cfg.Overwrite || d == sweep.Restart
	return LineRun{Run: run, Decision: d}, cfg.Validate()
}
