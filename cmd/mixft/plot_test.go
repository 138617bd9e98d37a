package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A finished run plots into its directory, and elsewhere with --out.
func TestPlotRun(t *testing.T) {
	needShared(t)
	out := filepath.Join(t.TempDir(), "run")
	code, _, stderr := mixft(t, "finetune", "--task", "rte", "--model", toyModel(t, "rte"),
		"--data-dir", filepath.Join(shared, "glue", "RTE"), "--output-dir", out,
		"--max-steps", "4", "--eval-steps", "2", "--batch-size", "8", "--max-seq-length", "32",
		"--max-train-examples", "32", "--max-eval-examples", "16")
	if code != 0 {
		t.Fatalf("finetune: exit %d: %s", code, stderr)
	}
	figs := filepath.Join(t.TempDir(), "figs")
	for _, args := range [][]string{{"plot", out}, {"plot", out, "--out", figs}} {
		code, stdout, stderr := mixft(t, args...)
		dir := args[len(args)-1]
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		for _, name := range []string{"curves.svg", "curves.png"} {
			p := filepath.Join(dir, name)
			if !strings.Contains(stdout, "wrote "+p) {
				t.Errorf("%v: stdout %q does not name %s", args, stdout, p)
			}
		}
		f, err := os.Open(filepath.Join(dir, "curves.png"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%v: curves.png: %v", args, err)
		}
		svg, _ := os.ReadFile(filepath.Join(dir, "curves.svg"))
		if !strings.Contains(string(svg), "best checkpoint (step ") || !strings.Contains(string(svg), "dev accuracy") {
			t.Errorf("%v: curves.svg lacks the best checkpoint or the dev accuracy", args)
		}
	}
}

func TestPlotNotARunDir(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := mixft(t, "plot", dir)
	want := "mixft: " + filepath.Join(dir, "log.jsonl") + ": no such file or directory (is " + dir + " a run directory?)\n"
	if code == 0 || stderr != want {
		t.Errorf("exit %d, stderr %q; want %q", code, stderr, want)
	}
}
