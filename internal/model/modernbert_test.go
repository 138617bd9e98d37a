package model_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/safetensors"
)

// modernDir holds the ModernBERT fixtures made by
// scripts/fixtures/modernbert.py from transformers' own classes.
const modernDir = "testdata/modernbert"

// modernConfigs are its tiny configs: C (cls pooling, 3 classes, no
// biases), R (mean pooling, regression, every bias, tanh GELU, tanh head),
// M (mean pooling, 2 classes, one head); every one has S 20 > its window.
var modernConfigs = []string{"C", "R", "M"}

// modernInputs is a fixture's inputs.json.
type modernInputs struct {
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

func (in *modernInputs) batch() *model.Batch {
	b := &model.Batch{Size: len(in.InputIDs), Seq: len(in.InputIDs[0])}
	for i := range in.InputIDs {
		b.InputIDs = append(b.InputIDs, in.InputIDs[i]...)
		b.AttentionMask = append(b.AttentionMask, in.AttentionMask[i]...)
	}
	return b
}

// loadModern loads a ModernBERT fixture: the checkpoint, its inputs and
// the reference tensors.
func loadModern(t *testing.T, cfg string) (*model.Checkpoint, *modernInputs, map[string][]float32) {
	t.Helper()
	dir := filepath.Join(modernDir, cfg)
	ck, err := model.Load(filepath.Join(dir, "checkpoint"), model.LoadOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.Initialized) != 0 || len(ck.Ignored) != 0 {
		t.Fatalf("checkpoint: initialized %v, ignored %v; want every tensor read", ck.Initialized, ck.Ignored)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in modernInputs
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(dir, "reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref := map[string][]float32{}
	for _, n := range f.Names() {
		if ref[n], err = f.Float32(n); err != nil {
			t.Fatal(err)
		}
	}
	return ck, &in, ref
}

// relErr is max|got − want| / max|want|, the error relative to the
// tensor's scale.
func relErr(got, want []float32) float64 {
	var d, s float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		s = math.Max(s, math.Abs(float64(want[i])))
	}
	if math.IsNaN(d) || len(got) != len(want) {
		return math.Inf(1)
	}
	if s == 0 {
		return d
	}
	return d / s
}

// modernTol is the tolerance: 1e-5 relative to each tensor's
// largest reference value.
const modernTol = 1e-5

// TestModernBERTForwardMatchesReference: logits and the final hidden
// states of the real tokens on a padded batch, and each row's logits run
// alone without padding, against transformers' ModernBertForSequenceClassification.
func TestModernBERTForwardMatchesReference(t *testing.T) {
	for _, cfg := range modernConfigs {
		t.Run(cfg, func(t *testing.T) {
			ck, in, ref := loadModern(t, cfg)
			m, err := model.New(cpu.New(2), ck.Config, ck.Weights)
			if err != nil {
				t.Fatal(err)
			}
			b := in.batch()
			if err := m.Check(b); err != nil {
				t.Fatal(err)
			}
			a := m.NewActivations(b.Size, b.Seq)
			m.Forward(b, a)
			if e := relErr(m.Logits(a, b.Size), ref["logits"]); e > modernTol {
				t.Errorf("logits: relative error %.3g > %g", e, modernTol)
			}
			h := ck.Config.HiddenSize
			seq := make([]float32, b.Size*b.Seq*h)
			m.Backend.Download(seq, a.Sequence())
			var got, want []float32
			for i, v := range b.AttentionMask {
				if v != 0 {
					got = append(got, seq[i*h:(i+1)*h]...)
					want = append(want, ref["sequence_output"][i*h:(i+1)*h]...)
				}
			}
			if e := relErr(got, want); e > modernTol {
				t.Errorf("sequence_output (real tokens): relative error %.3g > %g", e, modernTol)
			}
			// Each row alone: padding must not change a real token's result.
			for r := range in.InputIDs {
				n := 0
				for _, v := range in.AttentionMask[r] {
					n += int(v)
				}
				one := &model.Batch{Size: 1, Seq: n, InputIDs: in.InputIDs[r][:n], AttentionMask: in.AttentionMask[r][:n]}
				a1 := m.NewActivations(1, n)
				m.Forward(one, a1)
				c := ck.Config.NumLabels
				if e := relErr(m.Logits(a1, 1), ref["logits_unpadded"][r*c:(r+1)*c]); e > modernTol {
					t.Errorf("row %d alone: logits relative error %.3g > %g", r, e, modernTol)
				}
				a1.Free()
			}
		})
	}
}

// TestModernBERTGradientsMatchReference: the loss and the gradient of
// every parameter (train mode, dropout 0) against transformers'.
func TestModernBERTGradientsMatchReference(t *testing.T) {
	for _, cfg := range modernConfigs {
		t.Run(cfg, func(t *testing.T) {
			ck, in, ref := loadModern(t, cfg)
			m, err := model.New(cpu.New(2), ck.Config, ck.Weights)
			if err != nil {
				t.Fatal(err)
			}
			b := in.batch()
			a := m.NewActivations(b.Size, b.Seq)
			g := m.NewGrads()
			m.ForwardTrain(b, a, model.TrainStep{Seed: 1})
			labels, targets := modernLabels(ck.Config, in.Labels)
			loss, err := m.Loss(a, labels, targets, 1)
			if err != nil {
				t.Fatal(err)
			}
			if e := math.Abs(loss-float64(ref["loss"][0])) / math.Abs(float64(ref["loss"][0])); e > modernTol {
				t.Errorf("loss %.7g, reference %.7g: relative error %.3g", loss, ref["loss"][0], e)
			}
			m.Backward(b, a, g)
			n := 0
			worst := 0.0
			for _, tn := range g.Tensors() {
				want, ok := ref["grad/"+tn.Name]
				if !ok {
					t.Errorf("%s: no reference gradient (a parameter transformers does not have)", tn.Name)
					continue
				}
				got := make([]float32, tn.Size())
				m.Backend.Download(got, *tn.Buf)
				e := relErr(got, want)
				worst = math.Max(worst, e)
				if e > modernTol {
					t.Errorf("gradient of %s: relative error %.3g > %g", tn.Name, e, modernTol)
				}
				n++
			}
			if want := countPrefix(ref, "grad/"); n != want {
				t.Errorf("compared %d gradients, the reference has %d", n, want)
			}
			t.Logf("%s: loss %.7g, worst gradient relative error %.3g", cfg, loss, worst)
		})
	}
}

func countPrefix(ref map[string][]float32, p string) int {
	n := 0
	for k := range ref {
		if strings.HasPrefix(k, p) {
			n++
		}
	}
	return n
}

// modernLabels splits the fixture's labels into class ids or regression targets.
func modernLabels(c model.Config, ls []float64) ([]int32, []float32) {
	if c.Regression() {
		ts := make([]float32, len(ls))
		for i, v := range ls {
			ts[i] = float32(v)
		}
		return nil, ts
	}
	ids := make([]int32, len(ls))
	for i, v := range ls {
		ids[i] = int32(v)
	}
	return ids, nil
}

// TestModernBERTSaveRoundTrip: Save writes transformers' names and
// ModernBertConfig's keys (every one read, the token ids kept), and the
// saved directory loads back to the same weights and logits.
func TestModernBERTSaveRoundTrip(t *testing.T) {
	for _, cfg := range modernConfigs {
		t.Run(cfg, func(t *testing.T) {
			ck, in, ref := loadModern(t, cfg)
			dir := t.TempDir()
			if err := model.Save(dir, ck.Config, ck.Weights, model.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			back, err := model.Load(dir, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for name, w := range ck.Weights {
				if relErr(back.Weights[name], w) != 0 {
					t.Errorf("%s differs after save and load", name)
				}
			}
			var orig, saved map[string]any
			for p, dst := range map[string]*map[string]any{filepath.Join(modernDir, cfg, "checkpoint", "config.json"): &orig, filepath.Join(dir, "config.json"): &saved} {
				raw, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(raw, dst); err != nil {
					t.Fatal(err)
				}
			}
			for k, v := range orig {
				if k == "transformers_version" || k == "torch_dtype" {
					continue
				}
				if got, _ := json.Marshal(saved[k]); string(got) != mustJSON(t, v) {
					t.Errorf("config.json key %q: saved %s, transformers wrote %s", k, got, mustJSON(t, v))
				}
			}
			m, err := model.New(cpu.New(1), back.Config, back.Weights)
			if err != nil {
				t.Fatal(err)
			}
			b := in.batch()
			a := m.NewActivations(b.Size, b.Seq)
			m.Forward(b, a)
			if e := relErr(m.Logits(a, b.Size), ref["logits"]); e > modernTol {
				t.Errorf("logits after save and load: relative error %.3g", e)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestModernBERTConfigErrors: bad ModernBERT keys fail with the key named.
func TestModernBERTConfigErrors(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"model_type":"modernbert","classifier_pooling":"max"}`, `"classifier_pooling": "max" is not supported`},
		{`{"model_type":"modernbert","global_attn_every_n_layers":0}`, `"global_attn_every_n_layers": 0`},
		{`{"model_type":"modernbert","local_attention":-2}`, `"local_attention": -2`},
		{`{"model_type":"modernbert","classifier_activation":"swish"}`, `"classifier_activation": "swish"`},
		{`{"model_type":"modernbert","hidden_activation":"swish"}`, `"hidden_activation": "swish"`},
		{`{"model_type":"modernbert","global_rope_theta":0}`, `"global_rope_theta": 0`},
		{`{"model_type":"modernbert","norm_eps":0}`, `"norm_eps": 0`},
		{`{"model_type":"modernbert","embedding_dropout":1}`, `"embedding_dropout": 1`},
		{`{"model_type":"modernbert","hidden_size":15,"num_attention_heads":5}`, `odd`},
		{`{"model_type":"modernbert","norm_bias":"yes"}`, `"norm_bias"`},
	} {
		_, err := model.ParseConfig("config.json", []byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.json, err, tc.want)
		}
	}
	c, err := model.ParseConfig("config.json", []byte(`{"model_type":"modernbert"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Modern.LocalAttention != 128 || c.Modern.GlobalAttnEveryNLayers != 3 || c.AttnWindow(1) != 64 || c.AttnWindow(3) != -1 ||
		c.RopeTheta(0) != 160000 || c.RopeTheta(1) != 10000 || c.HiddenSize != 768 || c.NumHiddenLayers != 22 || c.MaxSeqLen() != 8192 {
		t.Errorf("defaults: %+v %+v", c, *c.Modern)
	}
}
