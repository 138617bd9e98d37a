package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/rundir"
)

// readJSON decodes the JSON file at path into v.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestLoggingStepsAndResults: with logging_steps 3, log.jsonl has a line
// every 3 steps and at the last, each with the mean loss of its steps;
// all_results.json holds Hugging Face's keys with the mean training loss,
// the final evaluation and rates; the start-up summary names what is in
// effect.
func TestLoggingStepsAndResults(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	cfg := resumeConfig(t, data)
	cfg.LoggingSteps, cfg.Dropout = 3, -1
	var losses []float64
	var logged []rundir.StepInfo
	tn, err := New(cfg, Options{Backend: cpu.New(2),
		OnStep: func(s rundir.StepInfo) { losses = append(losses, float64(s.Loss)) },
		OnLog:  func(s rundir.StepInfo) { logged = append(logged, s) }})
	if err != nil {
		t.Fatal(err)
	}
	sum := tn.StartSummary()
	for _, w := range []string{"16 train", "7 optimizer steps", "in 2 micro-batches of 2", "every 3 steps (loss averaged over them)",
		"mixout         0.5 toward the pretrained weights on 13 Linears", "hidden 0 (mixout replaces it), attention 0 (mixout replaces it), classifier 0.1 (the checkpoint's hidden_dropout_prob)",
		"0.01 toward the pretrained weights", mixoutInWords(false)} {
		if !strings.Contains(sum, w) {
			t.Errorf("start-up summary lacks %q:\n%s", w, sum)
		}
	}
	if got := tn.StrategyName(); got != "mixout 0.5 + wdecay(w_pre)" {
		t.Errorf("strategy name %q", got)
	}
	res, err := tn.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// log.jsonl: steps 3, 6 and 7, the loss averaged over each window.
	var lines []rundir.StepInfo
	raw, _ := os.ReadFile(filepath.Join(cfg.OutputDir, rundir.LogFile))
	for _, l := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var s rundir.StepInfo
		if err := json.Unmarshal(l, &s); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, s)
	}
	mean := func(xs []float64) float64 {
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	want := []struct {
		step int
		loss float64
	}{{3, mean(losses[0:3])}, {6, mean(losses[3:6])}, {7, losses[6]}}
	if len(lines) != len(want) || len(logged) != len(want) {
		t.Fatalf("log.jsonl %d lines, OnLog %d; want %d", len(lines), len(logged), len(want))
	}
	for i, w := range want {
		if lines[i].Step != w.step || math.Abs(float64(lines[i].Loss)-w.loss) > 1e-12 || lines[i] != logged[i] {
			t.Errorf("line %d: %+v, want step %d loss %v (OnLog %+v)", i, lines[i], w.step, w.loss, logged[i])
		}
	}
	// all_results.json.
	var all map[string]float64
	readJSON(t, filepath.Join(cfg.OutputDir, rundir.ResultsFile), &all)
	if math.Abs(all["train_loss"]-mean(losses)) > 1e-12 || all["epoch"] != 1.75 || all["train_samples"] != 16 {
		t.Errorf("all_results.json: train_loss %v (want %v), epoch %v, train_samples %v", all["train_loss"], mean(losses), all["epoch"], all["train_samples"])
	}
	for k, v := range res.Final.Metrics {
		if all["eval_"+k] != v {
			t.Errorf("eval_%s = %v, want %v", k, all["eval_"+k], v)
		}
	}
	for _, k := range []string{"train_runtime", "train_samples_per_second", "train_steps_per_second", "eval_runtime", "eval_samples_per_second"} {
		if !(all[k] > 0) {
			t.Errorf("%s = %v", k, all[k])
		}
	}
	if r := all["train_steps_per_second"] * all["train_runtime"]; math.Abs(r-7) > 1e-9 {
		t.Errorf("steps/s × runtime = %v, want 7", r)
	}
	if !slices.Equal(slices.Sorted(func(yield func(string) bool) {
		for k := range res.Summary {
			if !yield(k) {
				return
			}
		}
	}), slices.Sorted(func(yield func(string) bool) {
		for k := range all {
			if !yield(k) {
				return
			}
		}
	})) {
		t.Errorf("Result.Summary %v differs from all_results.json %v", res.Summary, all)
	}
}

