package plan

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/sweep"
)

const tinySweep = `
# a comment
base:
  model: models/toy
  data_dir: glue/{task_dir}
  max_steps: 2
  lr: 1.0e-3
axes:
  task: [rte, sts-b]
  strategy: [dropout, mixout]
  seed: {from: 1, to: 3}
`

func mustParse(t *testing.T, src string, ovs ...Override) *Plan {
	t.Helper()
	p, err := Parse("s.yaml", []byte(src), ovs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanDeterministic: the same file gives the same manifest, byte for
// byte; the grid is the product in file order, first axis slowest.
func TestPlanDeterministic(t *testing.T) {
	a, b := mustParse(t, tinySweep).Manifest(), mustParse(t, tinySweep).Manifest()
	if !bytes.Equal(a, b) {
		t.Fatal("two plans of one file differ")
	}
	p := mustParse(t, tinySweep)
	if len(p.Runs) != 12 {
		t.Fatalf("%d runs, want 2 x 2 x 3", len(p.Runs))
	}
	ids := map[string]bool{}
	for i, r := range p.Runs {
		if r.Index != i || len(r.ID) != 12 || ids[r.ID] {
			t.Errorf("run %d: index %d id %q (duplicate %v)", i, r.Index, r.ID, ids[r.ID])
		}
		ids[r.ID] = true
	}
	first, last := p.Runs[0].Config, p.Runs[11].Config
	if first.Task != "rte" || first.Strategy != "dropout" || first.Seed != 1 || last.Task != "sts-b" || last.Strategy != "mixout" || last.Seed != 3 {
		t.Errorf("order: first %s/%s/%d last %s/%s/%d", first.Task, first.Strategy, first.Seed, last.Task, last.Strategy, last.Seed)
	}
	if p.Runs[1].Config.Seed != 2 || p.Runs[3].Config.Strategy != "mixout" {
		t.Error("the last axis must vary fastest")
	}
	// Presets apply per run; placeholders expand per task.
	if first.Dropout != 0.1 || first.Mixout != 0 || first.DataDir != "glue/RTE" || first.LR != 1e-3 || first.MaxSteps != 2 {
		t.Errorf("dropout run: %+v", first)
	}
	if last.Mixout != 0.7 || last.DataDir != "glue/STS-B" {
		t.Errorf("mixout run: mixout %g data_dir %s", last.Mixout, last.DataDir)
	}
	// The manifest reads back to the same runs.
	path := filepath.Join(t.TempDir(), sweep.ManifestFile)
	os.WriteFile(path, a, 0o644)
	back, err := ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Manifest(), a) {
		t.Error("manifest does not round-trip")
	}
	r, err := ReadManifestRun(path, 7)
	if err != nil || r.ID != p.Runs[7].ID || r.Config != p.Runs[7].Config {
		t.Errorf("ReadManifestRun(7): %v %+v", err, r)
	}
	if _, err := ReadManifestRun(path, 12); err == nil || !strings.Contains(err.Error(), "indexes 0 to 11") {
		t.Errorf("index past the end: %v", err)
	}
	// An edited line no longer matches its id.
	edited := bytes.Replace(a, []byte(`"lr":0.001`), []byte(`"lr":0.002`), 1)
	os.WriteFile(path, edited, 0o644)
	if _, err := ReadManifestRun(path, 0); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("edited manifest line: %v", err)
	}
}

// TestIDIgnoresPlaceSettings: output_dir, resume, overwrite, threads and
// device do not change a run's id; anything else does.
func TestIDIgnoresPlaceSettings(t *testing.T) {
	cfg := mustParse(t, tinySweep).Runs[0].Config
	id := sweep.ID(cfg)
	c := cfg
	c.OutputDir, c.Resume, c.Overwrite, c.Threads, c.Device = "/x", true, true, 7, "cuda:1"
	if sweep.ID(c) != id {
		t.Error("id depends on where the run is written or executed")
	}
	c = cfg
	c.Seed++
	if sweep.ID(c) == id {
		t.Error("id ignores the seed")
	}
	ovs := []Override{{Key: "threads", Value: "3"}, {Key: "device", Value: "cuda:0"}}
	if p := mustParse(t, tinySweep, ovs...); p.Runs[0].ID != id || p.Runs[0].Config.Threads != 3 {
		t.Error("--set threads changed the id or was not applied")
	}
}

