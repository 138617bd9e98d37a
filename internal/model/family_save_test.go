package model_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/model/familytest"
	"github.com/mixft/mixft/internal/safetensors"
)

// logits runs a checkpoint's model on a batch in evaluation mode.
func logits(t *testing.T, ck *model.Checkpoint, b *model.Batch) []float32 {
	t.Helper()
	m, err := model.New(cpu.New(1), ck.Config, ck.Weights)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if err := m.Check(b); err != nil {
		t.Fatal(err)
	}
	a := m.NewActivations(b.Size, b.Seq)
	defer a.Free()
	m.Forward(b, a)
	return m.Logits(a, b.Size)
}

// TestFamilySaveReload: each family's checkpoint saved by Save reloads to
// bit-identical logits, in the family's own layout: its model_type and
// architectures, its config.json key names, its state-dict names.
func TestFamilySaveReload(t *testing.T) {
	arch := map[string]string{"roberta": "RobertaForSequenceClassification", "electra": "ElectraForSequenceClassification",
		"distilbert": "DistilBertForSequenceClassification", "xlm-roberta": "XLMRobertaForSequenceClassification",
		"albert": "AlbertForSequenceClassification", "deberta-v2": "DebertaV2ForSequenceClassification"}
	for _, fam := range familytest.Families {
		for _, cfg := range familytest.Configs {
			t.Run(fam+"/"+cfg, func(t *testing.T) {
				ck, batches := familytest.Load(t, fam, cfg)
				dir := t.TempDir()
				if err := model.Save(dir, ck.Config, ck.Weights, model.SaveOptions{}); err != nil {
					t.Fatal(err)
				}
				again, err := model.Load(dir, model.LoadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if len(again.Initialized) != 0 || len(again.Ignored) != 0 {
					t.Errorf("reloaded with initialized %v, ignored %v", again.Initialized, again.Ignored)
				}
				for name, b := range batches {
					if got, want := logits(t, again, b.Batch), logits(t, ck, b.Batch); !slices.Equal(got, want) {
						t.Errorf("%s: logits %v after save and reload, %v before", name, got, want)
					}
				}
				raw, err := os.ReadFile(filepath.Join(dir, model.ConfigFile))
				if err != nil {
					t.Fatal(err)
				}
				var cj map[string]any
				if err := json.Unmarshal(raw, &cj); err != nil {
					t.Fatal(err)
				}
				if cj["model_type"] != fam || !slices.Equal(cj["architectures"].([]any), []any{arch[fam]}) {
					t.Errorf("config.json model_type %v architectures %v", cj["model_type"], cj["architectures"])
				}
				origRaw, _ := os.ReadFile(fixturePath(t, fam, cfg, model.ConfigFile))
				var orig map[string]any
				json.Unmarshal(origRaw, &orig)
				for k, v := range orig {
					if k == "transformers_version" || k == "torch_dtype" {
						continue
					}
					if got, ok := cj[k]; !ok || !jsonEqual(got, v) {
						t.Errorf("config.json key %q: %v, the checkpoint's %v", k, got, v)
					}
				}
				f, err := safetensors.Open(filepath.Join(dir, model.WeightsFile))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				names := f.Names()
				slices.Sort(names)
				want := make([]string, 0, len(ck.Weights))
				for n := range ck.Weights {
					want = append(want, n)
				}
				slices.Sort(want)
				if !slices.Equal(names, want) {
					t.Errorf("saved tensors %v, want the checkpoint's %v", names, want)
				}
			})
		}
	}
}

func fixturePath(t *testing.T, fam, cfg, file string) string {
	ck, _ := familytest.Load(t, fam, cfg)
	return filepath.Join(ck.Dir, file)
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestFamilyBareAndPretrainingCheckpoints: a checkpoint of the bare model
// (no family prefix) with a pretraining or masked-LM head loads with that
// head dropped and the classification head newly initialised; the encoder
// is the same, bit for bit.
func TestFamilyBareAndPretrainingCheckpoints(t *testing.T) {
	extra := map[string]string{"roberta": "lm_head.dense.weight", "electra": "discriminator_predictions.dense.weight",
		"distilbert": "vocab_transform.weight", "xlm-roberta": "lm_head.dense.weight",
		"albert": "predictions.dense.weight", "deberta-v2": "cls.predictions.transform.dense.weight"}
	for _, fam := range familytest.Families {
		t.Run(fam, func(t *testing.T) {
			ck, batches := familytest.Load(t, fam, "C")
			var lay model.Params
			ck.Config.Layout(&lay)
			head := []string{lay.Pooler.Name + ".weight", lay.Pooler.Name + ".bias", lay.Classifier.Name + ".weight", lay.Classifier.Name + ".bias"}
			dir := t.TempDir()
			var ts []safetensors.Tensor
			for _, p := range ck.Config.ParamSpecs() {
				if slices.Contains(head, p.Name) {
					continue
				}
				bare := p.Name[strings.IndexByte(p.Name, '.')+1:]
				ts = append(ts, safetensors.F32Tensor(bare, p.Shape, ck.Weights[p.Name]))
			}
			ts = append(ts, safetensors.F32Tensor(extra[fam], []int{2, 2}, make([]float32, 4)))
			if err := safetensors.Write(filepath.Join(dir, model.WeightsFile), ts, nil); err != nil {
				t.Fatal(err)
			}
			raw, _ := os.ReadFile(filepath.Join(ck.Dir, model.ConfigFile))
			if err := os.WriteFile(filepath.Join(dir, model.ConfigFile), raw, 0o644); err != nil {
				t.Fatal(err)
			}
			bare, err := model.Load(dir, model.LoadOptions{Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(bare.Initialized, head) || !slices.Equal(bare.Ignored, []string{extra[fam]}) {
				t.Fatalf("initialized %v ignored %v, want %v and %v", bare.Initialized, bare.Ignored, head, extra[fam])
			}
			for name, w := range ck.Weights {
				if !slices.Contains(head, name) && !slices.Equal(bare.Weights[name], w) {
					t.Errorf("%s differs from the full checkpoint's", name)
				}
			}
			b := batches["batch1"].Batch
			if l := logits(t, bare, b); len(l) != b.Size*ck.Config.NumLabels {
				t.Fatalf("%d logits", len(l))
			}
		})
	}
}

// TestFamilyConfigErrors: config.json errors name the family's keys.
func TestFamilyConfigErrors(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"model_type": "distilbert", "dim": 30, "n_heads": 4}`, `"dim": 30 is not a multiple of n_heads 4`},
		{`{"model_type": "distilbert", "sinusoidal_pos_embds": true}`, `"sinusoidal_pos_embds"`},
		{`{"model_type": "distilbert", "activation": "swish"}`, `key "activation": "swish"`},
		{`{"model_type": "electra", "embedding_size": 0}`, `key "embedding_size": 0`},
		{`{"model_type": "roberta", "max_position_embeddings": 2}`, `"max_position_embeddings": 2 leaves no position`},
		{`{"model_type": "funnel"}`, `key "model_type": "funnel" is not supported`},
		{`{"model_type": "deberta-v2"}`, `key "relative_attention": expected true`},
		{`{"model_type": "deberta-v2", "relative_attention": true, "share_att_key": true, "position_biased_input": false, "pos_att_type": "c2p"}`, `key "pos_att_type"`},
		{`{"model_type": "deberta-v2", "relative_attention": true, "share_att_key": false}`, `key "share_att_key"`},
		{`{"model_type": "deberta-v2", "relative_attention": true, "share_att_key": true}`, `key "position_biased_input"`},
		{`{"model_type": "deberta-v2", "relative_attention": true, "share_att_key": true, "position_biased_input": false, "pos_att_type": "p2c|c2p", "norm_rel_ebd": "layer_norm", "pooler_dropout": 0.1}`, `key "pooler_dropout"`},
		{`{"model_type": "albert", "num_hidden_groups": 2}`, `key "num_hidden_groups": 2 is not supported`},
	} {
		_, err := model.ParseConfig("config.json", []byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "config.json: ") {
			t.Errorf("%s: error %v, want one naming %s", c.json, err, c.want)
		}
	}
}

// TestSaveKeepsTokenizerConfig: a saved model keeps the source directory's
// tokenizer_config.json keys (the byte-level BPE tokenizer reads
// add_prefix_space and the special tokens from it, so dropping them would
// change the saved model's input ids) and records the run's do_lower_case.
func TestSaveKeepsTokenizerConfig(t *testing.T) {
	ck, _ := familytest.Load(t, "roberta", familytest.Configs[0])
	src := t.TempDir()
	tc := `{"add_prefix_space": true, "bos_token": "<s>", "model_max_length": 1000000000000000019884624838656, "tokenizer_class": "RobertaTokenizerFast"}`
	if err := os.WriteFile(filepath.Join(src, model.TokenizerConfigFile), []byte(tc), 0o644); err != nil {
		t.Fatal(err)
	}
	files := model.TokenizerFiles(src)
	if len(files) != 1 {
		t.Fatalf("TokenizerFiles(%s) = %v, want its tokenizer_config.json", src, files)
	}
	dir := t.TempDir()
	if err := model.Save(dir, ck.Config, ck.Weights, model.SaveOptions{TokenizerFiles: files}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, model.TokenizerConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"add_prefix_space": true`, `"bos_token": "<s>"`, `"do_lower_case": false`,
		`"model_max_length": 1000000000000000019884624838656`, `"tokenizer_class": "RobertaTokenizerFast"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("saved tokenizer_config.json lacks %s:\n%s", want, raw)
		}
	}
}

// TestFamilySaveForTransformers writes, when MIXFT_SAVE_CHECK_DIR is set,
// each local family's fixture checkpoints as Save writes them, with the
// logits mixft computes for batch1 (logits.json), for
// scripts/fixtures/check_saved.py to load with transformers and compare.
// It needs no Python itself and is skipped without the variable.
func TestFamilySaveForTransformers(t *testing.T) {
	out := os.Getenv("MIXFT_SAVE_CHECK_DIR")
	if out == "" {
		t.Skip("MIXFT_SAVE_CHECK_DIR not set (scripts/fixtures/check_saved.py sets it)")
	}
	for _, fam := range familytest.Local {
		for _, cfg := range familytest.Configs {
			ck, batches := familytest.Load(t, fam, cfg)
			dir := filepath.Join(out, fam, cfg)
			if err := model.Save(dir, ck.Config, ck.Weights, model.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			b := batches["batch1"].Batch
			rec := map[string]any{"input_ids": b.InputIDs, "attention_mask": b.AttentionMask, "token_type_ids": b.TokenTypeIDs,
				"rows": b.Size, "logits": logits(t, ck, b)}
			raw, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "mixft_logits.json"), raw, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