// TestConfigYAMLResolved: config.yaml holds the resolved values (the
// checkpoint's dropouts, the thread count, the tokenizer's lower-casing,
// the schedule) and, under requested, what was given where it differs.
func TestConfigYAMLResolved(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	cfg := resumeConfig(t, data)
	cfg.Dropout, cfg.MaxSteps, cfg.Epochs = -1, 0, 1
	tn, err := New(cfg, Options{Backend: cpu.New(2)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(cfg.OutputDir, rundir.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"hidden_dropout": 0, "attention_dropout": 0, "classifier_dropout": 0.1, "threads": 2,
		"do_lower_case": "true", "max_steps": 4, "warmup_steps": 1, "mixout": 0.5, "lr": 1e-3} {
		if got[k] != v {
			t.Errorf("config.yaml %s: %v (%T), want %v", k, got[k], got[k], v)
		}
	}
	if _, ok := got["dropout"]; ok {
		t.Errorf("config.yaml has dropout %v, though the three dropouts differ", got["dropout"])
	}
	req, _ := got[config.RequestedKey].(map[string]any)
	for k, v := range map[string]any{"dropout": -1, "hidden_dropout": -1, "threads": 0, "do_lower_case": "auto", "max_steps": 0, "warmup_steps": -1} {
		if req[k] != v {
			t.Errorf("requested %s: %v, want %v", k, req[k], v)
		}
	}
	if len(req) != 8 { // and attention_dropout, classifier_dropout
		t.Errorf("requested holds %d settings: %v", len(req), req)
	}
}

// TestTrainerStateKeys: trainer_state.json uses snake_case keys only, and
// a state saved with the old Go-style keys ("Step") still resumes to the
// same weights and the same all_results.json train_loss.
func TestTrainerStateKeys(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	straight, _, err := runTo(t, resumeConfig(t, data), -1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := resumeConfig(t, data)
	if _, _, err := runTo(t, cfg, 4); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupt: %v", err)
	}
	path := filepath.Join(cfg.OutputDir, rundir.LastDir, rundir.StateFile)
	var saved struct {
		State  map[string]json.RawMessage `json:"state"`
		Config json.RawMessage            `json:"config"`
	}
	readJSON(t, path, &saved)
	for k := range saved.State {
		if k != strings.ToLower(k) || strings.ContainsAny(k, " -") {
			t.Errorf("trainer_state.json key %q is not snake_case", k)
		}
	}
	// The old layout: Go field names, no runtime or loss sums.
	old := map[string]json.RawMessage{}
	for k, v := range saved.State {
		switch k {
		case "runtime", "loss_sum", "loss_steps":
		default:
			old[strings.ToUpper(k[:1])+k[1:]] = v
		}
	}
	raw, _ := json.Marshal(map[string]any{"state": old, "config": saved.Config})
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Resume = true
	resumed, _, err := runTo(t, cfg, -1)
	if err != nil {
		t.Fatalf("resume from the old layout: %v", err)
	}
	w1, w2 := straight.Model().Weights(), resumed.Model().Weights()
	for name, v := range w1 {
		if !slices.Equal(v, w2[name]) {
			t.Errorf("%s differs after resuming the old layout", name)
		}
	}
	if s := resumed.State(); s.LossSteps != 3 {
		t.Errorf("the old layout has no loss sum: %d steps counted after the resume, want 3", s.LossSteps)
	}
}

// TestResumeKeepsTrainLoss: a resumed run's train_loss is the mean over
// every step, the ones before the interruption included; the resume may
// change logging_steps.
func TestResumeKeepsTrainLoss(t *testing.T) {
	needFixtures(t)
	data := writeRTE(t, readTrajectory(t, "A"))
	_, want, err := runTo(t, resumeConfig(t, data), -1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := resumeConfig(t, data)
	if _, _, err := runTo(t, cfg, 4); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupt: %v", err)
	}
	cfg.Resume, cfg.LoggingSteps = true, 2 // the logging interval may change
	if _, _, err := runTo(t, cfg, -1); err != nil {
		t.Fatal(err)
	}
	var all map[string]float64
	readJSON(t, filepath.Join(cfg.OutputDir, rundir.ResultsFile), &all)
	s := 0.0
	for _, l := range want {
		s += l
	}
	if got := all["train_loss"]; math.Abs(got-s/float64(len(want))) > 1e-12 {
		t.Errorf("train_loss %v, want %v", got, s/float64(len(want)))
	}
}