// TestGridsAndRanges: a list of grids is concatenated and a run two grids
// share appears once; float ranges are exact decimals.
func TestGridsAndRanges(t *testing.T) {
	p := mustParse(t, `
base: {task: rte, model: m, data_dir: d, classifier_dropout: 0.1}
axes:
  - mixout: {from: 0.0, to: 0.9, step: 0.1}
    dropout: 0.0
  - dropout: {from: 0.0, to: 0.9, step: 0.1}
    mixout: [0.0]
`)
	if len(p.Runs) != 19 || p.Merged != 1 {
		t.Fatalf("%d runs, %d merged; want 19 and 1 (p = 0 is shared)", len(p.Runs), p.Merged)
	}
	want := []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}
	for i, w := range want {
		if got := p.Runs[i].Config.Mixout; got != w {
			t.Errorf("mixout[%d] = %v, want %v", i, got, w)
		}
	}
	if p.Runs[10].Config.Dropout != 0.1 || p.Runs[18].Config.Dropout != 0.9 {
		t.Errorf("dropout arm: %v .. %v", p.Runs[10].Config.Dropout, p.Runs[18].Config.Dropout)
	}
}

// TestPlanErrors: every bad sweep is one error naming the file and the key.
func TestPlanErrors(t *testing.T) {
	base := "base: {model: m, data_dir: d, task: rte}\n"
	for _, tc := range []struct {
		src  string
		ovs  []Override
		want []string
	}{
		{base + "axes: {lrr: [1]}", nil, []string{"s.yaml", "axes.lrr", `unknown setting "lrr"`}},
		{base + "axes: {mixout: [0.1, 1.5]}", nil, []string{"s.yaml", "mixout=1.5", "mixout: 1.5", "[0, 1]"}},
		{base + "axes: {seed: [1.5]}", nil, []string{"s.yaml", "axes.seed", "not a non-negative integer"}},
		{base + "axes: {strategy: [dropout, dropconnect]}", nil, []string{"s.yaml", "strategy", "dropconnect"}},
		{base + "axes: {task: [rte, mnli2]}", nil, []string{"s.yaml", "task", "mnli2"}},
		{base + "axes: {output_dir: [a]}", nil, []string{"s.yaml", "axes.output_dir", "set by the sweep"}},
		{"base: {task: rte, data_dir: d}\naxes: {seed: [1]}", nil, []string{"s.yaml", "model: required"}},
		{base + "axes: {seed: [1]}\nextra: 1", nil, []string{"s.yaml", "extra"}},
		{base + "axes: {lr: {from: 1, to: 0}}", nil, []string{"s.yaml", "axes.lr", "from <= to"}},
		{base + "axes: {seed: []}", nil, []string{"s.yaml", "axes.seed", "no values"}},
		{base + "axes: {seed: [1]}", []Override{{Key: "seed", Value: "2", Source: "flag --set"}}, []string{"flag --set seed", "axis"}},
		{base + "axes: {seed: [1]}", []Override{{Key: "lr", Value: "fast", Source: "flag --set"}}, []string{"flag --set lr=fast", "not a number"}},
		{base + "axes: {seed: [1]}", []Override{{Key: "lrr", Value: "1"}}, []string{"override lrr", "did you mean lr?"}},
		{"base: {model: m, data_dir: d, task: rte, lr: 1, learning_rate: 2}", nil, []string{"s.yaml", "base.learning_rate (line 1)", "lr (line 1)", "give one"}},
		{base + "axes: {lr: [1], learning_rate: [2]}", nil, []string{"s.yaml", "axes.learning_rate", "give one"}},
		{base + "axes: {batch: [8]}", nil, []string{"s.yaml", "axes.batch", "did you mean batch_size?"}},
		{"base: [1, 2]", nil, []string{"s.yaml", "base"}},
	} {
		_, err := Parse("s.yaml", []byte(tc.src), tc.ovs)
		if err == nil {
			t.Errorf("%q: no error", tc.src)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error spans lines: %v", tc.src, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %v does not mention %q", tc.src, err, w)
			}
		}
	}
}

// TestAliasesAndFieldErrors: Hugging Face names stand for mixft keys in
// base:, axes: and overrides, and the plan records the mixft key; a
// missing or bad setting is a *config.FieldError naming its key.
func TestAliasesAndFieldErrors(t *testing.T) {
	p := mustParse(t, "base: {model: m, data_dir: d, task: rte, learning_rate: 3.0e-5}\naxes: {num_train_epochs: [2]}",
		Override{Key: "per_device_train_batch_size", Value: "8"})
	c := p.Runs[0].Config
	if c.LR != 3e-5 || c.Epochs != 2 || c.BatchSize != 8 {
		t.Errorf("lr %g epochs %d batch_size %d", c.LR, c.Epochs, c.BatchSize)
	}
	if m := string(p.Manifest()); !strings.Contains(m, `"lr":0.00003`) || strings.Contains(m, "learning_rate") {
		t.Errorf("manifest: %s", m)
	}
	for key, src := range map[string]string{
		"model":  "base: {task: rte, data_dir: d}",
		"lr":     "base: {model: m, data_dir: d, task: rte, lr: -1}",
		"task":   "base: {model: m, data_dir: d}",
		"mixout": "base: {model: m, data_dir: d, task: rte}\naxes: {mixout: [2]}",
	} {
		_, err := Parse("s.yaml", []byte(src), nil)
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != key {
			t.Errorf("%s: %v is not a field error of %s", src, err, key)
		}
	}
}

