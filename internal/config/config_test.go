package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func valid() Run {
	r := Default()
	r.Model, r.Task, r.DataDir, r.OutputDir = "m", "rte", "d", "o"
	return r
}

func TestDefaultIsValidAndFieldsRoundTrip(t *testing.T) {
	r := valid()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	m := r.Map()
	for _, f := range Fields() {
		if f.Key == "" || f.Help == "" {
			t.Errorf("field %+v lacks a key or help", f)
		}
		if err := r.Set(f.Key, m[f.Key]); err != nil {
			t.Errorf("Set(%s): %v", f.Key, err)
		}
	}
	if err := r.Set("lr", 1); err == nil {
		t.Error("Set accepted an int for a float setting")
	}
	if err := r.Set("nope", 1.0); err == nil {
		t.Error("Set accepted an unknown key")
	}
}

// TestValidateNamesTheKey: each bad value's error is a *FieldError of its
// key, and its message starts with the key.
func TestValidateNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		v   any
	}{
		{"mixout", 1.5}, {"mixout", -0.1}, {"lr", -1e-5}, {"lr", 0.0}, {"strategy", "dropconnect"},
		{"batch_size", 0}, {"grad_accum_steps", 3}, {"dropout", 1.0}, {"hidden_dropout", -0.5},
		{"weight_decay_target", "origin"}, {"mixout_grad", "approx"}, {"output_layer", "none"},
		{"warmup_ratio", 1.5}, {"warmup_steps", -2}, {"layer_lr_decay", 0.0}, {"adam_eps", 0.0},
		{"max_seq_length", 2}, {"do_lower_case", "yes"}, {"epochs", 0}, {"save_total_limit", -1},
	} {
		r := valid()
		if err := r.Set(tc.key, tc.v); err != nil {
			t.Fatal(err)
		}
		err := r.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Key != tc.key || fe.Missing || !strings.HasPrefix(err.Error(), tc.key+":") {
			t.Errorf("%s=%v: err = %v", tc.key, tc.v, err)
		}
	}
	r := valid()
	r.Model = ""
	var fe *FieldError
	if err := r.Validate(); !errors.As(err, &fe) || fe.Key != "model" || !fe.Missing {
		t.Errorf("no model: %v", err)
	}
	r = valid()
	r.Resume, r.Overwrite = true, true
	if err := r.Validate(); !errors.As(err, &fe) || fe.Key != "overwrite" {
		t.Errorf("resume and overwrite: %v", err)
	}
	r = valid()
	r.Mixout = 1 // p = 1 is allowed: W~ = U
	if err := r.Validate(); err != nil {
		t.Error(err)
	}
}

func TestDropoutsResolution(t *testing.T) {
	for _, tc := range []struct {
		name          string
		set           func(r *Run)
		wantH, wantA  float64
		wantC         float64
		ckH, ckA, ckC float64
	}{
		{"checkpoint values", func(r *Run) {}, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1},
		{"--dropout sets all", func(r *Run) { r.Dropout = 0.3 }, 0.3, 0.3, 0.3, 0.1, 0.1, 0.1},
		{"finer wins", func(r *Run) { r.Dropout, r.ClassifierDropout = 0.3, 0 }, 0.3, 0.3, 0, 0.1, 0.1, 0.1},
		{"mixout zeroes the encoder", func(r *Run) { r.Mixout = 0.7 }, 0, 0, 0.1, 0.1, 0.1, 0.1},
		{"mixout on the output layer", func(r *Run) { r.Mixout, r.OutputLayer = 0.7, "mixout" }, 0, 0, 0, 0.1, 0.1, 0.1},
		{"mixout with explicit dropout", func(r *Run) { r.Mixout, r.Dropout = 0.7, 0.1 }, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1},
	} {
		r := valid()
		tc.set(&r)
		h, a, c := r.Dropouts(tc.ckH, tc.ckA, tc.ckC)
		if h != tc.wantH || a != tc.wantA || c != tc.wantC {
			t.Errorf("%s: %g %g %g, want %g %g %g", tc.name, h, a, c, tc.wantH, tc.wantA, tc.wantC)
		}
	}
}

// TestResolveDropoutsFrom: each probability names the setting (or the
// checkpoint, or mixout) it came from.
func TestResolveDropoutsFrom(t *testing.T) {
	r := valid()
	r.Mixout, r.ClassifierDropout = 0.7, 0.2
	h, a, c := r.ResolveDropouts(0.1, 0.1, 0.1)
	if h != (Dropout{0, "mixout"}) || a != (Dropout{0, "mixout"}) || c != (Dropout{0.2, "classifier_dropout"}) {
		t.Errorf("mixout, classifier_dropout 0.2: %v %v %v", h, a, c)
	}
	r = valid()
	r.AttentionDropout = 0
	h, a, c = r.ResolveDropouts(0.1, 0.05, 0.3)
	if h != (Dropout{0.1, "checkpoint"}) || a != (Dropout{0, "attention_dropout"}) || c != (Dropout{0.3, "checkpoint"}) {
		t.Errorf("attention_dropout 0: %v %v %v", h, a, c)
	}
	r.Dropout, r.Mixout = 0.25, 0.7
	if h, _, _ = r.ResolveDropouts(0.1, 0.1, 0.1); h != (Dropout{0.25, "dropout"}) {
		t.Errorf("dropout 0.25 with mixout: %v", h)
	}
}

