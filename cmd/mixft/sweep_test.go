package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// asMixft makes the test binary act as mixft when `sweep run` or a
// generated job script executes it.
const asMixft = "MIXFT_TEST_AS_MIXFT"

func TestMain(m *testing.M) {
	if os.Getenv(asMixft) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	// The GEMM calibration is kept in the user cache directory: a private
	// one for the tests (and the mixft processes they start).
	cache, err := os.MkdirTemp("", "mixft-test-cache")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", cache)
	code := m.Run()
	os.RemoveAll(cache)
	os.Exit(code)
}

// tinySweep writes a sweep of 2 mixout probabilities x 3 seeds on an RTE
// subset with a toy checkpoint.
func tinySweep(t *testing.T) string {
	t.Helper()
	data, err := filepath.Abs(filepath.Join(shared, "glue"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.yaml")
	src := fmt.Sprintf(`base:
  model: %s
  data_dir: %s/{task_dir}
  task: rte
  strategy: mixout
  lr: 1.0e-3
  warmup_steps: 0
  max_steps: 2
  max_train_examples: 32
  max_eval_examples: 32
  max_seq_length: 32
  batch_size: 8
  save_best: false
axes:
  mixout: [0.3, 0.7]
  seed: [1, 2, 3]
`, toyModel(t, "rte"), data)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// reportGroups runs `sweep report dir` and returns report.json's groups
// without the timings.
func reportGroups(t *testing.T, dir string) []map[string]any {
	t.Helper()
	code, stdout, stderr := mixft(t, "sweep", "report", dir)
	if code != 0 {
		t.Fatalf("report %s: exit %d: %s", dir, code, stderr)
	}
	if !strings.Contains(stdout, "6 runs in 2 groups") {
		t.Errorf("report %s: %s", dir, stdout)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Groups []map[string]any `json:"groups"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	for _, g := range rep.Groups {
		delete(g, "train_seconds_mean")
	}
	return rep.Groups
}

// TestSweepEndToEnd: plan is deterministic; `sweep run` runs the grid with
// two worker processes, skips finished runs when run again and reruns only
// a missing one; the Slurm script (run by bash, task by task) and the
// Kubernetes Job's command (run by JOB_COMPLETION_INDEX) give the same
// report as the local run; the report's plots are valid SVG and PNG.
func TestSweepEndToEnd(t *testing.T) {
	needShared(t)
	sw := tinySweep(t)
	_, plan1, _ := mixft(t, "sweep", "plan", sw)
	code, plan2, stderr := mixft(t, "sweep", "plan", sw)
	if code != 0 || plan1 != plan2 || strings.Count(plan1, "\n") != 6 {
		t.Fatalf("plan: exit %d, %s, deterministic %v:\n%s", code, stderr, plan1 == plan2, plan1)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(plan1), "\n") {
		var l struct {
			ID string `json:"id"`
		}
		json.Unmarshal([]byte(line), &l)
		ids = append(ids, l.ID)
	}
	t.Setenv(asMixft, "1")

	// Local pool of two worker processes.
	local := filepath.Join(t.TempDir(), "local")
	code, stdout, stderr := mixft(t, "sweep", "run", sw, "--output-dir", local, "--workers", "2", "--threads", "1")
	if code != 0 || !strings.Contains(stdout, "6 runs completed, 0 diverged, 0 interrupted, 0 errors") {
		t.Fatalf("sweep run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "[6/6]") {
		t.Errorf("no progress lines: %s", stderr)
	}
	code, stdout, _ = mixft(t, "sweep", "run", sw, "--output-dir", local, "--threads", "1")
	if code != 0 || !strings.Contains(stdout, "every run is finished") {
		t.Errorf("second sweep run: exit %d: %s", code, stdout)
	}
	// A lost run is the only one run again.
	os.RemoveAll(filepath.Join(local, ids[4]))
	code, stdout, stderr = mixft(t, "sweep", "run", sw, "--output-dir", local, "--threads", "1")
	if code != 0 || !strings.Contains(stderr, "5 finished, 0 diverged; 0 to resume, 1 to start") ||
		!strings.Contains(stdout, "1 runs completed") || !strings.Contains(stderr, "run 4 "+ids[4]) {
		t.Errorf("rerun after losing run 4: exit %d\n%s\n%s", code, stdout, stderr)
	}
	want := reportGroups(t, local)
	// The report finds each run's id again in its config.yaml (the requested
	// settings beside the resolved ones).
	var reported []string
	for _, g := range want {
		for _, id := range g["run_ids"].([]any) {
			reported = append(reported, id.(string))
		}
		if r := g["regularization"].(string); strings.Contains(r, "-1") || strings.Contains(r, "checkpoint") {
			t.Errorf("regularization of group %v: %s", g["label"], r)
		}
	}
	if slices.Sort(reported); !slices.Equal(reported, slices.Sorted(slices.Values(ids))) {
		t.Errorf("report run ids %v, plan's %v", reported, ids)
	}
	for _, n := range []string{"scores-rte", "score-vs-p-rte"} {
		checkSVG(t, filepath.Join(local, n+".svg"))
		checkPNG(t, filepath.Join(local, n+".png"))
	}

	// The Slurm job array, each task run by bash as Slurm would.
	slurmDir := filepath.Join(t.TempDir(), "slurm")
	code, script, stderr := mixft(t, "sweep", "emit", "--slurm", sw, "--output-dir", slurmDir, "--cpus", "1", "--throttle", "3")
	if code != 0 || !strings.Contains(script, "#SBATCH --array=0-5%3") {
		t.Fatalf("emit --slurm: exit %d %s\n%s", code, stderr, script)
	}
	scriptPath := filepath.Join(t.TempDir(), "tiny.sbatch")
	os.WriteFile(scriptPath, []byte(script), 0o755)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	if out, err := exec.Command(bash, "-n", scriptPath).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v %s", err, out)
	}
	for i := range 6 {
		cmd := exec.Command(bash, scriptPath)
		cmd.Env = append(os.Environ(), fmt.Sprintf("SLURM_ARRAY_TASK_ID=%d", i), "MIXFT="+os.Args[0])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("array task %d: %v\n%s", i, err, out)
		}
	}
	if got := reportGroups(t, slurmDir); !reflect.DeepEqual(got, want) {
		t.Errorf("Slurm array report differs from the local run:\n%v\n%v", got, want)
	}
	sameLosses(t, ids, local, slurmDir)

	// The Kubernetes Indexed Job: each pod's command with JOB_COMPLETION_INDEX.
	k8sDir := filepath.Join(t.TempDir(), "k8s")
	code, job, stderr := mixft(t, "sweep", "emit", "--k8s", sw, "--output-dir", k8sDir, "--image", "mixft:test", "--pvc", "runs",
		"--mount", filepath.Dir(k8sDir), "--cpu", "1", "--parallelism", "2")
	if code != 0 {
		t.Fatalf("emit --k8s: exit %d %s", code, stderr)
	}
	manifest, command := indexedJob(t, job, 6, 2)
	manifestPath := filepath.Join(t.TempDir(), "manifest.jsonl")
	os.WriteFile(manifestPath, []byte(manifest), 0o644)
	if manifest != plan1 {
		t.Error("the ConfigMap's manifest differs from sweep plan's")
	}
	args := command[1:]
	for i, a := range args {
		if a == "/etc/mixft/manifest.jsonl" {
			args[i] = manifestPath
		}
	}
	for i := range 6 {
		t.Setenv("JOB_COMPLETION_INDEX", fmt.Sprint(i))
		if code, _, stderr := mixft(t, args...); code != 0 {
			t.Fatalf("pod %d: %v: exit %d: %s", i, args, code, stderr)
		}
	}
	if got := reportGroups(t, k8sDir); !reflect.DeepEqual(got, want) {
		t.Errorf("Kubernetes Job report differs from the local run:\n%v\n%v", got, want)
	}
	sameLosses(t, ids, local, k8sDir)
	// A task of a finished run exits 0 at once (the index from Slurm's variable).
	t.Setenv("JOB_COMPLETION_INDEX", "")
	os.Unsetenv("JOB_COMPLETION_INDEX")
	t.Setenv("SLURM_ARRAY_TASK_ID", "2")
	code, stdout, stderr = mixft(t, "finetune", "--manifest", filepath.Join(local, "manifest.jsonl"))
	if code != 0 || !strings.Contains(stdout, "line 2: run "+ids[2]) || !strings.Contains(stdout, "already finished") {
		t.Errorf("finished task: exit %d: %s %s", code, stdout, stderr)
	}
}

// sameLosses checks that each run's training losses (log.jsonl) in dir
// equal those of the run in ref, bit for bit.
func sameLosses(t *testing.T, ids []string, ref, dir string) {
	t.Helper()
	losses := func(d string) []string {
		raw, err := os.ReadFile(filepath.Join(d, "log.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			var l struct {
				Loss json.RawMessage `json:"loss"`
			}
			json.Unmarshal([]byte(line), &l)
			out = append(out, string(l.Loss))
		}
		return out
	}
	for _, id := range ids {
		if a, b := losses(filepath.Join(ref, id)), losses(filepath.Join(dir, id)); !reflect.DeepEqual(a, b) {
			t.Errorf("run %s: losses %v in %s, %v in %s", id, a, ref, b, dir)
		}
	}
}

// indexedJob checks the Job of `sweep emit --k8s` and returns the
// ConfigMap's manifest and the container's command.
func indexedJob(t *testing.T, text string, runs, parallelism int) (string, []string) {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(text))
	var manifest string
	var command []string
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
			Spec struct {
				Completions, Parallelism int
				CompletionMode           string `yaml:"completionMode"`
				Template                 struct {
					Spec struct {
						RestartPolicy string `yaml:"restartPolicy"`
						Containers    []struct {
							Command []string `yaml:"command"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("k8s YAML: %v", err)
		}
		switch doc.Kind {
		case "ConfigMap":
			manifest = doc.Data["manifest.jsonl"]
		case "Job":
			s := doc.Spec
			if s.Completions != runs || s.Parallelism != parallelism || s.CompletionMode != "Indexed" || s.Template.Spec.RestartPolicy != "Never" || len(s.Template.Spec.Containers) != 1 {
				t.Fatalf("job spec: %+v", s)
			}
			command = s.Template.Spec.Containers[0].Command
		}
	}
	if manifest == "" || len(command) == 0 {
		t.Fatalf("no ConfigMap or Job in:\n%s", text)
	}
	return manifest, command
}

// TestFinetuneManifestErrors: manifest mode refuses settings that belong
// to the manifest, and says what index it needs; one line each.
func TestFinetuneManifestErrors(t *testing.T) {
	needShared(t)
	dir := t.TempDir()
	sw := tinySweep(t)
	_, plan, _ := mixft(t, "sweep", "plan", sw)
	manifest := filepath.Join(dir, "manifest.jsonl")
	os.WriteFile(manifest, []byte(plan), 0o644)
	os.Unsetenv("SLURM_ARRAY_TASK_ID")
	os.Unsetenv("JOB_COMPLETION_INDEX")
	for _, tc := range []struct {
		args []string
		env  string
		want []string
	}{
		{[]string{"--lr", "1e-5", "--index", "0"}, "", []string{"flag --lr", "not allowed with --manifest"}},
		{nil, "", []string{"--index"}},
		{[]string{"--index", "6"}, "", []string{manifest, "no run with index 6", "0 to 5"}},
		{nil, "SLURM_ARRAY_TASK_ID=x", []string{"SLURM_ARRAY_TASK_ID", `"x"`}},
		{[]string{"--index", "0"}, "", []string{"none.jsonl", "no such file"}},
	} {
		if tc.env != "" {
			k, v, _ := strings.Cut(tc.env, "=")
			t.Setenv(k, v)
		}
		m := manifest
		if strings.Contains(tc.want[0], "none.jsonl") {
			m = filepath.Join(dir, "none.jsonl")
		}
		args := append([]string{"finetune", "--manifest", m}, tc.args...)
		code, _, stderr := mixft(t, args...)
		if tc.env != "" {
			os.Unsetenv(strings.SplitN(tc.env, "=", 2)[0])
		}
		if code != 1 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d: %q", tc.args, code, stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: %q does not mention %q", tc.args, stderr, w)
			}
		}
	}
}

