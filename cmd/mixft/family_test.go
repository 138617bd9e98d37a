package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/data/datatest"
	"github.com/mixft/mixft/internal/model"
)

// initFamily writes a small random model of a family with the task's
// labels: a WordPiece vocabulary for bert, electra and distilbert, the
// byte-level BPE fixture vocabulary for roberta, a tokenizer.json in
// ModernBERT's layout for modernbert.
func initFamily(t *testing.T, modelType, task string, extra ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), modelType)
	vocab := filepath.Join(shared, "vocab/bert-base-uncased-vocab.txt")
	switch modelType {
	case "roberta":
		vocab = filepath.Join(shared, "fixtures/tokenization_bpe/vocab.json")
	case "xlm-roberta", "albert", "deberta-v2":
		vocab = spmVocab(t, modelType)
	case "modernbert":
		vocab = filepath.Join(datatest.ModernBERTTokenizerDir(t), "tokenizer.json")
	}
	args := append([]string{"init", "--model-type", modelType, "--preset", "tiny", "--layers", "1", "--hidden", "32",
		"--heads", "2", "--intermediate", "64", "--vocab", vocab, "--task", task, "--out", dir}, extra...)
	code, stdout, stderr := mixft(t, args...)
	if code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	if !strings.Contains(stdout, " "+modelType+", 1 layers") {
		t.Errorf("init summary: %s", stdout)
	}
	return dir
}

// spmTestModels are the SentencePiece models of internal/data's tests, by
// family.
var spmTestModels = map[string]string{"xlm-roberta": "xlmr.model", "albert": "albert.model", "deberta-v2": "deberta.model"}

// spmVocab copies a family's SentencePiece test model into a folder of its
// own under the family's file name (spmModelFiles) and returns its path.
func spmVocab(t *testing.T, modelType string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tokenizer")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, spmModelFiles[modelType])
	copyFile(t, filepath.Join("..", "..", "internal", "data", "testdata", "unigram", spmTestModels[modelType]), p)
	return p
}

// TestInitModelTypes: init --model-type writes each family in its own
// layout (model_type, config keys, state-dict names, tokenizer files), and
// the directory loads with nothing missing or left over.
func TestInitModelTypes(t *testing.T) {
	needShared(t)
	for _, tc := range []struct {
		modelType string
		extra     []string
		keys      []string // config.json keys the family has
		tensor    string   // a tensor only this family has
		files     []string
	}{
		{"bert", nil, []string{"hidden_size", "type_vocab_size"}, "bert.pooler.dense.weight", []string{"vocab.txt"}},
		{"roberta", nil, []string{"hidden_size", "type_vocab_size"}, "classifier.out_proj.weight", []string{"vocab.json", "merges.txt"}},
		{"xlm-roberta", nil, []string{"hidden_size", "type_vocab_size"}, "classifier.out_proj.weight", []string{"sentencepiece.bpe.model"}},
		{"electra", []string{"--embedding-size", "16"}, []string{"embedding_size"}, "electra.embeddings_project.weight", []string{"vocab.txt"}},
		{"distilbert", nil, []string{"dim", "n_layers", "hidden_dim", "seq_classif_dropout"}, "pre_classifier.weight", []string{"vocab.txt"}},
		{"albert", []string{"--embedding-size", "16"}, []string{"embedding_size", "classifier_dropout_prob"}, "albert.encoder.embedding_hidden_mapping_in.weight", []string{"spiece.model"}},
		{"deberta-v2", nil, []string{"relative_attention", "position_buckets", "pos_att_type", "share_att_key"}, "deberta.encoder.rel_embeddings.weight", []string{"spm.model"}},
		{"deberta-v2", []string{"--max-position", "40"}, []string{"position_buckets"}, "deberta.encoder.LayerNorm.weight", []string{"spm.model"}},
		{"modernbert", nil, []string{"hidden_activation", "global_attn_every_n_layers", "local_attention", "classifier_pooling", "norm_eps"},
			"model.layers.0.attn.Wqkv.weight", []string{"tokenizer.json", "tokenizer_config.json"}},
	} {
		t.Run(tc.modelType, func(t *testing.T) {
			dir := initFamily(t, tc.modelType, "rte", tc.extra...)
			raw, err := os.ReadFile(filepath.Join(dir, model.ConfigFile))
			if err != nil {
				t.Fatal(err)
			}
			var cj map[string]any
			if err := json.Unmarshal(raw, &cj); err != nil {
				t.Fatal(err)
			}
			if cj["model_type"] != tc.modelType {
				t.Errorf("model_type %v", cj["model_type"])
			}
			for _, k := range tc.keys {
				if _, ok := cj[k]; !ok {
					t.Errorf("config.json lacks %q: %s", k, raw)
				}
			}
			for _, f := range tc.files {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("tokenizer file: %v", err)
				}
			}
			ck, err := model.Load(dir, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(ck.Initialized) != 0 || len(ck.Ignored) != 0 {
				t.Errorf("initialized %v, ignored %v", ck.Initialized, ck.Ignored)
			}
			if _, ok := ck.Weights[tc.tensor]; !ok {
				t.Errorf("no %s", tc.tensor)
			}
			if ck.Config.Family() == model.RoBERTa && (ck.Config.PadTokenID != 1 || ck.Config.TypeVocabSize != 1 || ck.Config.MaxSeqLen() != 512) {
				t.Errorf("roberta config: pad %d, type_vocab_size %d, longest sequence %d", ck.Config.PadTokenID, ck.Config.TypeVocabSize, ck.Config.MaxSeqLen())
			}
		})
	}
	code, _, stderr := mixft(t, "init", "--model-type", "distilbert", "--embedding-size", "16", "--vocab",
		filepath.Join(shared, "vocab/bert-base-uncased-vocab.txt"), "--out", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "--embedding-size") {
		t.Errorf("--embedding-size on distilbert: exit %d: %s", code, stderr)
	}
}

