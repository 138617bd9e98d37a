package sweep

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/config"
)

// finetuneArgs is a Command shaped as mixft's (cmd/mixft builds the real
// one; its tests run the scripts end to end).
func finetuneArgs(inv Invocation) []string {
	args := []string{"finetune", "--manifest", inv.Manifest}
	if inv.Index != "" {
		args = append(args, "--index", inv.Index)
	}
	args = append(args, "--output-dir", inv.OutDir)
	if inv.Resume {
		args = append(args, "--resume")
	}
	if inv.Overwrite {
		args = append(args, "--overwrite")
	}
	if inv.Threads != "" {
		args = append(args, "--threads", inv.Threads)
	}
	if inv.Device != "" {
		args = append(args, "--device", inv.Device)
	}
	return args
}

// fieldKey is the key of err's *config.FieldError, "" when it has none.
func fieldKey(err error) string {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return fe.Key
	}
	return ""
}

// TestSlurmScript: the sbatch script is valid bash (bash -n), runs the
// array with the throttle, requeues on exit 3, and quotes paths.
func TestSlurmScript(t *testing.T) {
	s, err := Slurm(SlurmOptions{JobName: "mixft-fig3", Source: "fig3.yaml", Manifest: "/scratch/my runs/manifest.jsonl", OutDir: "/scratch/my runs",
		Runs: 320, Throttle: 16, CPUs: 8, Time: "04:00:00", Mem: "32G", Part: "gpu", GPU: true, Mixft: "/opt/mixft/bin/mixft", Command: finetuneArgs, Extra: []string{"--account=proj"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#!/bin/bash\n", "#SBATCH --array=0-319%16\n", "#SBATCH --cpus-per-task=8\n", "#SBATCH --time=04:00:00\n",
		"#SBATCH --gres=gpu:1\n", "#SBATCH --requeue\n", "#SBATCH --account=proj\n", "#SBATCH --signal=B:TERM@120\n",
		`"$MIXFT" finetune --manifest '/scratch/my runs/manifest.jsonl' --index "$index" --output-dir '/scratch/my runs' --threads "${SLURM_CPUS_PER_TASK:-8}" --device cuda:0 &`,
		`squeue -h -j "$SLURM_JOB_ID" -o %T`, `scontrol requeue "$SLURM_JOB_ID"`, "  3)\n", "  4)\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	bashN(t, s)
	if _, err := Slurm(SlurmOptions{Runs: 3, Throttle: 0, CPUs: 1, Command: finetuneArgs}); fieldKey(err) != "throttle" {
		t.Errorf("throttle 0: %v", err)
	}
	if _, err := Slurm(SlurmOptions{Runs: 3, Throttle: 1, CPUs: 1, Command: finetuneArgs, Extra: []string{"--a\n--b"}}); fieldKey(err) != "sbatch" {
		t.Errorf("sbatch option with a newline: %v", err)
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
