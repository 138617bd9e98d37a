package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// toyModel writes a one-layer BERT with the real bert-base-uncased vocab
// and a head for task.
func toyModel(t *testing.T, task string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "toy-"+task)
	code, _, stderr := mixft(t, "init", "--preset", "tiny", "--layers", "1", "--hidden", "32", "--heads", "2",
		"--intermediate", "64", "--max-position", "64", "--vocab", filepath.Join(shared, "vocab/bert-base-uncased-vocab.txt"),
		"--task", task, "--out", dir)
	if code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	return dir
}

// TestFinetuneEveryConfig runs each configs/<task>/<strategy>.yaml end to
// end on the real GLUE data with a toy checkpoint for a few steps.
func TestFinetuneEveryConfig(t *testing.T) {
	needShared(t)
	dirs := map[string]string{"rte": "RTE", "mrpc": "MRPC", "cola": "CoLA", "sts-b": "STS-B", "sst-2": "SST-2"}
	var configs []string
	for task := range dirs {
		c, _ := filepath.Glob("../../configs/" + task + "/*.yaml")
		configs = append(configs, c...)
	}
	if len(configs) < 18 {
		t.Fatalf("found %d run configs, want the 16 of Figure 3 and 2 for SST-2", len(configs))
	}
	for _, c := range configs {
		task := filepath.Base(filepath.Dir(c))
		t.Run(task+"/"+filepath.Base(c), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			code, stdout, stderr := mixft(t, "finetune", "--config", c, "--model", toyModel(t, task),
				"--data-dir", filepath.Join(shared, "glue", dirs[task]), "--output-dir", out,
				"--max-steps", "2", "--batch-size", "8", "--max-seq-length", "32",
				"--max-train-examples", "64", "--max-eval-examples", "32")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "final (step 2)") {
				t.Errorf("summary missing: %s", stdout)
			}
			var mf struct {
				Task  string `json:"task"`
				Final struct {
					Metrics map[string]*float64 `json:"metrics"`
				} `json:"final"`
			}
			raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &mf); err != nil || mf.Task != task || len(mf.Final.Metrics) == 0 {
				t.Fatalf("metrics.json: %v %s", err, raw)
			}
			if _, err := os.Stat(filepath.Join(out, "best", "model.safetensors")); err != nil {
				t.Errorf("no best checkpoint: %v", err)
			}
		})
	}
}

// TestFinetuneStrategyResolution: a preset fills what the user did not set.
func TestFinetuneStrategyResolution(t *testing.T) {
	needShared(t)
	m := toyModel(t, "rte")
	data := filepath.Join(shared, "glue/RTE")
	run := func(args ...string) string {
		out := filepath.Join(t.TempDir(), "run")
		base := []string{"finetune", "--model", m, "--task", "rte", "--data-dir", data, "--output-dir", out,
			"--max-steps", "1", "--batch-size", "4", "--max-seq-length", "16", "--max-train-examples", "8", "--max-eval-examples", "8"}
		code, stdout, stderr := mixft(t, append(base, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		return stdout
	}
	if s := run("--strategy", "mixout"); !strings.Contains(s, "mixout(w_pre, 0.7) + wdecay(0, 0.01), dropout: hidden 0, attention 0, classifier 0.1") {
		t.Errorf("mixout preset: %s", s)
	}
	if s := run("--strategy", "mixout-wdecay-pre", "--mixout", "0.9"); !strings.Contains(s, "mixout(w_pre, 0.9) + wdecay(w_pre, 0.01)") {
		t.Errorf("explicit --mixout must override the preset: %s", s)
	}
	if s := run("--dropout", "0.2", "--classifier-dropout", "0.05"); !strings.Contains(s, "hidden 0.2, attention 0.2, classifier 0.05") {
		t.Errorf("--dropout with a finer override: %s", s)
	}
}

// TestFinetuneBadSettings: each bad setting is one line naming it.
func TestFinetuneBadSettings(t *testing.T) {
	needShared(t)
	m := filepath.Join(shared, "fixtures/checkpoints/A")
	yaml := filepath.Join(t.TempDir(), "run.yaml")
	os.WriteFile(yaml, []byte("task: rte\nbatch_sise: 8\n"), 0o644)
	base := []string{"finetune", "--model", m, "--task", "rte", "--data-dir", filepath.Join(shared, "glue/RTE"), "--output-dir", t.TempDir()}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--mixout", "1.5"}, []string{"--mixout", "mixout: 1.5", "[0, 1]"}},
		{[]string{"--lr", "-1e-5"}, []string{"--lr", "positive learning rate"}},
		{[]string{"--strategy", "dropconnect"}, []string{"--strategy", "dropconnect", "mixout"}},
		{[]string{"--batch-size", "0"}, []string{"--batch-size", "batch_size: 0"}},
		{[]string{"--config", yaml}, []string{`unknown key "batch_sise"`}},
		{[]string{"--dropout", "1"}, []string{"dropout: 1", "[0, 1)"}},
		{[]string{"--mixout-grad", "approx"}, []string{"mixout_grad", "exact or reference"}},
	} {
		code, stdout, stderr := mixft(t, append(append([]string{}, base...), tc.args...)...)
		if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tc.args, code, stdout, stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: %q does not mention %q", tc.args, stderr, w)
			}
		}
	}
}

