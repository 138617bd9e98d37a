package train

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/model/familytest"
	"github.com/mixft/mixft/internal/safetensors"
)

// TestModernBERTStepsMatchReference runs the training step (Step.Run) 10
// times on each ModernBERT fixture's batch with torch.optim.AdamW's
// settings (constant lr, no clipping, weight decay on dense weights and
// embeddings) and compares every step's loss and every parameter after
// the 10th step with transformers' classes trained the same way: 1e-5
// relative (each tensor against its largest value).
func TestModernBERTStepsMatchReference(t *testing.T) {
	for _, name := range []string{"C", "R", "M"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(familytest.ModernDir(), name)
			ck, err := model.Load(filepath.Join(dir, "checkpoint"), model.LoadOptions{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
			if err != nil {
				t.Fatal(err)
			}
			var in struct {
				InputIDs      [][]int32 `json:"input_ids"`
				AttentionMask [][]int32 `json:"attention_mask"`
				Labels        []float64 `json:"labels"`
				Steps         struct {
					LR          float64    `json:"lr"`
					Betas       [2]float64 `json:"betas"`
					Eps         float64    `json:"eps"`
					WeightDecay float64    `json:"weight_decay"`
					Steps       int        `json:"steps"`
				} `json:"steps"`
			}
			if err := json.Unmarshal(raw, &in); err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.Open(filepath.Join(dir, "reference.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ref := func(n string) []float32 {
				v, err := f.Float32(n)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			b := &model.Batch{Size: len(in.InputIDs), Seq: len(in.InputIDs[0])}
			mb := MicroBatch{Batch: b}
			for i := range in.InputIDs {
				b.InputIDs = append(b.InputIDs, in.InputIDs[i]...)
				b.AttentionMask = append(b.AttentionMask, in.AttentionMask[i]...)
				if ck.Config.Regression() {
					mb.Targets = append(mb.Targets, float32(in.Labels[i]))
				} else {
					mb.Labels = append(mb.Labels, int32(in.Labels[i]))
				}
			}
			m, err := model.New(cpu.New(2), ck.Config, ck.Weights)
			if err != nil {
				t.Fatal(err)
			}
			cfg := config.Default()
			cfg.MaxSeqLength, cfg.Dropout, cfg.MaxGradNorm = b.Seq, 0, 0
			cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay = in.Steps.Betas[0], in.Steps.Betas[1], in.Steps.Eps, in.Steps.WeightDecay
			s, err := NewStep(m, ck.Weights, cfg)
			if err != nil {
				t.Fatal(err)
			}
			losses := ref("step_losses")
			for k := 0; k < in.Steps.Steps; k++ {
				loss, _, err := s.Run([]MicroBatch{mb}, uint64(k), in.Steps.LR)
				if err != nil {
					t.Fatal(err)
				}
				if e := math.Abs(loss-float64(losses[k])) / math.Abs(float64(losses[k])); e > 1e-5 {
					t.Errorf("step %d: loss %.7g, reference %.7g (relative error %.3g)", k+1, loss, losses[k], e)
				}
			}
			w := m.Weights()
			for _, p := range ck.Config.ParamSpecs() {
				want := ref("after/" + p.Name)
				var d, sc float64
				for i, x := range want {
					d = math.Max(d, math.Abs(float64(w[p.Name][i])-float64(x)))
					sc = math.Max(sc, math.Abs(float64(x)))
				}
				if d > 1e-5*sc {
					t.Errorf("%s after %d steps: max difference %.3g, %.3g relative", p.Name, in.Steps.Steps, d, d/sc)
				}
			}
		})
	}
}
