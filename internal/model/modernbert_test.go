package model_test

import (
	"encoding/json"
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
