package sweep

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSlurmScript: the sbatch script is valid bash (bash -n), runs the
// array with the throttle, requeues on exit 3, and quotes paths.
func TestSlurmScript(t *testing.T) {
	s, err := Slurm(SlurmOptions{JobName: "mixft-fig3", Source: "fig3.yaml", Manifest: "/scratch/my runs/manifest.jsonl", OutDir: "/scratch/my runs",
		Runs: 320, Throttle: 16, CPUs: 8, Time: "04:00:00", Mem: "32G", Part: "gpu", GPU: true, Mixft: "/opt/mixft/bin/mixft", Extra: []string{"--account=proj"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#!/bin/bash\n", "#SBATCH --array=0-319%16\n", "#SBATCH --cpus-per-task=8\n", "#SBATCH --time=04:00:00\n",
		"#SBATCH --gres=gpu:1\n", "#SBATCH --requeue\n", "#SBATCH --account=proj\n", "#SBATCH --signal=B:TERM@120\n",
		`--manifest '/scratch/my runs/manifest.jsonl' --index "$index" --output-dir '/scratch/my runs'`, "--device cuda:0",
		`squeue -h -j "$SLURM_JOB_ID" -o %T`, `scontrol requeue "$SLURM_JOB_ID"`, "  3)\n", "  4)\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	bashN(t, s)
	if _, err := Slurm(SlurmOptions{Runs: 3, Throttle: 0, CPUs: 1}); err == nil || !strings.Contains(err.Error(), "--throttle") {
		t.Errorf("throttle 0: %v", err)
	}
}

func bashN(t *testing.T, script string) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	path := filepath.Join(t.TempDir(), "job.sbatch")
	os.WriteFile(path, []byte(script), 0o755)
	if out, err := exec.Command(bash, "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v: %s", err, out)
	}
}

func TestJobName(t *testing.T) {
	for in, want := range map[string]string{"configs/sweeps/fig3.yaml": "mixft-fig3", "My Sweep_2.yml": "mixft-my-sweep-2", "runs/x/manifest.jsonl": "mixft-sweep"} {
		if got := JobName(in); got != want {
			t.Errorf("JobName(%q) = %q, want %q", in, got, want)
		}
	}
}
