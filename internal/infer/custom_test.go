package infer

import (
	"math"
	"testing"

	"github.com/mixft/mixft/internal/data"
)

// A custom task is scored with accuracy and macro-F1 (and regression with
// Pearson and Spearman), not with a GLUE task's metrics.
func TestMetricsCustomTask(t *testing.T) {
	spec := data.CustomSpec{Files: map[string]string{"test": "unread.csv"}, TextColumns: []string{"text"}}
	cls := spec
	cls.Labels = []string{"a", "b", "c"}
	task, err := data.NewCustomTask(cls)
	if err != nil {
		t.Fatal(err)
	}
	ex := []data.Example{{LabelID: 0, HasLabel: true}, {LabelID: 1, HasLabel: true}, {LabelID: 2, HasLabel: true}, {LabelID: 2, HasLabel: true}}
	preds := []Prediction{{Class: 0}, {Class: 2}, {Class: 2}, {Class: 2}}
	m, err := Metrics(task, ex, preds)
	if err != nil {
		t.Fatal(err)
	}
	// F1 per class: a 1, b 0, c 2*2/(4+1) = 0.8.
	if m["accuracy"] != 0.75 || math.Abs(m["macro_f1"]-1.8/3) > 1e-15 || len(m) != 2 {
		t.Errorf("classification metrics %v", m)
	}

	reg := spec
	reg.Problem = data.ProblemRegression
	if task, err = data.NewCustomTask(reg); err != nil {
		t.Fatal(err)
	}
	ex = []data.Example{{Score: 1, HasLabel: true}, {Score: 2, HasLabel: true}, {Score: 3, HasLabel: true}}
	preds = []Prediction{{Score: 10}, {Score: 20}, {Score: 40}}
	if m, err = Metrics(task, ex, preds); err != nil {
		t.Fatal(err)
	}
	if math.Abs(m["spearmanr"]-1) > 1e-15 || !(m["pearson"] > 0.98 && m["pearson"] < 0.99) || m["combined_score"] != (m["pearson"]+m["spearmanr"])/2 {
		t.Errorf("regression metrics %v", m)
	}
}

func TestLoss(t *testing.T) {
	rte, _ := data.LookupTask("rte")
	ex := []data.Example{{LabelID: 0, HasLabel: true}, {LabelID: 1, HasLabel: true}}
	preds := []Prediction{{Logits: []float32{2, 0}}, {Logits: []float32{0, 0}}}
	// -log(e^2/(e^2+1)) and log 2.
	want := (math.Log(1+math.Exp(-2)) + math.Log(2)) / 2
	if got, err := Loss(rte, ex, preds); err != nil || math.Abs(got-want) > 1e-12 {
		t.Errorf("cross-entropy %v, %v; want %v", got, err, want)
	}
	// Large logits do not overflow.
	if got, _ := Loss(rte, ex[:1], []Prediction{{Logits: []float32{1000, 0}}}); got != 0 {
		t.Errorf("cross-entropy of a sure right answer %v, want 0", got)
	}
	stsb, _ := data.LookupTask("sts-b")
	reg := []data.Example{{Score: 1, HasLabel: true}, {Score: 4, HasLabel: true}}
	if got, _ := Loss(stsb, reg, []Prediction{{Logits: []float32{2}}, {Logits: []float32{4}}}); got != 0.5 {
		t.Errorf("squared error %v, want 0.5", got)
	}
	if _, err := Loss(rte, []data.Example{{LabelID: -1}}, preds[:1]); err == nil {
		t.Error("loss of an unlabelled example: no error")
	}
}
