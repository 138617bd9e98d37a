package train

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/safetensors"
)

type trajectory struct {
	Train struct {
		fixtureBatch
		Texts [][2]string `json:"texts"`
	} `json:"train"`
	Eval  fixtureBatch `json:"eval"`
	Steps []struct {
		LR       float64 `json:"lr"`
		Loss     float64 `json:"loss"`
		GradNorm float64 `json:"grad_norm_before_clip"`
	} `json:"steps"`
}

func readTrajectory(t *testing.T, dir string) trajectory {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtures, "trajectory", dir, "trajectory.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr trajectory
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// writeRTE writes the trajectory's training texts as an RTE train and dev set.
func writeRTE(t *testing.T, tr trajectory) string {
	t.Helper()
	dir := t.TempDir()
	labels := []string{"entailment", "not_entailment"}
	var sb strings.Builder
	sb.WriteString("index\tsentence1\tsentence2\tlabel\n")
	for i, tx := range tr.Train.Texts {
		fmt.Fprintf(&sb, "%d\t%s\t%s\t%s\n", i, tx[0], tx[1], labels[tr.Train.Labels[i]])
	}
	for _, f := range []string{"train.tsv", "dev.tsv"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestTrajectoryMatchesReference runs `finetune` end to end (TSV, tokenizer,
// trainer) for the 10 full-batch steps of fixtures/trajectory/A and compares
// the loss of every step (abs 1e-5) and the final eval logits (abs 1e-4).
func TestTrajectoryMatchesReference(t *testing.T) {
	needFixtures(t)
	tr := readTrajectory(t, "A")
	cfg := config.Default()
	cfg.Model, cfg.Task, cfg.DataDir, cfg.OutputDir = filepath.Join(fixtures, "checkpoints/A"), "rte", writeRTE(t, tr), t.TempDir()
	cfg.BatchSize, cfg.MaxSteps, cfg.WarmupSteps, cfg.LR, cfg.WeightDecay, cfg.Dropout = 16, 10, 2, 1e-4, 0.01, 0
	cfg.MaxSeqLength = 64
	var losses, norms []float64
	tn, err := New(cfg, Options{Backend: cpu.New(2), OnStep: func(s rundir.StepInfo) {
		losses = append(losses, float64(s.Loss))
		norms = append(norms, float64(s.GradNorm))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(losses) != len(tr.Steps) {
		t.Fatalf("%d steps, want %d", len(losses), len(tr.Steps))
	}
	for k, s := range tr.Steps {
		if math.Abs(losses[k]-s.Loss) > 1e-5 {
			t.Errorf("step %d: loss %.7f, want %.7f", k+1, losses[k], s.Loss)
		}
		if math.Abs(norms[k]-s.GradNorm) > 1e-5*math.Max(1, s.GradNorm) {
			t.Errorf("step %d: grad norm %.6f, want %.6f", k+1, norms[k], s.GradNorm)
		}
	}
	checkEvalLogits(t, tn.Model(), tr, "A")
}

// checkEvalLogits runs the trajectory's eval batch through m (eval mode).
func checkEvalLogits(t *testing.T, m *model.Model, tr trajectory, dir string) {
	t.Helper()
	b := tr.Eval.batch()
	a := m.NewActivations(b.Size, b.Seq)
	m.Forward(b, a)
	got := m.Logits(a, b.Size)
	ref, err := safetensors.Open(filepath.Join(fixtures, "trajectory", dir, "eval_logits.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	want, _ := ref.Float32("eval_logits")
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4 {
			t.Errorf("eval logit %d = %g, want %g", i, got[i], want[i])
		}
	}
}

// TestMixoutTrajectoryMatchesReference replays the mixout authors' masks
// of fixtures/trajectory/A-mixout0.7 (every Linear, p 0.7, reference
// backward) through 10 steps of forward, backward, clipping and AdamW.
func TestMixoutTrajectoryMatchesReference(t *testing.T) {
	needFixtures(t)
	tr := readTrajectory(t, "A-mixout0.7")
	ck, err := model.Load(filepath.Join(fixtures, "checkpoints/A"), model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New(2)
	m, err := model.New(be, ck.Config, ck.Weights)
	if err != nil {
		t.Fatal(err)
	}
	// Mixout on every Linear (the classifier too), the authors' backward.
	cfg := config.Default()
	cfg.Mixout, cfg.MixoutGrad, cfg.OutputLayer = 0.7, "reference", "mixout"
	st := fixtureStep(t, m, ck.Weights, cfg, 0.01)
	masks, err := safetensors.Open(filepath.Join(fixtures, "trajectory/A-mixout0.7/masks.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer masks.Close()
	b := tr.Train.batch()
	a := m.NewActivations(b.Size, b.Seq)
	// The step's own mask draw is replaced by the authors' masks.
	for k, s := range tr.Steps {
		for _, l := range m.Linears() {
			mask, err := masks.Float32(fmt.Sprintf("step%d/%s", k+1, l.Name))
			if err != nil {
				t.Fatal(err)
			}
			be.Upload(l.Mix.Mask, mask)
		}
		m.MixWeights()
		m.ForwardTrain(b, a, model.TrainStep{})
		loss, err := m.Loss(a, tr.Train.Labels, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		m.Backward(b, a, st.Grads)
		norm := st.Update(1e-4 * LinearSchedule(k, 2, 10))
		if math.Abs(loss-s.Loss) > 1e-5 {
			t.Errorf("step %d: loss %.7f, want %.7f", k+1, loss, s.Loss)
		}
		if math.Abs(norm-s.GradNorm) > 1e-5*math.Max(1, s.GradNorm) {
			t.Errorf("step %d: grad norm %.6f, want %.6f", k+1, norm, s.GradNorm)
		}
	}
	checkEvalLogits(t, m, tr, "A-mixout0.7")
}
