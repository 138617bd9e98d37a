package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mixft/mixft/internal/data/spmpb"
)

// TestUnigramTokenizerJSONErrors checks that a malformed Unigram
// tokenizer.json is refused with one line naming the file and the key.
func TestUnigramTokenizerJSONErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(tj map[string]any)
		want string
	}{
		{"no unk_id", func(tj map[string]any) { delete(tj["model"].(map[string]any), "unk_id") }, `key "model.unk_id": missing`},
		{"unk_id outside", func(tj map[string]any) { tj["model"].(map[string]any)["unk_id"] = 5000 }, `key "model.unk_id": 5000 is outside`},
		{"vocab an object", func(tj map[string]any) { tj["model"].(map[string]any)["vocab"] = map[string]int{"a": 0} }, `key "model.vocab": expected a non-empty list of [piece, score] pairs`},
		{"score a string", func(tj map[string]any) { tj["model"].(map[string]any)["vocab"].([]any)[7] = []any{"x", "high"} }, `key "model.vocab[7]": expected [piece, score]`},
		{"piece twice", func(tj map[string]any) {
			v := tj["model"].(map[string]any)["vocab"].([]any)
			v[9] = []any{v[8].([]any)[0], -3.0}
		}, `is given twice`},
		{"unknown normalizer", func(tj map[string]any) {
			tj["normalizer"].(map[string]any)["normalizers"].([]any)[1] = map[string]any{"type": "Nmt"}
		}, `key "normalizer.normalizers[1]": normalizer "Nmt" is not supported`},
		{"charsmap not base64", func(tj map[string]any) {
			tj["normalizer"].(map[string]any)["normalizers"].([]any)[0].(map[string]any)["precompiled_charsmap"] = "!!"
		}, `key "normalizer.normalizers[0].precompiled_charsmap": not base64`},
		{"charsmap cut short", func(tj map[string]any) {
			tj["normalizer"].(map[string]any)["normalizers"].([]any)[0].(map[string]any)["precompiled_charsmap"] = "AAEAAA=="
		}, `precompiled charsmap: trie size 256 does not fit`},
		{"bad regex", func(tj map[string]any) {
			tj["normalizer"].(map[string]any)["normalizers"].([]any)[2].(map[string]any)["pattern"] = map[string]any{"Regex": "(("}
		}, `key "normalizer.normalizers[2].pattern.Regex"`},
		{"byte-level pre-tokenizer", func(tj map[string]any) { tj["pre_tokenizer"] = map[string]any{"type": "ByteLevel"} }, `key "pre_tokenizer": expected Metaspace`},
		{"prepend scheme", func(tj map[string]any) { tj["pre_tokenizer"].(map[string]any)["prepend_scheme"] = "sometimes" }, `"sometimes" is not always, first or never`},
		{"first after WhitespaceSplit", func(tj map[string]any) {
			ms := tj["pre_tokenizer"].(map[string]any)
			ms["prepend_scheme"] = "first"
			tj["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{map[string]any{"type": "WhitespaceSplit"}, ms}}
		}, `prepend_scheme first after WhitespaceSplit is not supported`},
		{"template without A", func(tj map[string]any) {
			tj["post_processor"].(map[string]any)["single"] = []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}}
		}, `key "post_processor".single: the template must hold $A`},
		{"template unknown special", func(tj map[string]any) {
			delete(tj["post_processor"].(map[string]any)["special_tokens"].(map[string]any), "</s>")
		}, `special token "</s>" is not in special_tokens`},
		{"processor kind", func(tj map[string]any) { tj["post_processor"] = map[string]any{"type": "ByteLevel"} }, `post-processor "ByteLevel" is not supported`},
	}
	src := uniTestFolder(t, "xlmr")
	b, err := os.ReadFile(filepath.Join(src, TokenizerJSONFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tj map[string]any
			if err := json.Unmarshal(b, &tj); err != nil {
				t.Fatal(err)
			}
			c.edit(tj)
			out, err := json.Marshal(tj)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, TokenizerJSONFile)
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = LoadEncoder(dir, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line naming %s and saying %q", err, path, c.want)
			}
		})
	}
}

