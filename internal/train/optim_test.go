package train

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/fixture"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/safetensors"
)

// fixtures is ../shared/fixtures (internal/fixture finds it).
var fixtures = filepath.Join(fixture.Root(), "fixtures")

// needFixtures ends the test when the fixtures are missing (a skip, or a
// failure under MIXFT_REQUIRE_FIXTURES=1).
func needFixtures(t *testing.T) {
	t.Helper()
	fixture.Path(t, "fixtures")
}

func TestLinearScheduleMatchesHuggingFace(t *testing.T) {
	// warmup 2, total 6: the factors the optimizer fixture lists.
	want := []float64{0, 0.5, 1, 0.75, 0.5, 0.25, 0}
	for s, w := range want {
		if got := LinearSchedule(s, 2, 6); math.Abs(got-w) > 1e-12 {
			t.Errorf("step %d: %g, want %g", s, got, w)
		}
	}
	if LinearSchedule(0, 0, 10) != 1 || LinearSchedule(9, 0, 10) != 0.1 {
		t.Error("no-warmup schedule wrong")
	}
}

// hfDecays reports whether Hugging Face's run_glue puts weight decay on a
// parameter: on every one whose name has neither "bias" nor
// "LayerNorm.weight".
func hfDecays(name string) bool {
	return !strings.Contains(name, "bias") && !strings.Contains(name, "LayerNorm.weight")
}

// fixtureStep is the training step of the fixtures' runs on m: weight decay
// wd as run_glue groups it (checked), no dropout, the other settings as cfg.
func fixtureStep(t *testing.T, m *model.Model, pre model.Weights, cfg config.Run, wd float64) *Step {
	t.Helper()
	cfg.WeightDecay, cfg.Dropout = wd, 0
	st, err := NewStep(m, pre, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Opt.Params {
		if want := hfDecays(p.Spec.Name); (p.WeightDecay > 0) != want || p.Target != nil || p.LRScale != 1 {
			t.Fatalf("%s: weight decay %g (toward a target: %v), lr scale %g; run_glue decays it: %v", p.Spec.Name, p.WeightDecay, p.Target != nil, p.LRScale, want)
		}
	}
	return st
}

type fixtureBatch struct {
	InputIDs      [][]int32 `json:"input_ids"`
	AttentionMask [][]int32 `json:"attention_mask"`
	TokenTypeIDs  [][]int32 `json:"token_type_ids"`
	Labels        []int32   `json:"labels"`
}

func (fb fixtureBatch) batch() *model.Batch {
	b := &model.Batch{Size: len(fb.InputIDs), Seq: len(fb.InputIDs[0])}
	for i := range fb.InputIDs {
		b.InputIDs = append(b.InputIDs, fb.InputIDs[i]...)
		b.AttentionMask = append(b.AttentionMask, fb.AttentionMask[i]...)
		b.TokenTypeIDs = append(b.TokenTypeIDs, fb.TokenTypeIDs[i]...)
	}
	return b
}

// TestAdamWMatchesTorch replays fixtures/optimizer: 6 steps of forward,
// loss, backward, clipping, AdamW and the linear schedule on checkpoint A.
func TestAdamWMatchesTorch(t *testing.T) {
	needFixtures(t)
	for _, dir := range []string{"A-eps1e-8", "A-eps1e-6", "A-eps1e-8-clip5", "A-eps1e-8-lr0.001-wd0.1"} {
		t.Run(dir, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(fixtures, "optimizer", dir, "trace.json"))
			if err != nil {
				t.Fatal(err)
			}
			var tr struct {
				Optimizer struct {
					LR          float64    `json:"lr"`
					Eps         float64    `json:"eps"`
					WeightDecay float64    `json:"weight_decay"`
					Betas       [2]float64 `json:"betas"`
				}
				Schedule struct {
					Warmup int `json:"num_warmup_steps"`
					Total  int `json:"num_training_steps"`
				}
				Clip struct {
					MaxNorm float64 `json:"max_norm"`
				} `json:"clip_grad_norm"`
				Batches []fixtureBatch
				Steps   []struct {
					LR, Loss float64
					GradNorm float64 `json:"grad_norm_before_clip"`
				}
			}
			if err := json.Unmarshal(raw, &tr); err != nil {
				t.Fatal(err)
			}

			ck, err := model.Load(filepath.Join(fixtures, "checkpoints/A"), model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			be := cpu.New(2)
			m, err := model.New(be, ck.Config, ck.Weights)
			if err != nil {
				t.Fatal(err)
			}
			cfg := config.Default()
			cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.MaxGradNorm = tr.Optimizer.Betas[0], tr.Optimizer.Betas[1], tr.Optimizer.Eps, tr.Clip.MaxNorm
			st := fixtureStep(t, m, ck.Weights, cfg, tr.Optimizer.WeightDecay)
			check := func(file string) {
				ref, err := safetensors.Open(filepath.Join(fixtures, "optimizer", dir, file))
				if err != nil {
					t.Fatal(err)
				}
				defer ref.Close()
				for _, spec := range m.Tensors() {
					want, _ := ref.Float32(spec.Name)
					got := make([]float32, spec.Size())
					be.Download(got, *spec.Buf)
					tol := 2e-6
					if tr.Optimizer.LR > 1e-4 {
						tol = 2e-5
					}
					if strings.HasSuffix(spec.Name, "attention.self.key.bias") {
						tol = 6 * tr.Optimizer.LR
					}
					var d float64
					for i := range got {
						d = math.Max(d, math.Abs(float64(got[i]-want[i])))
					}
					if d > tol {
						t.Errorf("%s %s: max abs diff %.3g > %.3g", file, spec.Name, d, tol)
					}
				}
			}
			for k, fb := range tr.Batches {
				lr := tr.Optimizer.LR * LinearSchedule(k, tr.Schedule.Warmup, tr.Schedule.Total)
				if lr != tr.Steps[k].LR {
					t.Errorf("step %d: lr %g, want %g", k+1, lr, tr.Steps[k].LR)
				}
				loss, norm, err := st.Run([]MicroBatch{{Batch: fb.batch(), Labels: fb.Labels}}, uint64(k), lr)
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(loss-tr.Steps[k].Loss) > 1e-5 {
					t.Errorf("step %d: loss %.7f, want %.7f", k+1, loss, tr.Steps[k].Loss)
				}
				if math.Abs(norm-tr.Steps[k].GradNorm) > 1e-5*math.Max(1, tr.Steps[k].GradNorm) {
					t.Errorf("step %d: grad norm %.7f, want %.7f", k+1, norm, tr.Steps[k].GradNorm)
				}
				if k == 0 {
					check("params_after_step1.safetensors")
				}
			}
			check("params_after_step6.safetensors")
		})
	}
}
