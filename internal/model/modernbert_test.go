package model_test

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/model/familytest"
)

// TestModernBERTForwardMatchesReference: ModernBERT's forward on the CPU
// backend against transformers' ModernBertForSequenceClassification.
func TestModernBERTForwardMatchesReference(t *testing.T) {
	familytest.ModernForward(t, cpuBackend, familytest.ModernTol)
}

// TestModernBERTGradientsMatchReference: its loss and every gradient.
func TestModernBERTGradientsMatchReference(t *testing.T) {
	familytest.ModernGradients(t, cpuBackend, familytest.ModernTol)
}

// TestModernBERTSaveRoundTrip: Save writes transformers' names and
// ModernBertConfig's keys (every one read, the token ids kept), and the
// saved directory loads back to the same weights and logits.
func TestModernBERTSaveRoundTrip(t *testing.T) {
	for _, cfg := range familytest.ModernConfigs {
		t.Run(cfg, func(t *testing.T) {
			ck, in, ref := familytest.LoadModern(t, cfg)
			dir := t.TempDir()
			if err := model.Save(dir, ck.Config, ck.Weights, model.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			back, err := model.Load(dir, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for name, w := range ck.Weights {
				if familytest.RelErr(back.Weights[name], w) != 0 {
					t.Errorf("%s differs after save and load", name)
				}
			}
			var orig, saved map[string]any
			for p, dst := range map[string]*map[string]any{filepath.Join(familytest.ModernDir(), cfg, "checkpoint", "config.json"): &orig, filepath.Join(dir, "config.json"): &saved} {
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
			b := in.Batch()
			a := m.NewActivations(b.Size, b.Seq)
			m.Forward(b, a)
			if e := familytest.RelErr(m.Logits(a, b.Size), ref["logits"]); e > familytest.ModernTol {
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

// TestModernBERTMixoutFusedWeights: mixout treats ModernBERT's fused
// Wqkv and GeGLU Wi as one weight each, with one decision per input column
// of the stored weight (the authors' MixLinear applied to it): a training
// pass with mixout equals one of a model holding W~ = U + M ⊙ (W − U)/(1 − p),
// and each weight's gradient is M/(1 − p) ⊙ the gradient of W~.
func TestModernBERTMixoutFusedWeights(t *testing.T) {
	const p = 0.6
	ck, in, _ := familytest.LoadModern(t, "C")
	m, err := model.New(cpu.New(2), ck.Config, ck.Weights)
	if err != nil {
		t.Fatal(err)
	}
	ls := m.Linears()
	if want := 4*ck.Config.NumHiddenLayers + 2; len(ls) != want {
		t.Fatalf("%d Linears, want %d (Wqkv, attn.Wo, mlp.Wi, mlp.Wo per layer, head.dense, classifier)", len(ls), want)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	targets := map[string][]float32{}
	for _, l := range ls {
		w := ck.Weights[l.Name+".weight"]
		u := make([]float32, len(w))
		for i := range u {
			u[i] = w[i] + float32(rng.NormFloat64()*0.1)
		}
		targets[l.Name] = u
		if err := m.SetMixout(l, u, model.MixoutOptions{P: p}); err != nil {
			t.Fatal(err)
		}
		if l.MaskLen() != l.In {
			t.Fatalf("%s: %d mask entries, want one per input column (%d)", l.Name, l.MaskLen(), l.In)
		}
	}
	m.DrawMixout(7, 1)
	mixed := model.Weights{}
	for name, v := range ck.Weights {
		mixed[name] = v
	}
	masks := map[string][]float32{}
	for _, l := range ls {
		mask := make([]float32, l.In)
		m.Backend.Download(mask, l.Mix.Mask)
		kept := 0
		for _, v := range mask {
			kept += int(v)
		}
		if kept == 0 || kept == l.In {
			t.Fatalf("%s: the mask keeps %d of %d columns; pick another seed", l.Name, kept, l.In)
		}
		masks[l.Name] = mask
		w, u := ck.Weights[l.Name+".weight"], targets[l.Name]
		wm := make([]float32, len(w))
		for k := range wm {
			c := k % l.In
			wm[k] = u[k] + mask[c]*(w[k]-u[k])/(1-p)
		}
		mixed[l.Name+".weight"] = wm
	}
	ref, err := model.New(cpu.New(2), ck.Config, mixed)
	if err != nil {
		t.Fatal(err)
	}
	b := in.Batch()
	labels, _ := in.LabelsFor(ck.Config)
	run := func(m *model.Model) ([]float32, *model.Grads) {
		a, g := m.NewActivations(b.Size, b.Seq), m.NewGrads()
		m.ForwardTrain(b, a, model.TrainStep{Seed: 1})
		if _, err := m.Loss(a, labels, nil, 1); err != nil {
			t.Fatal(err)
		}
		m.Backward(b, a, g)
		return m.Logits(a, b.Size), g
	}
	logits, g := run(m)
	wantLogits, wantG := run(ref)
	if e := familytest.RelErr(logits, wantLogits); e > 1e-6 {
		t.Errorf("logits with mixout differ from those of W~ by %.3g relative", e)
	}
	gradOf := func(g *model.Grads, name string) []float32 {
		for _, tn := range g.Tensors() {
			if tn.Name == name {
				v := make([]float32, tn.Size())
				m.Backend.Download(v, *tn.Buf)
				return v
			}
		}
		t.Fatalf("no gradient %s", name)
		return nil
	}
	for _, tn := range g.Tensors() {
		got, want := gradOf(g, tn.Name), gradOf(wantG, tn.Name)
		if l := strings.TrimSuffix(tn.Name, ".weight"); masks[l] != nil {
			for k := range want {
				want[k] *= masks[l][k%len(masks[l])] / (1 - p)
			}
		}
		if e := familytest.RelErr(got, want); e > 1e-5 {
			t.Errorf("gradient of %s: %.3g relative from M/(1-p) ⊙ the gradient of W~", tn.Name, e)
		}
	}
}
