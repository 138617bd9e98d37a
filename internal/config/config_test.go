package config

import (
	"encoding/json"
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
	if _, err := FromMap("x.yaml", map[string]any{"max_steps": 1.5}); err == nil || !strings.Contains(err.Error(), "x.yaml: key max_steps") {
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
	b = a
	b.Mixout = 0.5
	if k, _, _, changed := Changed(a, b); !changed || k != "mixout" {
		t.Errorf("changed mixout: %v at %s", changed, k)
	}
}
