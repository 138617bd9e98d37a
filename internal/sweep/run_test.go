package sweep

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPrepareLine: a manifest line runs in <out dir>/<id>, started,
// resumed, started afresh, skipped or refused as its directory's state
// calls for, with the machine's settings applied and no others allowed.
func TestPrepareLine(t *testing.T) {
	plan := eightRuns(t)
	dir := t.TempDir()
	manifest := filepath.Join(dir, ManifestFile)
	if err := os.WriteFile(manifest, plan.Manifest(), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := func(i int) string { return filepath.Join(dir, plan.Runs[i].ID) }
	fakeRun(t, runDir(1), plan.Runs[1].Config, 0.7, nil)
	fakeRun(t, runDir(2), plan.Runs[2].Config, 0.7, map[string]any{"steps": 3, "failed": true, "failure": "diverged at step 3"})
	fakeInterrupted(t, runDir(3))
	os.MkdirAll(runDir(4), 0o755)
	os.WriteFile(filepath.Join(runDir(4), "log.jsonl"), nil, 0o644)
	for i, want := range []Decision{Start, Skip, Refuse, Resume, Restart} {
		lr, err := PrepareLine(manifest, i, "", map[string]any{"threads": 3})
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		c := lr.Run.Config
		if lr.Decision != want || c.OutputDir != runDir(i) || c.Threads != 3 || c.Resume != (want == Resume) || c.Overwrite != (want == Restart) {
			t.Errorf("line %d: %s, %+v; want %s", i, lr.Decision, c, want)
		}
	}
	// The user's resume or overwrite wins over the directory's state.
	if lr, err := PrepareLine(manifest, 1, dir, map[string]any{"overwrite": true}); err != nil || lr.Decision != Restart {
		t.Errorf("overwrite a finished run: %v %v", lr.Decision, err)
	}
	if _, err := PrepareLine(manifest, 0, "", map[string]any{"lr": 1.0}); err == nil {
		t.Error("a hashed setting was given locally")
	}
}

func TestIndexFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		env    map[string]string
		want   int
		ok, er bool
	}{
		{map[string]string{}, 0, false, false},
		{map[string]string{"JOB_COMPLETION_INDEX": "4"}, 4, true, false},
		{map[string]string{"SLURM_ARRAY_TASK_ID": " 2 ", "JOB_COMPLETION_INDEX": "4"}, 2, true, false},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "x"}, 0, true, true},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "-1"}, 0, true, true},
	} {
		i, ok, err := IndexFromEnv(env(tc.env))
		if i != tc.want || ok != tc.ok || (err != nil) != tc.er {
			t.Errorf("%v: %d %v %v", tc.env, i, ok, err)
		}
	}
}
