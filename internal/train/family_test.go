package train

import (
	"encoding/json"
	"os"
	"path/filepath"

	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/model/familytest"
	"github.com/mixft/mixft/internal/safetensors"
)

// TestFamilyFinetuneMixout: a few steps of train.Step with mixout 0.7 on
// each family's bare checkpoint (head new, as finetuning a released model),
// on the fixtures' token ids: the loss stays finite, every pretrained
// Linear is mixed and moves, and the saved model reloads to bit-identical
// logits.
func TestFamilyFinetuneMixout(t *testing.T) {
	for _, fam := range familytest.Families {
		t.Run(fam, func(t *testing.T) {
			ck, batches := familytest.Load(t, fam, "C")
			var lay model.Params
			ck.Config.Layout(&lay)
			head := []string{lay.Pooler.Name + ".weight", lay.Pooler.Name + ".bias", lay.Classifier.Name + ".weight", lay.Classifier.Name + ".bias"}
			pre := maps.Clone(ck.Weights) // a checkpoint without the head: it is new
			for _, n := range head {
				delete(pre, n)
			}
			m, err := model.New(cpu.New(1), ck.Config, ck.Weights)
			if err != nil {
				t.Fatal(err)
			}
			cfg := config.Default()
			cfg.Mixout, cfg.MaxSeqLength, cfg.Seed = 0.7, 64, 5
			st, err := NewStep(m, pre, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range m.Linears() {
				if want := l != &m.Pooler && l != &m.Classifier; (l.Mix != nil) != want {
					t.Fatalf("%s: mixed %v, want %v", l.Name, l.Mix != nil, want)
				}
			}
			b := batches["batch1"]
			labels := make([]int32, len(b.Labels))
			for i, y := range b.Labels {
				labels[i] = int32(y)
			}
			for step := range 3 {
				loss, norm, err := st.Run([]MicroBatch{{Batch: b.Batch, Labels: labels}}, uint64(step), 1e-3)
				if err != nil {
					t.Fatal(err)
				}
				if math.IsNaN(loss) || math.IsInf(loss, 0) || !(norm > 0) {
					t.Fatalf("step %d: loss %g, gradient norm %g", step, loss, norm)
				}
			}
			w := m.Weights()
			for _, l := range m.Linears() {
				if name := l.Name + ".weight"; slices.Equal(w[name], ck.Weights[name]) {
					t.Errorf("%s did not change in training", name)
				}
			}
			a := m.NewActivations(b.Size, b.Seq)
			m.Forward(b.Batch, a)
			want := m.Logits(a, b.Size)
			dir := t.TempDir()
			if err := model.Save(dir, m.Config, w, model.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			again, err := model.Load(dir, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m2, err := model.New(cpu.New(1), again.Config, again.Weights)
			if err != nil {
				t.Fatal(err)
			}
			a2 := m2.NewActivations(b.Size, b.Seq)
			m2.Forward(b.Batch, a2)
			if got := m2.Logits(a2, b.Size); !slices.Equal(got, want) {
				t.Errorf("reloaded logits %v, want %v", got, want)
			}
		})
	}
}

// TestFamilyStepsMatchReference: 10 steps of train.Step (AdamW, lr 1e-3,
// eps 1e-5 (see scripts/fixtures/hf_families.py), weight decay 0.01 off biases and LayerNorm, no clipping, dropout 0) on
// batch1 of each family whose fixtures hold torch's AdamW trajectory
// (familytest.Local): every step's loss within 1e-5 relative (to the larger
// of it and the first step's), every final
// weight within 1e-5 of the largest |w| of its tensor plus 1e-3 of the
// largest move AdamW can make in 10 steps (lr·10: where a gradient is at
// rounding level, Adam's normalised step follows the rounding). The key
// biases, whose gradient is exactly 0 in exact arithmetic (so their whole
// trajectory is rounding), are left out.
func TestFamilyStepsMatchReference(t *testing.T) {
	for _, fam := range familytest.Local {
		for _, cfgName := range familytest.Configs {
			t.Run(fam+"/"+cfgName, func(t *testing.T) {
				ck, batches := familytest.Load(t, fam, cfgName)
				m, err := model.New(cpu.New(1), ck.Config, ck.Weights)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Free()
				cfg := config.Default()
				cfg.MaxSeqLength, cfg.MaxGradNorm, cfg.WeightDecay, cfg.LR, cfg.Eps = 64, 0, 0.01, 1e-3, 1e-5
				st, err := NewStep(m, ck.Weights, cfg)
				if err != nil {
					t.Fatal(err)
				}
				b := batches["batch1"]
				mb := MicroBatch{Batch: b.Batch}
				for _, y := range b.Labels {
					if m.Config.Regression() {
						mb.Targets = append(mb.Targets, float32(y))
					} else {
						mb.Labels = append(mb.Labels, int32(y))
					}
				}
				dir := filepath.Join(familytest.Dir(t, fam), "steps", cfgName)
				raw, err := os.ReadFile(filepath.Join(dir, "steps.json"))
				if err != nil {
					t.Fatal(err)
				}
				var ref struct {
					Losses []float64 `json:"losses"`
				}
				if err := json.Unmarshal(raw, &ref); err != nil {
					t.Fatal(err)
				}
				for step, want := range ref.Losses {
					loss, _, err := st.Run([]MicroBatch{mb}, uint64(step), 1e-3)
					if err != nil {
						t.Fatal(err)
					}
					// Relative to the first loss: a regression fitted to ~0 keeps the rounding of its terms.
					if math.Abs(loss-want) > 1e-5*math.Max(math.Abs(want), ref.Losses[0]) {
						t.Errorf("step %d: loss %.8g, want %.8g", step, loss, want)
					}
				}
				f, err := safetensors.Open(filepath.Join(dir, "weights.safetensors"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				got := m.Weights()
				for _, name := range f.Names() {
					if strings.HasSuffix(name, "key.bias") || strings.HasSuffix(name, "key_proj.bias") {
						continue
					}
					want, err := f.Float32(name)
					if err != nil {
						t.Fatal(err)
					}
					var wmax float64
					for _, x := range want {
						wmax = math.Max(wmax, math.Abs(float64(x)))
					}
					tol := 1e-5*wmax + 1e-3*1e-3*float64(len(ref.Losses))
					if d := familytest.MaxAbsDiff(got[name], want); !(d <= tol) {
						t.Errorf("%s after %d steps: max abs diff %.3g > %.3g", name, len(ref.Losses), d, tol)
					}
				}
				if len(f.Names()) != len(got) {
					t.Errorf("%d reference tensors, the model has %d", len(f.Names()), len(got))
				}
			})
		}
	}
}
