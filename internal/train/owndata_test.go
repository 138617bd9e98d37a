package train

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/rundir"
)

// A run saved before a setting existed resumes when the setting keeps its
// default, and is refused when it does not.
func TestResumeRunOlderThanASetting(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	cfg := resumeConfig(t, data)
	cfg.MaxSteps = 4
	if _, _, err := runTo(t, cfg, 2); err != ErrInterrupted {
		t.Fatalf("interrupt: %v", err)
	}
	path := filepath.Join(cfg.OutputDir, rundir.LastDir, rundir.StateFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var saved map[string]any
	json.Unmarshal(raw, &saved)
	conf := saved["config"].(map[string]any)
	delete(conf, "report_to")
	delete(conf, "train_file")
	raw, _ = json.Marshal(saved)
	os.WriteFile(path, raw, 0o644)

	cfg.Resume, cfg.ReportTo = true, "tensorboard"
	if _, err := New(cfg, Options{Backend: cpu.New(1)}); err == nil || !strings.Contains(err.Error(), "setting report_to is tensorboard now but none in the saved run") {
		t.Errorf("changed new setting: %v", err)
	}
	cfg.ReportTo = "none"
	if _, err := New(cfg, Options{Backend: cpu.New(1)}); err != nil {
		t.Errorf("resume of a run older than report_to and train_file: %v", err)
	}
}
