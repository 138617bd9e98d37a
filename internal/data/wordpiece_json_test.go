package data

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// wpTestTokenizerJSON writes a BERT tokenizer.json (as transformers'
// BertConverter builds it) over the tokens of a vocab.txt into a new
// directory; edit changes the JSON text before it is written.
func wpTestTokenizerJSON(t *testing.T, vocabPath string, lower bool, edit func(string) string) string {
	t.Helper()
	v, err := LoadVocab(vocabPath)
	if err != nil {
		t.Fatal(err)
	}
	ids := make(map[string]int, v.Len())
	for id := range v.Len() {
		ids[v.Token(id)] = id
	}
	vb, _ := json.Marshal(ids)
	s := fmt.Sprintf(`{"version": "1.0", "truncation": null, "padding": null,
"added_tokens": [{"id": 0, "content": "[PAD]", "special": true}],
"normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": %t},
"pre_tokenizer": {"type": "BertPreTokenizer"},
"post_processor": {"type": "TemplateProcessing",
 "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
 "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
 "special_tokens": {}},
"decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
"model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": %s}}`, lower, vb)
	if edit != nil {
		s = edit(s)
	}
	d := t.TempDir()
	if err := os.WriteFile(filepath.Join(d, TokenizerJSONFile), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestWordPieceTokenizerJSONFixtures: BERT's tokenizer.json, loaded by
// LoadEncoder from a directory without vocab.txt, reproduces the WordPiece
// fixtures with the file's max_input_chars_per_word (100, then 200 for the
// pairs).
func TestWordPieceTokenizerJSONFixtures(t *testing.T) {
	for _, name := range []string{"uncased", "cased"} {
		t.Run(name, func(t *testing.T) {
			var fx tokTestStringsFixture
			tokTestReadFixture(t, name+".json", &fx)
			dir := wpTestTokenizerJSON(t, filepath.Join(tokTestFixtureDir, fx.Vocab), fx.DoLowerCase, nil)
			enc, err := LoadEncoder(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			tok, ok := enc.(*Tokenizer)
			if !ok || tok.DoLowerCase() != fx.DoLowerCase || tok.MaxInputCharsPerWord() != 100 {
				t.Fatalf("LoadEncoder gave %T (lower %t, max chars %d)", enc, tok.DoLowerCase(), tok.MaxInputCharsPerWord())
			}
			for i, c := range fx.Cases {
				want := c.Tokens
				if c.Tokens100 != nil {
					want = *c.Tokens100
				}
				if got := tok.Tokenize(c.Text); !tokTestEqual(got, want) {
					t.Errorf("case %d %+q: tokens\n got %+q\nwant %+q", i, c.Text, got, want)
				}
			}
			var px struct {
				Cases []struct {
					TextA     string  `json:"text_a"`
					TextB     *string `json:"text_b"`
					MaxSeqLen int     `json:"max_seq_length"`
					tokTestEncoded
				} `json:"cases"`
			}
			tokTestReadFixture(t, "pairs_"+name+".json", &px)
			// The pair fixture is google-research/bert's: 200 characters per word.
			dir200 := wpTestTokenizerJSON(t, filepath.Join(tokTestFixtureDir, fx.Vocab), fx.DoLowerCase, func(s string) string {
				return strings.Replace(s, `"max_input_chars_per_word": 100`, `"max_input_chars_per_word": 200`, 1)
			})
			if tok, err = LoadWordPieceTokenizerJSON(dir200, nil); err != nil {
				t.Fatal(err)
			}
			for i, c := range px.Cases {
				b := ""
				if c.TextB != nil {
					b = *c.TextB
				}
				tokTestCheckEncoding(t, "pair "+strconv.Itoa(i), tok, tok.EncodePair(c.TextA, b, c.MaxSeqLen), c.MaxSeqLen, c.tokTestEncoded)
			}
		})
	}
}

func TestWordPieceTokenizerJSONErrors(t *testing.T) {
	vocab := filepath.Join(t.TempDir(), "vocab.txt")
	if err := os.WriteFile(vocab, []byte(strings.Join(tokTestSmallVocab, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	no := false
	for _, c := range []struct {
		name string
		edit func(string) string
		want string
	}{
		{"ok", nil, ""},
		{"bert processing", func(s string) string {
			i, j := strings.Index(s, `"post_processor"`), strings.Index(s, `"decoder"`)
			return s[:i] + `"post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}, ` + s[j:]
		}, ""},
		{"unk", func(s string) string { return strings.Replace(s, `"unk_token": "[UNK]"`, `"unk_token": "<unk>"`, 1) }, `key "model.unk_token": "<unk>"`},
		{"prefix", func(s string) string {
			return strings.Replace(s, `"continuing_subword_prefix": "##"`, `"continuing_subword_prefix": "@@"`, 1)
		}, `key "model.continuing_subword_prefix"`},
		{"normalizer", func(s string) string { return strings.Replace(s, `"type": "BertNormalizer"`, `"type": "NFD"`, 1) }, `key "normalizer": expected`},
		{"strip accents", func(s string) string { return strings.Replace(s, `"strip_accents": null`, `"strip_accents": false`, 1) }, `key "normalizer.strip_accents": false with lower-casing true`},
		{"chinese", func(s string) string {
			return strings.Replace(s, `"handle_chinese_chars": true`, `"handle_chinese_chars": false`, 1)
		}, `clean_text and handle_chinese_chars`},
		{"pre_tokenizer", func(s string) string { return strings.Replace(s, `"BertPreTokenizer"`, `"Whitespace"`, 1) }, `key "pre_tokenizer"`},
		{"template", func(s string) string {
			return strings.Replace(s, `"id": "B", "type_id": 1`, `"id": "B", "type_id": 0`, 1)
		}, `key "post_processor": template`},
		{"max chars", func(s string) string {
			return strings.Replace(s, `"max_input_chars_per_word": 100`, `"max_input_chars_per_word": 0`, 1)
		}, `key "model.max_input_chars_per_word": 0`},
		{"ids with a gap", func(s string) string { return strings.Replace(s, `"[CLS]":2`, `"[CLS]":99`, 1) }, `key "model.vocab": token "[CLS]" has id 99, out of range for`},
		{"two tokens on one id", func(s string) string { return strings.Replace(s, `"[CLS]":2`, `"[CLS]":3`, 1) }, `key "model.vocab": tokens "[CLS]" and "[SEP]" both have id 3`},
		{"no [SEP]", func(s string) string { return strings.Replace(s, `"[SEP]":3`, `"[SEX]":3`, 1) }, `vocabulary has no [SEP]`},
		{"model type", func(s string) string {
			return strings.Replace(s, `"type": "WordPiece", "unk_token"`, `"type": "WordLevel", "unk_token"`, 1)
		}, `key "model.type": "WordLevel" is not supported (BPE, WordPiece or Unigram)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := wpTestTokenizerJSON(t, vocab, true, c.edit)
			enc, err := LoadEncoder(dir, nil)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				e := enc.EncodePair("Hello, WORLD", "unaffable", 16)
				wantTokens := []string{"[CLS]", "hello", ",", "world", "[SEP]", "un", "##aff", "##able", "[SEP]"}
				if !tokTestEqual(e.Tokens, wantTokens) || e.TokenTypeIDs[5] != 1 || enc.PadID() != 0 {
					t.Fatalf("tokens %q types %v", e.Tokens, e.TokenTypeIDs)
				}
				// An override of the normalizer's lowercase.
				tok, err := LoadWordPieceTokenizerJSON(dir, &no)
				if err != nil || tok.DoLowerCase() {
					t.Fatalf("override false: %v, lower %t", err, tok.DoLowerCase())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), TokenizerJSONFile) {
				t.Fatalf("error %v, want one line naming tokenizer.json and containing %q", err, c.want)
			}
		})
	}
}

// TestWordPieceTokenizerJSONLowerCase: tokenizer_config.json's
// do_lower_case overrides the normalizer's lowercase, and an explicit
// override both.
func TestWordPieceTokenizerJSONLowerCase(t *testing.T) {
	vocab := filepath.Join(t.TempDir(), "vocab.txt")
	if err := os.WriteFile(vocab, []byte(strings.Join(tokTestSmallVocab, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := wpTestTokenizerJSON(t, vocab, true, nil)
	yes := true
	for _, c := range []struct {
		config   string
		override *bool
		want     bool
	}{
		{"", nil, true},
		{`{"do_lower_case": false}`, nil, false},
		{`{"do_lower_case": null}`, nil, true},
		{`{"do_lower_case": false}`, &yes, true},
	} {
		cfg := filepath.Join(dir, "tokenizer_config.json")
		os.Remove(cfg)
		if c.config != "" {
			if err := os.WriteFile(cfg, []byte(c.config), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tok, err := LoadWordPieceTokenizerJSON(dir, c.override)
		if err != nil || tok.DoLowerCase() != c.want {
			t.Errorf("config %q, override %v: err %v, lower %t, want %t", c.config, c.override, err, tok != nil && tok.DoLowerCase(), c.want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"do_lower_case": "yes"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWordPieceTokenizerJSON(dir, nil); err == nil || !strings.Contains(err.Error(), "do_lower_case") {
		t.Fatalf("bad do_lower_case: %v", err)
	}
}
