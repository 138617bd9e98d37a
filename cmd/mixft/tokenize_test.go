package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/fixture"
)

// tokenizeCase is one line of `mixft tokenize` input and the encoding it
// must give.
type tokenizeCase struct {
	a, b   string
	max    int // 0: no truncation
	ids    []int32
	tokens []string // nil: not checked
}

// checkTokenize runs `mixft tokenize --model dir` on the cases whose texts
// fit on one line, one run per max_seq_length, and compares every line.
func checkTokenize(t *testing.T, dir string, cases []tokenizeCase) {
	t.Helper()
	byMax := map[int][]tokenizeCase{}
	for _, c := range cases {
		if !strings.ContainsAny(c.a+c.b, "\t\n\r") {
			byMax[c.max] = append(byMax[c.max], c)
		}
	}
	checked := 0
	for n, cs := range byMax {
		var sb strings.Builder
		for _, c := range cs {
			sb.WriteString(c.a)
			if c.b != "" {
				sb.WriteString("\t" + c.b)
			}
			sb.WriteString("\n")
		}
		in := filepath.Join(t.TempDir(), "in.txt")
		if err := os.WriteFile(in, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := mixft(t, "tokenize", "--model", dir, "--input", in, "--max-seq-length", fmt.Sprint(n))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		out := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if len(out) != len(cs) {
			t.Fatalf("max %d: %d output lines for %d inputs", n, len(out), len(cs))
		}
		for i, o := range out {
			var got struct {
				InputIDs []int32  `json:"input_ids"`
				Tokens   []string `json:"tokens"`
			}
			if err := json.Unmarshal([]byte(o), &got); err != nil {
				t.Fatalf("line %d: %v: %s", i+1, err, o)
			}
			c := cs[i]
			if !slices.Equal(got.InputIDs, c.ids) || (c.tokens != nil && !slices.Equal(got.Tokens, c.tokens)) {
				t.Errorf("max %d, (%q, %q):\n got %v %q\nwant %v %q", n, c.a, c.b, got.InputIDs, got.Tokens, c.ids, c.tokens)
			}
			checked++
		}
	}
	if checked < len(cases)*3/4 {
		t.Fatalf("only %d of %d cases checked", checked, len(cases))
	}
}

// TestTokenizeBPEFixture runs `mixft tokenize` on the pairs of the
// tokenization_bpe fixture with the model directory holding vocab.json +
// merges.txt and, separately, only tokenizer.json, and compares with
// RobertaTokenizerFast's encodings.
func TestTokenizeBPEFixture(t *testing.T) {
	src := fixture.Path(t, "fixtures", "tokenization_bpe")
	raw, err := os.ReadFile(filepath.Join(src, "pairs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			TextA        string   `json:"text_a"`
			TextB        *string  `json:"text_b"`
			MaxLength    *int     `json:"max_length"`
			InputIDs     []int32  `json:"input_ids"`
			FastInputIDs []int32  `json:"fast_input_ids"`
			Tokens       []string `json:"tokens"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var cases []tokenizeCase
	for _, c := range f.Cases {
		tc := tokenizeCase{a: c.TextA, ids: c.InputIDs, tokens: c.Tokens}
		if c.TextB != nil {
			tc.b = *c.TextB
		}
		if c.MaxLength != nil {
			tc.max = *c.MaxLength
		}
		if c.FastInputIDs != nil {
			tc.ids, tc.tokens = c.FastInputIDs, nil
		}
		cases = append(cases, tc)
	}
	for _, files := range [][]string{{"vocab.json", "merges.txt"}, {"tokenizer.json"}} {
		t.Run(strings.Join(files, "+"), func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range files {
				if err := os.Symlink(filepath.Join(src, name), filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			checkTokenize(t, dir, cases)
		})
	}
}

// TestTokenizeWordPiece runs `mixft tokenize` on a BERT directory (vocab.txt,
// do_lower_case from tokenizer_config.json) and compares with
// google-research/bert's encodings of the WordPiece pair fixture.
func TestTokenizeWordPiece(t *testing.T) {
	raw, err := os.ReadFile(fixture.Path(t, "fixtures", "tokenization", "pairs_uncased.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vocab       string `json:"vocab"`
		DoLowerCase bool   `json:"do_lower_case"`
		Cases       []struct {
			TextA     string   `json:"text_a"`
			TextB     *string  `json:"text_b"`
			MaxSeqLen int      `json:"max_seq_length"`
			Tokens    []string `json:"tokens"`
			InputIDs  []int32  `json:"input_ids"`
			InputMask []int    `json:"input_mask"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(shared, "fixtures", "tokenization", f.Vocab), filepath.Join(dir, "vocab.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(fmt.Sprintf(`{"do_lower_case": %t}`, f.DoLowerCase)), 0o644); err != nil {
		t.Fatal(err)
	}
	// Special tokens written in the text are matched as BertTokenizerFast
	// matches them, not split as google-research/bert does (the cases
	// holding them are left out; internal/data's TestAddedTokensGolden
	// compares them with Hugging Face tokenizers).
	specials := regexp.MustCompile(`\[(CLS|SEP|MASK|UNK|PAD)\]`)
	cases := []tokenizeCase{{a: "literal [CLS] and [MASK]", b: "[cls]", ids: []int32{101, 18204, 101, 1998, 103, 102, 1031, 18856, 2015, 1033, 102}}}
	for _, c := range f.Cases {
		if specials.MatchString(c.TextA) || c.TextB != nil && specials.MatchString(*c.TextB) {
			continue
		}
		n := slices.Index(c.InputMask, 0) // the fixture is padded
		if n < 0 {
			n = len(c.InputMask)
		}
		tc := tokenizeCase{a: c.TextA, max: c.MaxSeqLen, ids: c.InputIDs[:n], tokens: c.Tokens[:n]}
		if c.TextB != nil {
			tc.b = *c.TextB
		}
		cases = append(cases, tc)
	}
	checkTokenize(t, dir, cases)
}

func TestTokenizeErrors(t *testing.T) {
	src := fixture.Path(t, "fixtures", "tokenization_bpe")
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("one\ntwo\tthree\nfour\tfive\tsix\n"), 0o644)
	// A RoBERTa model folder: the BPE tokenizer beside a config.json with
	// max_position_embeddings 66 (64 tokens after the padding offset).
	withModel := t.TempDir()
	for _, name := range []string{"vocab.json", "merges.txt"} {
		if err := os.Symlink(filepath.Join(src, name), filepath.Join(withModel, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(fixture.Path(t, "fixtures", "roberta", "checkpoints", "C", "config.json"), filepath.Join(withModel, "config.json")); err != nil {
		t.Fatal(err)
	}
	oneLine := filepath.Join(t.TempDir(), "one.txt")
	os.WriteFile(oneLine, []byte("one\ttwo\n"), 0o644)
	if code, stdout, stderr := mixft(t, "tokenize", "--model", withModel, "--input", oneLine, "--max-seq-length", "64"); code != 0 || !strings.Contains(stdout, `"input_ids":[0,`) {
		t.Errorf("max_seq_length 64, the model's longest: exit %d %s%s", code, stdout, stderr)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"three fields", []string{"--model", src, "--input", in}, []string{in + ":3", "3 tab-separated fields"}},
		{"no tokenizer", []string{"--model", t.TempDir(), "--input", in}, []string{"no tokenizer files", "vocab.txt", "tokenizer.json"}},
		{"missing input", []string{"--model", src, "--input", "/nonexistent/in.txt"}, []string{"/nonexistent/in.txt"}},
		{"negative length", []string{"--model", src, "--input", in, "--max-seq-length", "-1"}, []string{"max_seq_length: -1", "flag --max-seq-length"}},
		{"length below the special tokens", []string{"--model", src, "--input", in, "--max-seq-length", "3"}, []string{"max_seq_length 3 is too small: a pair's special tokens alone take 4"}},
		{"length over the model's", []string{"--model", withModel, "--input", in, "--max-seq-length", "65"}, []string{"max_seq_length 65 exceeds the model's longest sequence 64 (max_position_embeddings 66)"}},
		{"lower-casing BPE", []string{"--model", src, "--input", in, "--do-lower-case", "true"}, []string{"do_lower_case"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := mixft(t, append([]string{"tokenize"}, tc.args...)...)
			if code != 1 || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not mention %q", stderr, w)
				}
			}
		})
	}
}

// unigramTestdata is internal/data's folder of SentencePiece Unigram
// models, their tokenizer.json files and golden ids
// (scripts/gen_unigram_golden.py).
const unigramTestdata = "../../internal/data/testdata/unigram"

// unigramFolder lays out a model folder from unigramTestdata: NAME is the
// tokenizer.json transformers saved, NAME-spm the SentencePiece model alone
// under the family's file name; both with the family's
// tokenizer_config.json.
func unigramFolder(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	base, spm := strings.CutSuffix(name, "-spm")
	copyFile := func(src, dst string, gz bool) {
		b, err := os.ReadFile(filepath.Join(unigramTestdata, src))
		if err != nil {
			t.Fatal(err)
		}
		if gz {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(base+".tokenizer_config.json", "tokenizer_config.json", false)
	if spm {
		file := map[string]string{"xlmr": "sentencepiece.bpe.model", "deberta": "spm.model", "albert": "spiece.model"}[base]
		copyFile(base+".model", file, false)
	} else {
		copyFile(base+".tokenizer.json.gz", "tokenizer.json", true)
	}
	return dir
}

// TestTokenizeUnigram runs `mixft tokenize` on SentencePiece Unigram
// folders (XLM-R, DeBERTa-v2 and ALBERT layouts; tokenizer.json, or the
// .model file alone) and compares with the Hugging Face fast tokenizers'
// ids for the hostile strings of the golden file, single and as pairs
// truncated to 64.
func TestTokenizeUnigram(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(unigramTestdata, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Hostile []string `json:"hostile"`
		Fast    map[string]struct {
			Hostile      []json.RawMessage `json:"hostile"`
			HostilePairs []json.RawMessage `json:"hostile_pairs"`
		} `json:"fast"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	ids := func(line json.RawMessage) ([]int32, bool) {
		var s string
		if json.Unmarshal(line, &s) != nil { // a digest: too long to keep
			return nil, false
		}
		s, _, _ = strings.Cut(s, ";")
		var out []int32
		for _, f := range strings.Split(s, ",") {
			var id int32
			if _, err := fmt.Sscan(f, &id); err != nil {
				t.Fatalf("golden ids %q: %v", s, err)
			}
			out = append(out, id)
		}
		return out, true
	}
	for _, name := range []string{"xlmr", "deberta", "albert", "xlmr-spm", "deberta-spm", "albert-spm"} {
		t.Run(name, func(t *testing.T) {
			want := g.Fast[name]
			var cases []tokenizeCase
			for i, s := range g.Hostile {
				if w, ok := ids(want.Hostile[i]); ok {
					cases = append(cases, tokenizeCase{a: s, ids: w})
				}
			}
			n := len(g.Hostile) + 2 // the two long strings are not listed
			for k, i := 0, 0; i < n-2; k, i = k+1, i+3 {
				j := (i*7 + 3) % n
				if j >= len(g.Hostile) {
					continue
				}
				if w, ok := ids(want.HostilePairs[k]); ok {
					cases = append(cases, tokenizeCase{a: g.Hostile[i], b: g.Hostile[j], max: 64, ids: w})
				}
			}
			checkTokenize(t, unigramFolder(t, name), cases)
		})
	}
}