// TestSPMModelErrors checks the refusals of SentencePiece model folders.
func TestSPMModelErrors(t *testing.T) {
	model, err := os.ReadFile(filepath.Join(uniTestDir, "deberta.model"))
	if err != nil {
		t.Fatal(err)
	}
	var m spmpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		t.Fatal(err)
	}
	bpe := proto.Clone(&m).(*spmpb.ModelProto)
	bpe.TrainerSpec.ModelType = spmpb.TrainerSpec_BPE.Enum()
	bpeBytes, err := proto.Marshal(bpe)
	if err != nil {
		t.Fatal(err)
	}
	noUnk := proto.Clone(&m).(*spmpb.ModelProto)
	for _, p := range noUnk.Pieces {
		if p.GetType() == spmpb.ModelProto_SentencePiece_UNKNOWN {
			p.Type = spmpb.ModelProto_SentencePiece_CONTROL.Enum()
		}
	}
	noUnkBytes, err := proto.Marshal(noUnk)
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	cases := []struct {
		name   string
		model  []byte
		config string
		lower  *bool
		want   string
	}{
		{"not protobuf", []byte("this is not a model file"), "", nil, "not a SentencePiece model"},
		{"empty", nil, "", nil, "not a SentencePiece model: it has no pieces"},
		{"BPE", bpeBytes, "", nil, "trainer_spec.model_type is BPE; only Unigram models are supported"},
		{"other family", model, `{"tokenizer_class": "T5Tokenizer"}`, nil, `key "tokenizer_class": "T5Tokenizer" is not a SentencePiece Unigram family`},
		{"split_by_punct", model, `{"split_by_punct": true}`, nil, `key "split_by_punct": true is not supported`},
		{"do_lower_case not boolean", model, `{"do_lower_case": "yes"}`, nil, `key "do_lower_case": expected a boolean`},
		{"XLM-R lower-casing", model, `{"tokenizer_class": "XLMRobertaTokenizerFast"}`, &yes, "XLM-RoBERTa's tokenizer keeps the case"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, SPMFileDeBERTa), c.model, 0o644); err != nil {
				t.Fatal(err)
			}
			if c.config != "" {
				if err := os.WriteFile(filepath.Join(dir, tokenizerConfigFile), []byte(c.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadEncoder(dir, c.lower)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), dir) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line naming the folder's file and saying %q", err, c.want)
			}
		})
	}
	// sentencepiece's own encoder needs an unknown piece.
	path := filepath.Join(t.TempDir(), "m.model")
	if err := os.WriteFile(path, noUnkBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSentencePiece(path); err == nil || !strings.Contains(err.Error(), path+": no piece of type UNKNOWN") {
		t.Fatalf("model without an unknown piece: got %v", err)
	}
	// A tokenizer.json folder's pad_token must be a token.
	xlmr := uniTestFolder(t, "xlmr")
	cfg := filepath.Join(xlmr, tokenizerConfigFile)
	if err := os.WriteFile(cfg, []byte(`{"pad_token": "<nothing>"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadEncoder(xlmr, nil); err == nil || !strings.Contains(err.Error(), cfg+`: key "pad_token": "<nothing>" is not a token`) {
		t.Fatalf("pad_token not a token: got %v", err)
	}
	// A Unigram tokenizer.json lower-cases as its normalizer says: an
	// override that agrees is accepted, one that does not is refused.
	albert := uniTestFolder(t, "albert")
	if _, err := LoadEncoder(albert, &yes); err != nil {
		t.Fatalf("albert with do_lower_case true: %v", err)
	}
	if _, err := LoadEncoder(albert, &no); err == nil || !strings.Contains(err.Error(), "its normalizer lower-cases: true") {
		t.Fatalf("albert with do_lower_case false: got %v", err)
	}
	// The override reaches the converted ALBERT tokenizer.
	dir := uniTestFolder(t, "albert-spm")
	for _, lower := range []bool{true, false} {
		enc, err := LoadEncoder(dir, &lower)
		if err != nil {
			t.Fatal(err)
		}
		if enc.DoLowerCase() != lower {
			t.Fatalf("albert-spm with do_lower_case %t lower-cases: %t", lower, enc.DoLowerCase())
		}
	}
}

// TestPerlClass checks which Replace patterns are refused for their
// Perl classes.
func TestPerlClass(t *testing.T) {
	for pat, want := range map[string]bool{
		` {2,}`: false, `\s+`: true, `a\d`: true, `\\s`: false, `\\\s`: true, `[\w]`: true, `\.`: false, `\bx`: true, `\p{L}`: false,
	} {
		if got := perlClass.MatchString(pat); got != want {
			t.Errorf("%q: refused %t, want %t", pat, got, want)
		}
	}
}