// TestFinetuneFlagNames: the flags the reference trajectory check uses.
func TestFinetuneFlagNames(t *testing.T) {
	cmd := newFinetuneCmd(nil)
	for _, f := range []string{"batch-size", "max-steps", "warmup-steps", "lr", "weight-decay", "dropout", "mixout", "seed", "max-seq-length"} {
		if cmd.Flags().Lookup(f) == nil {
			t.Errorf("finetune has no --%s", f)
		}
	}
}

// TestFinetuneResumeByDirectory: --output-dir X --resume alone continues
// the run in X with the settings of X/config.yaml, also after X moved and
// with its paths spelled another way; a setting given that differs from the
// run's is refused, one that was set by a preset is kept.
func TestFinetuneResumeByDirectory(t *testing.T) {
	needShared(t)
	m := toyModel(t, "rte")
	out := filepath.Join(t.TempDir(), "run")
	code, first, stderr := mixft(t, "finetune", "--model", m, "--task", "rte", "--data-dir", filepath.Join(shared, "glue/RTE"),
		"--output-dir", out, "--strategy", "mixout", "--mixout", "0.5", "--max-steps", "2", "--batch-size", "4",
		"--max-seq-length", "16", "--max-train-examples", "8", "--max-eval-examples", "8")
	if code != 0 {
		t.Fatalf("first run: %s", stderr)
	}
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(out, moved); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := mixft(t, "finetune", "--output-dir", moved+"/../moved", "--resume")
	if code != 0 {
		t.Fatalf("resume by directory: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "mixout(w_pre, 0.5)") || !strings.Contains(stdout, "2 steps") {
		t.Errorf("resumed run has other settings:\n%s\nfirst run:\n%s", stdout, first)
	}
	code, _, stderr = mixft(t, "finetune", "--output-dir", moved, "--resume", "--data-dir", filepath.Join(shared, "glue/RTE")+"/")
	if code != 0 {
		t.Errorf("--data-dir spelled another way refused: %s", stderr)
	}
	code, _, stderr = mixft(t, "finetune", "--output-dir", moved, "--resume", "--lr", "1e-3")
	if code != 1 || !strings.Contains(stderr, "setting lr is 0.001 now but 2e-05") {
		t.Errorf("changed lr: exit %d: %s", code, stderr)
	}
	killedEarly := t.TempDir() // a run killed before it wrote config.yaml
	os.WriteFile(filepath.Join(killedEarly, ".mixft.lock"), nil, 0o644)
	code, _, stderr = mixft(t, "finetune", "--output-dir", killedEarly, "--resume")
	if code != 1 || !strings.Contains(stderr, "holds no settings (config.yaml)") {
		t.Errorf("resume without settings: exit %d: %s", code, stderr)
	}
	code, _, stderr = mixft(t, "finetune", "--output-dir", filepath.Join(t.TempDir(), "typo"), "--resume")
	if code != 1 || !strings.Contains(stderr, "no such file or directory") {
		t.Errorf("resume of a missing directory: exit %d: %s", code, stderr)
	}
}

// TestFinetuneResumeRequestedSettings: a run whose requested settings
// differ from the resolved ones (dropout unset: the checkpoint's dropouts,
// the encoder's 0 under mixout; warmup and threads resolved) resumes by
// directory with the requested ones, which config.yaml's requested: block
// holds: from its checkpoint, from config.yaml alone (killed before its
// first checkpoint) in the new and the old layout (no requested: block),
// each giving the uninterrupted run's weights. The run's config.yaml as
// --config starts the same run.
func TestFinetuneResumeRequestedSettings(t *testing.T) {
	needShared(t)
	tmp := t.TempDir()
	run := filepath.Join(tmp, "run")
	code, _, stderr := mixft(t, "finetune", "--model", toyModel(t, "rte"), "--task", "rte", "--data-dir", filepath.Join(shared, "glue/RTE"),
		"--output-dir", run, "--mixout", "0.7", "--max-steps", "4", "--eval-steps", "2", "--batch-size", "4",
		"--max-seq-length", "16", "--max-train-examples", "16", "--max-eval-examples", "8")
	if code != 0 {
		t.Fatalf("first run: %s", stderr)
	}
	raw, err := os.ReadFile(filepath.Join(run, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var saved map[string]any
	if err := yaml.Unmarshal(raw, &saved); err != nil {
		t.Fatal(err)
	}
	req, _ := saved["requested"].(map[string]any)
	if saved["hidden_dropout"] != 0 || req["hidden_dropout"] != -1 || req["dropout"] != -1 || req["warmup_steps"] != -1 {
		t.Fatalf("config.yaml does not hold resolved values with differing requested ones:\n%s", raw)
	}
	weights := func(dir string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "last", "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want := weights(run)
	if code, _, stderr := mixft(t, "finetune", "--output-dir", run, "--resume"); code != 0 {
		t.Errorf("resume of the run from its checkpoint: exit %d: %s", code, stderr)
	}
	for _, layout := range []string{"new", "old"} {
		killed := filepath.Join(tmp, "killed-"+layout) // killed before its first checkpoint
		os.Mkdir(killed, 0o755)
		cfg := raw
		if layout == "old" { // the requested settings alone at the top
			for k, v := range req {
				saved[k] = v
			}
			delete(saved, "requested")
			if cfg, err = yaml.Marshal(saved); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(killed, "config.yaml"), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := mixft(t, "finetune", "--output-dir", killed, "--resume")
		if code != 0 {
			t.Errorf("%s layout: resume from config.yaml alone: exit %d: %s", layout, code, stderr)
		} else if !bytes.Equal(weights(killed), want) {
			t.Errorf("%s layout: the resumed run's weights differ from the uninterrupted run's", layout)
		}
	}
	again := filepath.Join(tmp, "again")
	code, _, stderr = mixft(t, "finetune", "--config", filepath.Join(run, "config.yaml"), "--output-dir", again)
	if code != 0 {
		t.Fatalf("the run's config.yaml as --config: exit %d: %s", code, stderr)
	}
	if !bytes.Equal(weights(again), want) {
		t.Error("the run's config.yaml as --config gives other weights")
	}
	got, _ := os.ReadFile(filepath.Join(again, "config.yaml"))
	if string(got) != strings.Replace(string(raw), "output_dir: "+run, "output_dir: "+again, 1) {
		t.Errorf("the run's config.yaml as --config gives other settings:\n%s\nwant\n%s", got, raw)
	}
}

// TestFinetuneSummaries: the start-up summary says what is in effect in
// words, the console logs every --logging-steps steps and names the dev
// metric, and the final summary is printed and saved as all_results.json.
func TestFinetuneSummaries(t *testing.T) {
	needShared(t)
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := mixft(t, "finetune", "--model", toyModel(t, "rte"), "--task", "rte", "--data-dir", filepath.Join(shared, "glue/RTE"),
		"--output-dir", out, "--max-steps", "5", "--eval-steps", "3", "--batch-size", "4", "--max-seq-length", "16",
		"--max-train-examples", "40", "--max-eval-examples", "8", "--mixout", "0.7", "--logging-steps", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{"finetuning rte with mixout 0.7 into " + out, "strategy       mixout 0.7 (no preset", "mixout         0.7 toward the pretrained weights on ",
		"hidden 0 (mixout replaces it)", "every 2 steps (loss averaged over them)", "finished rte with mixout 0.7: 5 steps",
		"training: 0.5 epochs in ", "summary with Hugging Face's keys: " + filepath.Join(out, "all_results.json")} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	for _, bad := range []string{"custom", "-1", "primary"} {
		if strings.Contains(stdout+stderr, bad) {
			t.Errorf("output shows %q:\n%s\n%s", bad, stdout, stderr)
		}
	}
	var steps []string
	for _, l := range strings.Split(stderr, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "step" {
			steps = append(steps, f[1])
		}
	}
	if strings.Join(steps, " ") != "2/5 4/5 5/5" {
		t.Errorf("console step lines %v, want 2/5 4/5 5/5:\n%s", steps, stderr)
	}
	if !strings.Contains(stderr, "eval at step 3 (epoch 0.30): accuracy ") {
		t.Errorf("eval line does not name the metric:\n%s", stderr)
	}
	raw, err := os.ReadFile(filepath.Join(out, "all_results.json"))
	var all map[string]any
	if err != nil || json.Unmarshal(raw, &all) != nil || all["train_loss"] == nil || all["eval_accuracy"] == nil || all["epoch"] != 0.5 {
		t.Errorf("all_results.json: %v %s", err, raw)
	}
}
