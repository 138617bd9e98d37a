package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/fixture"
)

// addedGolden is testdata/added_tokens_golden.json, written by
// scripts/gen_added_tokens_golden.py with Hugging Face tokenizers.
type addedGolden struct {
	Versions   map[string]string `json:"versions"`
	Tokenizers []struct {
		Name        string `json:"name"`
		Family      string `json:"family"`
		Vocab       string `json:"vocab"` // under ../shared
		Lower       bool   `json:"lower"`
		AddedTokens []struct {
			ID         int32  `json:"id"`
			Content    string `json:"content"`
			SingleWord bool   `json:"single_word"`
			Lstrip     bool   `json:"lstrip"`
			Rstrip     bool   `json:"rstrip"`
			Normalized bool   `json:"normalized"`
		} `json:"added_tokens"`
		Cases []struct {
			A      string   `json:"a"`
			B      *string  `json:"b"`
			IDs    []int32  `json:"ids"`
			Tokens []string `json:"tokens"`
		} `json:"cases"`
	} `json:"tokenizers"`
}

// TestAddedTokensGolden: special tokens written in the text give the ids
// Hugging Face's fast tokenizers (tokenizers 0.21.1) give, for WordPiece
// over the real BERT vocabularies and for the byte-level BPE fixture,
// with the default flags and with single_word, lstrip, rstrip and
// normalized changed; through every loader that reads them (vocab.txt
// with BertTokenizerFast's defaults, tokenizer.json's added_tokens,
// vocab.json + merges.txt with RobertaTokenizer's defaults). Ids must be
// equal; tokens too, except where an added token stands (the fast
// tokenizer shows the matched text there, " [SEP]" with lstrip, mixft the
// token).
func TestAddedTokensGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "added_tokens_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g addedGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if g.Versions["tokenizers"] != "0.21.1" || len(g.Tokenizers) != 5 {
		t.Fatalf("golden file: versions %v, %d tokenizers", g.Versions, len(g.Tokenizers))
	}
	checked := 0
	for _, spec := range g.Tokenizers {
		// The added tokens as tokenizer.json lists them.
		var list []map[string]any
		isAdded := map[int32]bool{}
		defaultFlags := true
		for _, a := range spec.AddedTokens {
			list = append(list, map[string]any{"id": a.ID, "content": a.Content, "single_word": a.SingleWord,
				"lstrip": a.Lstrip, "rstrip": a.Rstrip, "normalized": a.Normalized, "special": true})
			isAdded[a.ID] = true
			def := !a.SingleWord && !a.Lstrip && !a.Rstrip && !a.Normalized
			if spec.Family == "bpe" {
				def = !a.SingleWord && !a.Rstrip && a.Lstrip == (a.Content == "<mask>") && a.Normalized == (a.Content != "<mask>")
			}
			defaultFlags = defaultFlags && def
		}
		addedJSON, _ := json.Marshal(list)
		encoders := map[string]Encoder{}
		switch spec.Family {
		case "wordpiece":
			vocabPath := fixture.Path(t, strings.Split(spec.Vocab, "/")...)
			dir := wpTestTokenizerJSON(t, vocabPath, spec.Lower, func(s string) string {
				return strings.Replace(s, `[{"id": 0, "content": "[PAD]", "special": true}]`, string(addedJSON), 1)
			})
			enc, err := LoadWordPieceTokenizerJSON(dir, nil)
			if err != nil {
				t.Fatalf("%s: %v", spec.Name, err)
			}
			encoders["tokenizer.json"] = enc
			if defaultFlags {
				d := t.TempDir()
				if err := os.Symlink(vocabPath, filepath.Join(d, WordPieceVocabFile)); err != nil {
					t.Fatal(err)
				}
				if encoders["vocab.txt"], err = LoadTokenizer(d, &spec.Lower); err != nil {
					t.Fatal(err)
				}
			}
		case "bpe":
			src := fixture.Path(t, strings.Split(spec.Vocab, "/")...)
			raw, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			var tj map[string]json.RawMessage
			if err := json.Unmarshal(raw, &tj); err != nil {
				t.Fatal(err)
			}
			tj["added_tokens"] = addedJSON
			edited, _ := json.Marshal(tj)
			enc, err := LoadBPETokenizerJSON(bpeTestDirWith(t, nil, map[string]string{TokenizerJSONFile: string(edited)}))
			if err != nil {
				t.Fatalf("%s: %v", spec.Name, err)
			}
			encoders["tokenizer.json"] = enc
			if defaultFlags {
				if encoders["vocab.json+merges.txt"], err = LoadBPE(bpeTestDirWith(t, []string{"vocab.json", "merges.txt"}, nil)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if defaultFlags != !strings.Contains(spec.Name, "flags") {
			t.Errorf("%s: default flags %v", spec.Name, defaultFlags)
		}
		for from, enc := range encoders {
			for _, c := range spec.Cases {
				bText := ""
				if c.B != nil {
					bText = *c.B
				}
				e := enc.EncodePair(c.A, bText, 1<<20)
				same := slices.Equal(e.InputIDs, c.IDs)
				for i := range e.Tokens {
					if same && !isAdded[c.IDs[i]] && e.Tokens[i] != c.Tokens[i] {
						same = false
					}
				}
				if !same {
					t.Errorf("%s from %s: (%q, %q):\n got %v %q\nwant %v %q", spec.Name, from, c.A, bText, e.InputIDs, e.Tokens, c.IDs, c.Tokens)
				}
				checked++
			}
		}
	}
	if checked < 296 {
		t.Errorf("only %d encodings checked", checked)
	}
}

// TestSplitAdded: the splitter's rules one by one (leftmost, longest,
// single_word with its non-overlapping search, lstrip never into an
// earlier match, rstrip).
func TestSplitAdded(t *testing.T) {
	v := newAddedVocab([]addedToken{
		{content: "<m>", id: 1, singleWord: true},
		{content: "<m>x", id: 2},
		{content: "[S]", id: 3, lstrip: true, rstrip: true},
		{content: "[T]", id: 4, lstrip: true},
		{content: "up", id: 5, normalized: true},
	}, strings.ToLower)
	for _, c := range []struct {
		in   string
		want []textPiece
	}{
		{"a <m> b", []textPiece{{"a ", -1}, {"<m>", 1}, {" b", -1}}},
		{"a<m> b", []textPiece{{"a<m> b", -1}}},        // single_word: a word character before
		{"<m>xy", []textPiece{{"<m>x", 2}, {"y", -1}}}, // the longest match
		{"é<m>", []textPiece{{"é<m>", -1}}},
		{"-<m>-", []textPiece{{"-", -1}, {"<m>", 1}, {"-", -1}}},
		{"a \t[S]\u3000 b", []textPiece{{"a", -1}, {" \t[S]\u3000 ", 3}, {"b", -1}}},
		{"[S]  [T]", []textPiece{{"[S]  ", 3}, {"[T]", 4}}}, // lstrip stops at the earlier match
		{"a\u200b[T]", []textPiece{{"a\u200b", -1}, {"[T]", 4}}},
		{"UP and up", []textPiece{{"", -1}, {"up", 5}, {" and ", -1}, {"up", 5}}[1:]},
		{"[S]UP", []textPiece{{"[S]", 3}, {"up", 5}}},
	} {
		if got := v.split(c.in); !slices.Equal(got, c.want) {
			t.Errorf("split(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// BenchmarkWordPieceEncodePair encodes RTE's dev set (277 pairs) with
// bert-base-uncased, as google-research/bert does and with the special
// tokens split out first (what LoadTokenizer gives).
func BenchmarkWordPieceEncodePair(b *testing.B) {
	v, err := LoadVocab(fixture.Path(b, "vocab", "bert-base-uncased-vocab.txt"))
	if err != nil {
		b.Fatal(err)
	}
	task, err := LookupTask("rte")
	if err != nil {
		b.Fatal(err)
	}
	ex, _, err := task.ReadFile(fixture.Path(b, "glue", "RTE", "dev.tsv"), "dev")
	if err != nil {
		b.Fatal(err)
	}
	nbytes := 0
	for _, e := range ex {
		nbytes += len(e.TextA) + len(e.TextB)
	}
	for _, split := range []bool{false, true} {
		tok, err := NewTokenizer(v, TokenizerOptions{DoLowerCase: true, SplitSpecialTokens: split})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(map[bool]string{false: "google", true: "split-special"}[split], func(b *testing.B) {
			b.SetBytes(int64(nbytes))
			for b.Loop() {
				for _, e := range ex {
					tok.EncodePair(e.TextA, e.TextB, 128)
				}
			}
		})
	}
}