// TestFinetuneFamiliesMixout: finetune --mixout 0.7 on RoBERTa (byte-level
// BPE), XLM-RoBERTa, ALBERT and DeBERTa-v3 (SentencePiece Unigram), ELECTRA (with embeddings_project), DistilBERT and ModernBERT made by init, on
// real RTE data; the saved last/ is the family's, with its tokenizer files,
// and evaluates to the run's final metrics.
func TestFinetuneFamiliesMixout(t *testing.T) {
	needShared(t)
	data := filepath.Join(shared, "glue/RTE")
	for _, tc := range []struct {
		modelType string
		extra     []string
	}{{"roberta", nil}, {"xlm-roberta", nil}, {"electra", []string{"--embedding-size", "16"}}, {"distilbert", nil}, {"albert", []string{"--embedding-size", "16"}},
		{"deberta-v2", []string{"--max-position", "64"}}, {"modernbert", nil}} {
		t.Run(tc.modelType, func(t *testing.T) {
			m := initFamily(t, tc.modelType, "rte", tc.extra...)
			out := filepath.Join(t.TempDir(), "run")
			code, stdout, stderr := mixft(t, "finetune", "--model", m, "--task", "rte", "--data-dir", data, "--output-dir", out,
				"--mixout", "0.7", "--max-steps", "3", "--batch-size", "8", "--max-seq-length", "32",
				"--max-train-examples", "24")
			if code != 0 {
				t.Fatalf("finetune: exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "mixout(w_pre, 0.7)") {
				t.Errorf("strategy line missing: %s", stdout)
			}
			var mf struct {
				Final struct {
					Metrics map[string]float64 `json:"metrics"`
				} `json:"final"`
			}
			raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &mf); err != nil {
				t.Fatal(err)
			}
			last := filepath.Join(out, "last")
			ck, err := model.Load(last, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if ck.Config.ModelType != tc.modelType || len(ck.Initialized) != 0 {
				t.Fatalf("saved model_type %q, initialized %v", ck.Config.ModelType, ck.Initialized)
			}
			dirs := []string{last}
			if tc.modelType == "roberta" {
				// A copy whose tokenizer is only tokenizer.json (of the same vocabulary).
				only := filepath.Join(t.TempDir(), "tokenizer-json")
				if err := os.MkdirAll(only, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, f := range []string{model.ConfigFile, model.WeightsFile, model.TokenizerConfigFile} {
					copyFile(t, filepath.Join(last, f), filepath.Join(only, f))
				}
				copyFile(t, filepath.Join(shared, "fixtures/tokenization_bpe/tokenizer.json"), filepath.Join(only, "tokenizer.json"))
				dirs = append(dirs, only)
			}
			if len(mf.Final.Metrics) == 0 {
				t.Fatalf("metrics.json has no final metrics: %s", raw)
			}
			for _, dir := range dirs {
				code, stdout, stderr = mixft(t, "eval", "--model", dir, "--task", "rte", "--data-dir", data, "--json",
					"--max-seq-length", "32")
				if code != 0 {
					t.Fatalf("eval %s: %s", dir, stderr)
				}
				var ev map[string]any
				if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
					t.Fatal(err)
				}
				for k, v := range mf.Final.Metrics {
					if k == "loss" {
						continue // the dev loss: eval reports metrics only
					}
					if got, ok := ev[k].(float64); !ok || got != v {
						t.Errorf("eval of the saved model in %s: %s %v, the run's final %v", dir, k, ev[k], v)
					}
				}
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}