// TestRegularization: the paper's notation, every dropout at once when
// they agree, the checkpoint's when not resolved.
func TestRegularization(t *testing.T) {
	for _, tc := range []struct {
		set  func(r *Run)
		want string
	}{
		{func(r *Run) { r.Dropout = 0.1 }, "dropout(0.1) + wdecay(0, 0.01)"},
		{func(r *Run) {}, "wdecay(0, 0.01), dropout: the checkpoint's"},
		{func(r *Run) { r.Mixout, r.DecayTarget = 0.7, "pretrained" }, "mixout(w_pre, 0.7) + wdecay(w_pre, 0.01), dropout: hidden 0, attention 0, classifier the checkpoint's"},
		{func(r *Run) { r.Mixout, r.ClassifierDropout = 0.7, 0.1 }, "mixout(w_pre, 0.7) + wdecay(0, 0.01), dropout: hidden 0, attention 0, classifier 0.1"},
		{func(r *Run) { r.Mixout, r.OutputLayer, r.WeightDecay = 0.5, "mixout", 0 }, "mixout(w_pre, 0.5), classifier mixout(w_0, 0.5)"},
		{func(r *Run) { r.WeightDecay, r.HiddenDropout, r.AttentionDropout, r.ClassifierDropout = 0, 0, 0, 0 }, "none"},
	} {
		r := valid()
		tc.set(&r)
		if got := r.Regularization(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestApplyStrategyKeepsExplicitSettings(t *testing.T) {
	r := valid()
	r.Strategy, r.Mixout = "mixout-wdecay-pre", 0.9
	if err := r.ApplyStrategy(func(k string) bool { return k == "mixout" }); err != nil {
		t.Fatal(err)
	}
	if r.Mixout != 0.9 || r.DecayTarget != "pretrained" || r.WeightDecay != 0.01 {
		t.Errorf("after preset: mixout %g, target %s, wd %g", r.Mixout, r.DecayTarget, r.WeightDecay)
	}
	for name := range Strategies {
		r := valid()
		r.Strategy = name
		if err := r.ApplyStrategy(func(string) bool { return false }); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFromMapAndChanged(t *testing.T) {
	r := valid()
	r.Seed, r.LR, r.MaxSteps = 1<<60+1, 3e-5, 7
	got, err := FromMap("x", map[string]any{"seed": json.Number("1152921504606846977"), "lr": 3e-5, "max_steps": 7.0,
		"model": "m", "task": "rte", "data_dir": "d", "output_dir": "elsewhere", "unknown_key": 1})
	if err != nil {
		t.Fatal(err)
	}
	if k, was, is, changed := Changed(got, r); changed {
		t.Errorf("round trip changed %s: %v -> %v", k, was, is)
	}
	if _, err := FromMap("x.yaml", map[string]any{"max_steps": 1.5}); err == nil || err.Error() != `x.yaml: max_steps: "1.5" is not an integer` {
		t.Errorf("non-integer max_steps: %v", err)
	}
	dir := t.TempDir()
	a, b := r, r
	a.Model, b.Model = dir, dir+"/./"
	if k, _, _, changed := Changed(a, b); changed {
		t.Errorf("the same directory spelled two ways counts as changed (%s)", k)
	}
	b.Model = t.TempDir()
	if k, _, _, changed := Changed(a, b); !changed || k != "model" {
		t.Errorf("another model directory: changed %v at %s", changed, k)
	}
	// Your own data files count as the same when they are the same file.
	train := dir + "/train.csv"
	if err := os.WriteFile(train, []byte("text,label\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b = r, r
	a.TrainFile, b.TrainFile = train, dir+"/../"+filepath.Base(dir)+"/train.csv"
	if k, _, _, changed := Changed(a, b); changed {
		t.Errorf("the same train_file spelled two ways counts as changed (%s)", k)
	}
	b.TrainFile = dir + "/other.csv"
	if k, _, _, changed := Changed(a, b); !changed || k != "train_file" {
		t.Errorf("another train_file: changed %v at %s", changed, k)
	}
	b = a
	b.Mixout = 0.5
	if k, _, _, changed := Changed(a, b); !changed || k != "mixout" {
		t.Errorf("changed mixout: %v at %s", changed, k)
	}
}

// TestFieldErrorMessage: one line, with the source when known.
func TestFieldErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{Key: "lr", Value: "-1", Expected: "a positive learning rate"}, "lr: -1 is not a positive learning rate"},
		{FieldError{Key: "lr", Value: "-1", Expected: "positive", Source: "flag --lr"}, "flag --lr: lr: -1 is not positive"},
		{FieldError{Key: "model", Missing: true, Expected: "the model directory"}, "model: required (the model directory)"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}

// TestPtrBindsTheField: a write through Ptr is the field's value.
func TestPtrBindsTheField(t *testing.T) {
	r := Default()
	*r.Ptr("lr").(*float64) = 3e-5
	*r.Ptr("task").(*string) = "rte"
	if r.LR != 3e-5 || r.Task != "rte" || r.Ptr("nope") != nil {
		t.Errorf("lr %g task %q", r.LR, r.Task)
	}
}

// TestAliases: each Hugging Face name stands for a mixft key; mixft keys
// stand for themselves.
func TestAliases(t *testing.T) {
	keys := map[string]bool{}
	for _, f := range Fields() {
		keys[f.Key] = true
	}
	for _, a := range Aliases {
		if !keys[a.Key] || keys[a.Name] || Canonical(a.Name) != a.Key {
			t.Errorf("alias %s -> %s", a.Name, a.Key)
		}
	}
	for _, hf := range []string{"warmup_ratio", "warmup_steps", "weight_decay", "max_steps", "seed", "output_dir", "max_grad_norm", "adam_beta1", "adam_beta2", "eval_steps"} {
		if !keys[hf] || Canonical(hf) != hf {
			t.Errorf("%s is not a mixft key", hf)
		}
	}
	if Canonical("learning_rate") != "lr" {
		t.Error("learning_rate is not lr")
	}
}

func TestSuggest(t *testing.T) {
	valid := []string{"batch_size", "eval_batch_size", "model", "max_steps", "threads", "lr"}
	for in, want := range map[string]string{
		"batch_sise": "batch_size", "batch": "batch_size", "modle": "model", "Model": "model",
		"max_step": "max_steps", "workers": "", "xyz": "", "l": "lr",
	} {
		if got := Suggest(in, valid); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestResolve: defaults, then the given values, then the preset for what
// was not given.
func TestResolve(t *testing.T) {
	r, err := Resolve(map[string]any{"strategy": "mixout-wdecay-pre", "mixout": 0.9, "lr": 3e-5})
	if err != nil {
		t.Fatal(err)
	}
	if r.Mixout != 0.9 || r.DecayTarget != "pretrained" || r.LR != 3e-5 || r.BatchSize != Default().BatchSize {
		t.Errorf("%+v", r)
	}
	var fe *FieldError
	if _, err := Resolve(map[string]any{"lr": 1}); !errors.As(err, &fe) || fe.Key != "lr" {
		t.Errorf("an int for lr: %v", err)
	}
}

// Your own data replaces task and data_dir; its settings need train_file.
func TestValidateOwnData(t *testing.T) {
	own := func() Run {
		r := Default()
		r.Model, r.OutputDir, r.TrainFile, r.ValidationFile = "m", "o", "train.csv", "dev.csv"
		return r
	}
	for _, ok := range []func(*Run){
		func(*Run) {},
		func(r *Run) { r.Task, r.TestFile = "custom", "test.jsonl" },
		func(r *Run) { r.Problem, r.DataFormat, r.ReportTo = "regression", "jsonl", "tensorboard" },
		func(r *Run) { r.TextColumns, r.Labels, r.Problem = "a,b", "x,y", "auto" },
	} {
		r := own()
		ok(&r)
		if err := r.Validate(); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	for _, tc := range []struct {
		change func(*Run)
		want   string
	}{
		{func(r *Run) { r.Task = "rte" }, `task: "rte" is not empty or custom: train_file gives your own data`},
		{func(r *Run) { r.ValidationFile = "" }, "validation_file: required (your own dev data, with train_file)"},
		{func(r *Run) { r.TrainFile = "" }, "train_file: required (your own training data, with validation_file)"},
		{func(r *Run) { r.TrainFile, r.ValidationFile, r.TestFile = "", "", "test.csv" }, "train_file: required (your own training data, with test_file"},
		{func(r *Run) { r.TrainFile, r.ValidationFile = "", "" }, "task: required (a GLUE task such as rte, or train_file and validation_file"},
		{func(r *Run) { r.Problem = "ranking" }, `problem: "ranking" is not classification, regression or auto`},
		{func(r *Run) { r.DataFormat = "xml" }, `data_format: "xml" is not csv, tsv, jsonl or json`},
		{func(r *Run) { r.ReportTo = "wandb" }, `report_to: "wandb" is not none or tensorboard`},
		{func(r *Run) { r.LabelColumn = "" }, `label_column: "" is not a column name`},
	} {
		r := own()
		tc.change(&r)
		if err := r.Validate(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q...", err, tc.want)
		}
	}
	r := valid()
	r.Labels = "a,b"
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "train_file: required (text_columns, label_column, labels, problem and data_format describe your own data") {
		t.Errorf("labels with a GLUE task: %v", err)
	}
}