// TestSweepConfigs: the shipped sweeps plan, with the paper's sizes.
func TestSweepConfigs(t *testing.T) {
	ovs := []Override{{Key: "model", Value: "models/bert-large-uncased"}, {Key: "data_dir", Value: "glue_data/{task_dir}"}}
	for _, tc := range []struct {
		file string
		runs int
	}{{"fig3.yaml", 320}, {"fig4.yaml", 380}, {"sst2-ablation.yaml", 10}, {"output-layer-ablation.yaml", 40}, {"minilm-mixout.yaml", 60}, {"minilm-mixout-rte256.yaml", 30}, {"minilm-mixout-mrpc500.yaml", 30}} {
		p, err := Load(filepath.Join("../../../configs/sweeps", tc.file), ovs)
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if len(p.Runs) != tc.runs {
			t.Errorf("%s: %d runs, want %d", tc.file, len(p.Runs), tc.runs)
		}
	}
	p, err := Load("../../../configs/sweeps/fig3.yaml", ovs)
	if err != nil {
		t.Fatal(err)
	}
	// Each run equals its configs/<task>/<strategy>.yaml (as finetune resolves it).
	for _, r := range p.Runs {
		c := r.Config
		if c.LR != 2e-5 || c.BatchSize != 32 || c.Epochs != 3 || c.MaxSeqLength != 128 || c.WarmupRatio != 0.1 {
			t.Fatalf("%s: %+v", r.ID, c)
		}
		want := config.Strategies[c.Strategy]
		if c.Mixout != want["mixout"].(float64) || c.DecayTarget != want["weight_decay_target"] {
			t.Fatalf("%s %s: mixout %g target %s", c.Task, c.Strategy, c.Mixout, c.DecayTarget)
		}
	}
	if p.Runs[0].Config.DataDir != "glue_data/RTE" || p.Runs[len(p.Runs)-1].Config.DataDir != "glue_data/STS-B" {
		t.Error("{task_dir} not expanded")
	}
}

// A sweep over the user's own files: task custom, the data settings in
// every run, and a GLUE task beside train_file refused.
func TestPlanOwnData(t *testing.T) {
	p := mustParse(t, `
base:
  model: models/toy
  train_file: data/train.csv
  validation_file: data/dev.csv
  text_columns: review
axes:
  strategy: [dropout, mixout]
`)
	if len(p.Runs) != 2 {
		t.Fatalf("%d runs", len(p.Runs))
	}
	for _, r := range p.Runs {
		c := r.Config
		if c.Task != "custom" || c.TrainFile != "data/train.csv" || c.ValidationFile != "data/dev.csv" || c.TextColumns != "review" {
			t.Errorf("run %s: %+v", r.ID, c)
		}
	}
	_, err := Parse("s.yaml", []byte("base:\n  model: m\n  task: rte\n  train_file: t.csv\n  validation_file: d.csv\n"), nil)
	if err == nil || !strings.Contains(err.Error(), `task: "rte" is not empty or custom: train_file gives your own data`) {
		t.Errorf("GLUE task with train_file: %v", err)
	}
}

// TestOverridesOnce: a setting given twice by --set, under one name or
// two, is refused as it is in base:.
func TestOverridesOnce(t *testing.T) {
	src := []byte("base: {model: m, data_dir: d, task: rte}")
	for _, ovs := range [][]Override{
		{{Key: "learning_rate", Value: "1e-5", Source: "flag --set"}, {Key: "lr", Value: "2e-5", Source: "flag --set"}},
		{{Key: "lr", Value: "1e-5", Source: "flag --set"}, {Key: "lr", Value: "2e-5", Source: "flag --set"}},
	} {
		if _, err := Parse("s.yaml", src, ovs); err == nil || !strings.Contains(err.Error(), "give it once") {
			t.Errorf("%v: %v", ovs, err)
		}
	}
}

// TestMergeKeys: YAML merge keys work in base: and axes:.
func TestMergeKeys(t *testing.T) {
	p := mustParse(t, "base:\n  <<: {model: m, data_dir: d, lr: 1.0e-5}\n  task: rte\n  lr: 2.0e-5\naxes:\n  - &g {seed: [1, 2]}\n  - {<<: *g, mixout: [0.5]}\n")
	if len(p.Runs) != 4 || p.Runs[0].Config.Model != "m" || p.Runs[0].Config.LR != 2e-5 || p.Runs[3].Config.Mixout != 0.5 {
		t.Errorf("%d runs, first %+v", len(p.Runs), p.Runs[0].Config)
	}
}
