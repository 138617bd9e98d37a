package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzTokenizer checks invariants of the tokenizer on arbitrary text, with
// the real uncased vocabulary when the shared fixtures are present and the
// small test vocabulary otherwise.
func FuzzTokenizer(f *testing.F) {
	for _, s := range []string{
		"", "Hello, World!", "UNwantéd,running", "ΟΔΟΣ ΑΣ.Β", "İstanbul",
		"e\u0301 \u00e9", "我爱北京 안녕하세요", "a\x00b\u200bc\ufffd", "line\u2028sep",
		"\xff\xfe invalid", "[CLS] ## ##a", strings.Repeat("ab", 150),
	} {
		f.Add(s, "second sentence", 16, true)
		f.Add(s, "", 8, false)
	}
	var texts []string
	if b, err := os.ReadFile(filepath.Join(tokTestFixtureDir, "strings.json")); err == nil {
		if err := json.Unmarshal(b, &texts); err != nil {
			f.Fatal(err)
		}
	}
	for i, s := range texts {
		f.Add(s, texts[(i+1)%len(texts)], 3+i%40, i%2 == 0)
	}

	vocab := NewVocab(tokTestSmallVocab)
	if v, err := LoadVocab(filepath.Join(tokTestFixtureDir, "../../vocab/bert-base-uncased-vocab.txt")); err == nil {
		vocab = v
	}
	var toks [2]*Tokenizer
	for i, lower := range []bool{false, true} {
		var err error
		if toks[i], err = NewTokenizer(vocab, TokenizerOptions{DoLowerCase: lower}); err != nil {
			f.Fatal(err)
		}
	}

	f.Fuzz(func(t *testing.T, a, b string, maxSeqLen int, lower bool) {
		tok := toks[0]
		if lower {
			tok = toks[1]
		}
		unk := tok.Vocab().Token(int(tok.UnkID()))

		basic := tok.BasicTokens(a)
		var pieces []string
		for _, w := range basic {
			if w == "" || strings.ContainsFunc(w, tokPySpace) {
				t.Fatalf("basic token %q is empty or has whitespace", w)
			}
			wp, _ := tok.wordpiece([]byte(w), nil, nil)
			pieces = append(pieces, wp...)
			if len(wp) == 1 && wp[0] == unk {
				continue
			}
			// Continuations: "##" on every piece but the first, and the
			// pieces spell the word.
			var sb strings.Builder
			for i, p := range wp {
				rest, cont := strings.CutPrefix(p, "##")
				if cont != (i > 0) {
					t.Fatalf("word %q: piece %d %q has wrong continuation marking (%q)", w, i, p, wp)
				}
				sb.WriteString(rest)
			}
			if sb.String() != w {
				t.Fatalf("word %q: pieces %q spell %q", w, wp, sb.String())
			}
		}
		full := tok.Tokenize(a)
		if !tokTestEqual(full, pieces) {
			t.Fatalf("Tokenize %q != wordpieces of basic tokens %q", full, pieces)
		}
		ids := tok.ConvertTokensToIDs(full)
		for i, p := range full {
			id, ok := tok.Vocab().ID(p)
			if !ok && p != unk {
				t.Fatalf("token %q is not in the vocabulary", p)
			}
			if ok && ids[i] != int32(id) {
				t.Fatalf("token %q: id %d, want %d", p, ids[i], id)
			}
		}
		if !lower {
			// Without lower-casing, basic tokenization is idempotent.
			if again := tok.BasicTokens(strings.Join(basic, " ")); !tokTestEqual(again, basic) {
				t.Fatalf("basic tokens not stable: %q -> %q", basic, again)
			}
		}

		maxSeqLen = 3 + (maxSeqLen%64+64)%64
		e := tok.EncodePair(a, b, maxSeqLen)
		n := len(e.Tokens)
		if n > maxSeqLen || n < 2 {
			t.Fatalf("EncodePair(max %d): %d tokens", maxSeqLen, n)
		}
		if len(e.InputIDs) != n || len(e.TokenTypeIDs) != n || len(e.AttentionMask) != n {
			t.Fatalf("lengths differ: %d %d %d %d", n, len(e.InputIDs), len(e.TokenTypeIDs), len(e.AttentionMask))
		}
		if e.InputIDs[0] != tok.CLSID() || e.Tokens[0] != "[CLS]" || e.InputIDs[n-1] != tok.SEPID() || e.Tokens[n-1] != "[SEP]" {
			t.Fatalf("not [CLS] ... [SEP]: %q", e.Tokens)
		}
		firstSEP := -1
		for i := range n {
			if e.AttentionMask[i] != 1 {
				t.Fatalf("mask[%d] = %d", i, e.AttentionMask[i])
			}
			if e.Tokens[i] == "[SEP]" && e.InputIDs[i] == tok.SEPID() && firstSEP < 0 {
				firstSEP = i
			}
			want := int32(0)
			if firstSEP >= 0 && i > firstSEP {
				want = 1
			}
			if e.TokenTypeIDs[i] != want {
				t.Fatalf("type ids %v for tokens %q", e.TokenTypeIDs, e.Tokens)
			}
		}
		if len(full) <= maxSeqLen-3 && b == "" && n != len(full)+2 {
			t.Fatalf("single sentence of %d tokens encoded as %d", len(full), n)
		}
		if got := tok.ConvertTokensToIDs(e.Tokens); !slices.Equal(got, e.InputIDs) {
			t.Fatalf("input ids %v do not match tokens %q", e.InputIDs, e.Tokens)
		}
		p := e.Padded(maxSeqLen, tok.PadID())
		if len(p.InputIDs) != maxSeqLen || len(p.AttentionMask) != maxSeqLen || len(p.TokenTypeIDs) != maxSeqLen {
			t.Fatalf("Padded(%d): %d ids", maxSeqLen, len(p.InputIDs))
		}
	})
}
