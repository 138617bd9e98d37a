package config

import (
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

// TestValidateNamesTheKey: each bad value's error starts with its key.
func TestValidateNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		v   any
	}{
		{"mixout", 1.5}, {"mixout", -0.1}, {"lr", -1e-5}, {"lr", 0.0}, {"strategy", "dropconnect"},
		{"batch_size", 0}, {"grad_accum_steps", 3}, {"dropout", 1.0}, {"hidden_dropout", -0.5},
		{"weight_decay_target", "origin"}, {"mixout_grad", "approx"}, {"output_layer", "none"},
		{"warmup_ratio", 1.5}, {"warmup_steps", -2}, {"layer_lr_decay", 0.0}, {"adam_eps", 0.0},
		{"max_seq_length", 2}, {"do_lower_case", "yes"}, {"epochs", 0},
	} {
		r := valid()
		if err := r.Set(tc.key, tc.v); err != nil {
			t.Fatal(err)
		}
		err := r.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.key+":") {
			t.Errorf("%s=%v: err = %v", tc.key, tc.v, err)
		}
	}
	r := valid()
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
		{func(r *Run) { r.Task = "rte" }, `task: "rte" is a GLUE task, but train_file gives your own data`},
		{func(r *Run) { r.ValidationFile = "" }, "validation_file: required with train_file"},
		{func(r *Run) { r.TrainFile = "" }, "validation_file: given without train_file"},
		{func(r *Run) { r.TrainFile, r.ValidationFile, r.TestFile = "", "", "test.csv" }, "test_file: given without train_file"},
		{func(r *Run) { r.TrainFile, r.ValidationFile = "", "" }, "task: required (a GLUE task such as rte), or train_file"},
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
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "give train_file too") {
		t.Errorf("labels with a GLUE task: %v", err)
	}
}