// TestSweepEmitRefusesCode: a value that would end a line of the script or
// the manifest, or that Slurm or Kubernetes would refuse, is refused with
// one line naming its flag, and nothing is written.
func TestSweepEmitRefusesCode(t *testing.T) {
	sw := "../../configs/sweeps/fig3.yaml"
	sets := []string{"--set", "model=/cluster/m", "--set", "data_dir=/cluster/glue/{task_dir}"}
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--slurm", "--output-dir", "OUT\necho pwned"}, "--output-dir"},
		{[]string{"--slurm", "--output-dir", "OUT", "--name", "x\necho pwned"}, "--name"},
		{[]string{"--slurm", "--output-dir", "OUT", "--time", "1:00:00\necho pwned"}, "--time"},
		{[]string{"--slurm", "--output-dir", "OUT", "--mem", "4G $(echo pwned)"}, "--mem"},
		{[]string{"--slurm", "--output-dir", "OUT", "--partition", "gpu\necho pwned"}, "--partition"},
		{[]string{"--slurm", "--output-dir", "OUT", "--mixft", "mixft\necho pwned"}, "--mixft"},
		{[]string{"--slurm", "--output-dir", "OUT", "--sbatch", "--account=a\necho pwned"}, "--sbatch"},
		{[]string{"--k8s", "--output-dir", "/mnt/mixft/r\n---\nkind: Secret", "--image", "i", "--pvc", "p"}, "--output-dir"},
		{[]string{"--k8s", "--output-dir", "/mnt/mixft/r", "--image", "i", "--pvc", "p", "--namespace", "Bad_NS"}, "--namespace"},
		{[]string{"--k8s", "--output-dir", "/mnt/mixft/r", "--image", "i\nkind: Secret", "--pvc", "p"}, "--image"},
		{[]string{"--k8s", "--output-dir", "/mnt/mixft/r", "--image", "i", "--pvc", "Bad_PVC"}, "--pvc"},
		{[]string{"--k8s", "--output-dir", "/mnt/mixft/r", "--image", "i", "--pvc", "p", "--name", "Bad_Name"}, "--name"},
	} {
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		args := append([]string{"sweep", "emit", sw}, sets...)
		for _, a := range tc.args {
			args = append(args, strings.ReplaceAll(a, "OUT", out))
		}
		code, stdout, stderr := mixft(t, args...)
		if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "flag "+tc.flag) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want one line about %s", tc.args, code, stdout, stderr, tc.flag)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%q: wrote %v", tc.args, entries)
		}
	}
}

// TestSweepHelp: every sweep command documents itself with examples.
func TestSweepHelp(t *testing.T) {
	for _, sub := range []string{"plan", "run", "emit", "report"} {
		code, stdout, _ := mixft(t, "sweep", sub, "--help")
		if code != 0 || !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "mixft sweep "+sub) {
			t.Errorf("sweep %s --help: %d %s", sub, code, stdout)
		}
	}
	code, _, stderr := mixft(t, "sweep", "emit", "x.yaml")
	if code != 1 || !strings.Contains(stderr, "--slurm") {
		t.Errorf("emit without a target: %d %s", code, stderr)
	}
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(raw))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: not XML: %v", path, err)
		}
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
