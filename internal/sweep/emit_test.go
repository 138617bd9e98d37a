package sweep

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/exitcode"
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
		`scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"`, "  3)\n", "  4)\n"} {
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

// indexedJob is the part of a Kubernetes Job the tests check.
type indexedJob struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Completions          *int   `yaml:"completions"`
		Parallelism          *int   `yaml:"parallelism"`
		CompletionMode       string `yaml:"completionMode"`
		BackoffLimitPerIndex *int   `yaml:"backoffLimitPerIndex"`
		PodFailurePolicy     struct {
			Rules []struct {
				Action      string `yaml:"action"`
				OnExitCodes *struct {
					ContainerName string `yaml:"containerName"`
					Operator      string `yaml:"operator"`
					Values        []int  `yaml:"values"`
				} `yaml:"onExitCodes"`
				OnPodConditions []struct {
					Type string `yaml:"type"`
				} `yaml:"onPodConditions"`
			} `yaml:"rules"`
		} `yaml:"podFailurePolicy"`
		Template struct {
			Spec struct {
				RestartPolicy string `yaml:"restartPolicy"`
				Containers    []struct {
					Name         string   `yaml:"name"`
					Image        string   `yaml:"image"`
					Command      []string `yaml:"command"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
					Resources struct {
						Limits map[string]string `yaml:"limits"`
					} `yaml:"resources"`
				} `yaml:"containers"`
				Volumes []struct {
					Name      string            `yaml:"name"`
					ConfigMap map[string]string `yaml:"configMap"`
					PVC       map[string]string `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// parseK8s splits the emitted YAML into the ConfigMap's manifest (empty
// when there is none) and the Job.
func parseK8s(text string) (manifest string, job indexedJob, err error) {
	dec := yaml.NewDecoder(strings.NewReader(text))
	found := false
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", job, err
		}
		b, _ := yaml.Marshal(doc)
		switch doc["kind"] {
		case "ConfigMap":
			var cm struct {
				Data map[string]string `yaml:"data"`
			}
			yaml.Unmarshal(b, &cm)
			manifest = cm.Data[ManifestFile]
		case "Job":
			d := yaml.NewDecoder(bytes.NewReader(b))
			d.KnownFields(false)
			if err := d.Decode(&job); err != nil {
				return "", job, err
			}
			found = true
		default:
			return "", job, errors.New("unexpected document kind")
		}
	}
	if !found {
		return "", job, errors.New("no Job")
	}
	return manifest, job, nil
}

// TestK8sJob: the manifest parses as an Indexed Job with one completion
// per run, the exit-code policy, and the manifest in a ConfigMap.
func TestK8sJob(t *testing.T) {
	plan := eightRuns(t)
	text, err := K8s(K8sOptions{Name: "mixft-tiny", Source: "tiny.yaml", Image: "reg/mixft:1", Manifest: plan.Manifest(), OutDir: "/mnt/mixft/runs/tiny",
		PVC: "data", Mount: "/mnt/mixft", Runs: len(plan.Runs), Parallelism: 3, CPU: "4", Memory: "8Gi", GPU: true, Retries: 2, Command: finetuneArgs})
	if err != nil {
		t.Fatal(err)
	}
	manifest, job, err := parseK8s(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if manifest != string(plan.Manifest()) {
		t.Error("the ConfigMap does not hold the manifest")
	}
	s := job.Spec
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Metadata.Name != "mixft-tiny" || s.CompletionMode != "Indexed" ||
		s.Completions == nil || *s.Completions != 8 || s.Parallelism == nil || *s.Parallelism != 3 ||
		s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex != 2 || s.Template.Spec.RestartPolicy != "Never" {
		t.Fatalf("job spec: %+v", job)
	}
	actions := map[int]string{}
	disruption := ""
	for _, r := range s.PodFailurePolicy.Rules {
		if r.OnExitCodes != nil {
			if r.OnExitCodes.ContainerName != ContainerName || r.OnExitCodes.Operator != "In" {
				t.Errorf("rule %+v", r)
			}
			for _, v := range r.OnExitCodes.Values {
				actions[v] = r.Action
			}
		}
		for _, c := range r.OnPodConditions {
			if c.Type == "DisruptionTarget" {
				disruption = r.Action
			}
		}
	}
	if actions[exitcode.Interrupted] != "Ignore" || actions[exitcode.Diverged] != "FailIndex" || disruption != "Ignore" || len(actions) != 2 {
		t.Errorf("pod failure policy: %v, disruption %s", actions, disruption)
	}
	c := s.Template.Spec.Containers[0]
	if c.Name != ContainerName || c.Image != "reg/mixft:1" || c.Resources.Limits["nvidia.com/gpu"] != "1" ||
		strings.Join(c.Command, " ") != "mixft finetune --manifest /etc/mixft/manifest.jsonl --output-dir /mnt/mixft/runs/tiny --threads 4 --device cuda:0" {
		t.Errorf("container: %+v", c)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	vols := map[string]bool{}
	for _, v := range s.Template.Spec.Volumes {
		vols[v.Name] = v.ConfigMap["name"] == "mixft-tiny-manifest" || v.PVC["claimName"] == "data"
	}
	if mounts["manifest"] != "/etc/mixft" || mounts["runs"] != "/mnt/mixft" || !vols["manifest"] || !vols["runs"] {
		t.Errorf("volumes: mounts %v volumes %v", mounts, vols)
	}
	// A manifest already on the volume: no ConfigMap.
	text, err = K8s(K8sOptions{Name: "mixft-tiny", Image: "i", ManifestPath: "/mnt/mixft/m.jsonl", OutDir: "/mnt/mixft/r", PVC: "data", Mount: "/mnt/mixft", Runs: 8, Parallelism: 1, Command: finetuneArgs})
	if err != nil {
		t.Fatal(err)
	}
	if manifest, job, err := parseK8s(text); err != nil || manifest != "" || job.Spec.Template.Spec.Containers[0].Command[3] != "/mnt/mixft/m.jsonl" {
		t.Errorf("--manifest-path: %v %q", err, manifest)
	}
	for key, bad := range map[string]K8sOptions{
		"image":         {Name: "x", PVC: "p", Mount: "/m", OutDir: "/m/r", Runs: 1, Parallelism: 1},
		"output_dir":    {Name: "x", Image: "i", PVC: "p", Mount: "/m", OutDir: "runs", Runs: 1, Parallelism: 1},
		"name":          {Name: "Bad_Name", Image: "i", PVC: "p", Mount: "/m", OutDir: "/m/r", Runs: 1, Parallelism: 1},
		"manifest_path": {Name: "x", Image: "i", PVC: "p", Mount: "/m", OutDir: "/m/r", Runs: 1, Parallelism: 1, Manifest: make([]byte, MaxConfigMap+1)},
	} {
		bad.Command = finetuneArgs
		if _, err := K8s(bad); fieldKey(err) != key {
			t.Errorf("%+v: %v, want an error of %s", bad, err, key)
		}
	}
}

func TestJobName(t *testing.T) {
	for in, want := range map[string]string{"configs/sweeps/fig3.yaml": "mixft-fig3", "My Sweep_2.yml": "mixft-my-sweep-2", "runs/x/manifest.jsonl": "mixft-sweep"} {
		if got := JobName(in); got != want {
			t.Errorf("JobName(%q) = %q, want %q", in, got, want)
		}
	}
}
