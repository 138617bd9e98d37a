package main

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/model"
)

// smallRTE writes the first n rows of RTE's train.tsv and dev.tsv.
func smallRTE(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"train.tsv", "dev.tsv"} {
		raw, err := os.ReadFile(filepath.Join(shared, "glue/RTE", f))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(raw), "\n")
		if err := os.WriteFile(filepath.Join(dir, f), []byte(strings.Join(lines[:n+1], "")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestEvalUsesTheFinetunedLengthAndTrainerKeys: a model finetuned with
// max_seq_length 24 records it in its config.json; eval (no
// --max-seq-length) then scores the dev set as the run's own final
// evaluation did: the same loss and accuracy, printed under the Trainer's
// keys (eval_loss, eval_accuracy, eval_samples) beside the earlier bare
// names. A checkpoint of an older mixft (no record) inside its run
// directory takes the run's config.yaml; copied elsewhere, the default
// 128, which scores differently. --max-seq-length still wins.
func TestEvalUsesTheFinetunedLengthAndTrainerKeys(t *testing.T) {
	needShared(t)
	data := smallRTE(t, 48)
	out := filepath.Join(t.TempDir(), "run")
	if code, _, stderr := mixft(t, "finetune", "--model", toyModel(t, "rte"), "--task", "rte", "--data-dir", data, "--output-dir", out,
		"--max-steps", "4", "--eval-steps", "4", "--batch-size", "8", "--max-seq-length", "24", "--lr", "1e-2"); code != 0 {
		t.Fatalf("finetune: %s", stderr)
	}
	raw, _ := os.ReadFile(filepath.Join(out, "metrics.json"))
	var mf struct {
		Final struct {
			Metrics map[string]float64 `json:"metrics"`
		} `json:"final"`
	}
	if err := json.Unmarshal(raw, &mf); err != nil {
		t.Fatal(err)
	}
	want := mf.Final.Metrics
	last := filepath.Join(out, "last")
	ck, err := model.Load(last, model.LoadOptions{})
	if err != nil || ck.Config.FinetunedMaxSeqLen() != 24 {
		t.Fatalf("last/config.json records max_seq_length %d (%v), want 24", ck.Config.FinetunedMaxSeqLen(), err)
	}
	eval := func(dir string, args ...string) map[string]any {
		return evalJSON(t, append([]string{"--model", dir, "--task", "rte", "--data-dir", data}, args...)...)
	}
	close := func(got any, want float64) bool { g, ok := got.(float64); return ok && math.Abs(g-want) < 1e-9 }
	m := eval(last)
	if !close(m["eval_loss"], want["loss"]) || !close(m["eval_accuracy"], want["accuracy"]) || m["eval_accuracy"] != m["accuracy"] ||
		m["eval_samples"] != 48.0 || m["num_examples"] != 48.0 || m["eval_runtime"] == nil || m["loss"] != nil {
		t.Errorf("eval --json of last/: %v; the run's final evaluation: %v", m, want)
	}
	// A checkpoint without the record: the run's config.yaml, else 128.
	cfgPath := filepath.Join(last, "config.json")
	raw, _ = os.ReadFile(cfgPath)
	var c map[string]any
	json.Unmarshal(raw, &c)
	delete(c, model.FinetunedMaxSeqKey)
	raw, _ = json.Marshal(c)
	os.WriteFile(cfgPath, raw, 0o644)
	if m := eval(last); !close(m["eval_loss"], want["loss"]) {
		t.Errorf("old checkpoint in its run directory: eval_loss %v, want %v", m["eval_loss"], want["loss"])
	}
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(last, moved); err != nil {
		t.Fatal(err)
	}
	at128 := eval(moved)
	if close(at128["eval_loss"], want["loss"]) {
		t.Errorf("a moved old checkpoint evaluates at max_seq_length 24, not the default 128: %v vs %v", at128["eval_loss"], want["loss"])
	}
	if m := eval(moved, "--max-seq-length", "24"); !close(m["eval_loss"], want["loss"]) {
		t.Errorf("--max-seq-length 24: eval_loss %v, want %v", m["eval_loss"], want["loss"])
	}
}

// TestPredictProbabilities: --probabilities adds each row's class
// probabilities (softmax of the logits, in label order), which sum to 1
// and whose largest is the predicted label; regression refuses it.
func TestPredictProbabilities(t *testing.T) {
	needShared(t)
	m := toyModel(t, "rte")
	out := filepath.Join(t.TempDir(), "preds.jsonl")
	code, _, stderr := mixft(t, "predict", "--model", m, "--task", "rte", "--input", filepath.Join(smallRTE(t, 20), "dev.tsv"),
		"--output", out, "--probabilities")
	if code != 0 {
		t.Fatalf("predict: %s", stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	rows := 0
	for sc.Scan() {
		var r struct {
			Logits        []float64 `json:"logits"`
			Probabilities []float64 `json:"probabilities"`
			Prediction    string    `json:"prediction"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		rows++
		if len(r.Probabilities) != 2 {
			t.Fatalf("row %d: probabilities %v", rows, r.Probabilities)
		}
		// softmax of two logits: p1 = 1/(1+exp(l0-l1)).
		p1 := 1 / (1 + math.Exp(r.Logits[0]-r.Logits[1]))
		if math.Abs(r.Probabilities[1]-p1) > 1e-12 || math.Abs(r.Probabilities[0]+r.Probabilities[1]-1) > 1e-12 {
			t.Errorf("row %d: probabilities %v for logits %v", rows, r.Probabilities, r.Logits)
		}
		if want := map[bool]string{true: "not_entailment", false: "entailment"}[p1 > r.Probabilities[0]]; r.Prediction != want {
			t.Errorf("row %d: prediction %s with probabilities %v", rows, r.Prediction, r.Probabilities)
		}
	}
	if rows != 20 {
		t.Errorf("%d rows, want 20", rows)
	}
	code, _, stderr = mixft(t, "predict", "--model", toyModel(t, "sts-b"), "--task", "sts-b", "--input", filepath.Join(shared, "glue/STS-B/dev.tsv"),
		"--output", filepath.Join(t.TempDir(), "p.jsonl"), "--probabilities")
	if code != 1 || !strings.Contains(stderr, "probabilities") || !strings.Contains(stderr, "regression") {
		t.Errorf("regression with --probabilities: exit %d: %s", code, stderr)
	}
}
