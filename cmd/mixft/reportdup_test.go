package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDir copies the regular files of src into a new directory dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dst, 0o755)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644)
	}
}

// TestReportCountsARunMadeTwiceOnce: the new user's case. Seed 1 of a grid
// ran on a laptop and again on a cluster, from copies of one checkpoint at
// other paths (other run ids); `sweep report laptop cluster` counts it
// once, warns naming both directories, and prints the table.
func TestReportCountsARunMadeTwiceOnce(t *testing.T) {
	needShared(t)
	root := t.TempDir()
	toy := toyModel(t, "rte")
	data := smallRTE(t, 16)
	for _, c := range []struct{ where, seed string }{{"laptop", "1"}, {"laptop", "2"}, {"cluster", "1"}} {
		model := filepath.Join(root, c.where+"-models", "bert")
		if _, err := os.Stat(model); err != nil {
			copyDir(t, toy, model)
		}
		out := filepath.Join(root, c.where, "seed"+c.seed)
		if code, _, stderr := mixft(t, "finetune", "--model", model, "--task", "rte", "--data-dir", data, "--output-dir", out,
			"--max-steps", "2", "--eval-steps", "2", "--batch-size", "8", "--max-seq-length", "16", "--seed", c.seed); code != 0 {
			t.Fatalf("finetune %s seed %s: %s", c.where, c.seed, stderr)
		}
	}
	laptop, cluster := filepath.Join(root, "laptop"), filepath.Join(root, "cluster")
	code, stdout, stderr := mixft(t, "sweep", "report", laptop, cluster)
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	lines := strings.Split(stdout, "\n")
	if !strings.HasPrefix(lines[0], "task  strategy  mixout  dropout  wd to  metric") || !strings.HasPrefix(lines[1], "rte ") ||
		!strings.Contains(stdout, "2 runs in 1 groups") {
		t.Errorf("stdout:\n%s", stdout)
	}
	want := "mixft: warning: duplicate run, counted once: " + filepath.Join(cluster, "seed1") + " repeats " + filepath.Join(laptop, "seed1")
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}
