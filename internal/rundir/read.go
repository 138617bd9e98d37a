package rundir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/fsutil"
)

// ReadMetrics reads dir/metrics.json.
func ReadMetrics(dir string) (*MetricsRecord, error) {
	raw, err := fsutil.ReadFile(filepath.Join(dir, MetricsFile), fsutil.MaxConfig)
	if err != nil {
		return nil, err
	}
	var m MetricsRecord
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Diverged reports whether metrics.json records a diverged run.
func (m *MetricsRecord) Diverged() bool {
	if m.Status != "" {
		return m.Status == StatusDiverged
	}
	return strings.HasPrefix(m.Failure, "diverged") // written before status existed
}

// Finished reports whether metrics.json records a complete run.
func (m *MetricsRecord) Finished() bool {
	if m.Status != "" {
		return m.Status == StatusFinished
	}
	return m.TotalSteps > 0 && m.Steps >= m.TotalSteps // written before status existed
}

// HasFailed reports whether metrics.json records a failed run (a final
// score at or below the majority-class baseline, or a diverged loss).
func (m *MetricsRecord) HasFailed() bool { return m.Failed != nil && *m.Failed }

// ResumeDefaults are the settings of the run in dir as it was requested
// (its config.yaml, config.ReadRunYAML: the top level overridden by the
// requested: block), for --resume to continue it with nothing else given:
// every setting except output_dir, resume and overwrite, by key. Resolving
// them again gives the run's settings, the ones its trainer_state.json
// holds; the resolved values (a checkpoint's dropout, the total steps)
// would be another run. It is nil when dir holds no run settings (a run
// killed before it wrote them), an error when dir does not exist.
func ResumeDefaults(dir string) (map[string]any, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("resume: output_dir %s: %w", dir, errors.Unwrap(err))
	}
	saved, _, err := config.ReadRunYAML(filepath.Join(dir, ConfigFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	m := saved.Map()
	for _, k := range []string{"output_dir", "resume", "overwrite"} {
		delete(m, k)
	}
	return m, nil
}
