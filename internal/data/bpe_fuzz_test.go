package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzBPE checks, on arbitrary text, that nothing panics, that both loaders
// (vocab.json + merges.txt and tokenizer.json) encode alike, that the
// pre-tokenizer pieces tile the text, that byte-level BPE decodes back to
// the exact bytes, and the layout and length of pair encodings. It uses the
// fixture vocabulary when ../shared is present, else a tiny one.
func FuzzBPE(f *testing.F) {
	for _, s := range []string{
		"", " ", "Hello, World!", "  two  spaces  ", "tab\tnew\nline\r\n", "DON'T don't 'll'LL",
		"\u00a0\u2028\u3000\u200b\ufeff", "我爱北京 안녕하세요 𝔘𝔫𝔦", "\xff\xfe invalid \xc3", "a<s>b</s><pad><unk> <mask>x",
		strings.Repeat("ab", 200), strings.Repeat(" ", 70) + "x",
	} {
		f.Add(s, "second text", 16)
		f.Add(s, "", 7)
	}
	var texts []string
	if b, err := os.ReadFile(filepath.Join(bpeTestDir, "strings.json")); err == nil {
		if err := json.Unmarshal(b, &texts); err != nil {
			f.Fatal(err)
		}
	}
	for i, s := range texts {
		f.Add(s, texts[(i+1)%len(texts)], i%40)
	}

	dir := bpeTestDir
	if _, err := os.Stat(filepath.Join(dir, TokenizerJSONFile)); err != nil {
		dir = bpeFuzzTinyDir(f)
	}
	var toks [2]*BPETokenizer
	var err error
	if toks[0], err = LoadBPE(dir); err != nil {
		f.Fatal(err)
	}
	if toks[1], err = LoadBPETokenizerJSON(dir); err != nil {
		f.Fatal(err)
	}
	var byteOf [0x144]byte
	for b, r := range bpeByteRune {
		byteOf[r] = byte(b)
	}

	f.Fuzz(func(t *testing.T, a, b string, maxSeqLen int) {
		tok := toks[0]
		pieces := bpePretokenize(nil, a)
		if strings.Join(pieces, "") != a || slices.Contains(pieces, "") {
			t.Fatalf("pieces %q do not tile %q", pieces, a)
		}
		var ids []int32
		for _, p := range pieces {
			ids = tok.bpe(ids, p)
		}
		var dec []byte
		for _, id := range ids {
			for _, r := range tok.Token(id) {
				dec = append(dec, byteOf[r])
			}
		}
		if string(dec) != a {
			t.Fatalf("BPE of %q decodes to %q", a, dec)
		}

		maxSeqLen = (maxSeqLen%80 + 80) % 80
		e := tok.EncodePair(a, b, maxSeqLen)
		if e2 := toks[1].EncodePair(a, b, maxSeqLen); !slices.Equal(e.InputIDs, e2.InputIDs) || !slices.Equal(e.Tokens, e2.Tokens) {
			t.Fatalf("loaders differ on (%q, %q, %d):\n%v\n%v", a, b, maxSeqLen, e.InputIDs, e2.InputIDs)
		}
		specials := 2
		if b != "" {
			specials = 4
		}
		n := len(e.InputIDs)
		na, nb := len(tok.tokenizeIDs(nil, a)), len(tok.tokenizeIDs(nil, b))
		switch {
		case n > max(maxSeqLen, specials):
			t.Fatalf("%d tokens for max %d", n, maxSeqLen)
		case na+nb+specials <= maxSeqLen && n != na+nb+specials:
			t.Fatalf("%d tokens, want %d untruncated", n, na+nb+specials)
		case len(e.Tokens) != n || len(e.TokenTypeIDs) != n || len(e.AttentionMask) != n:
			t.Fatal("slices of different lengths")
		case e.InputIDs[0] != tok.CLSID() || e.InputIDs[n-1] != tok.SEPID():
			t.Fatalf("not <s> ... </s>: %v", e.InputIDs)
		}
		for i := range n {
			if e.TokenTypeIDs[i] != 0 || e.AttentionMask[i] != 1 || e.Tokens[i] != tok.Token(e.InputIDs[i]) {
				t.Fatalf("position %d: type %d, mask %d, token %q of id %d", i, e.TokenTypeIDs[i], e.AttentionMask[i], e.Tokens[i], e.InputIDs[i])
			}
		}
	})
}

// bpeFuzzTinyDir writes the tiny byte-level vocabulary as vocab.json +
// merges.txt and as tokenizer.json.
func bpeFuzzTinyDir(f *testing.F) string {
	vocab, merges := bpeTestTiny()
	vb, _ := json.Marshal(vocab)
	tj := `{"added_tokens": [{"id": 258, "content": "<s>", "normalized": true}, {"id": 257, "content": "<pad>", "normalized": true},
 {"id": 259, "content": "</s>", "normalized": true}, {"id": 260, "content": "<unk>", "normalized": true},
 {"id": 261, "content": "<mask>", "lstrip": true}],
"normalizer": null, "pre_tokenizer": {"type": "ByteLevel"},
"post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 259], "cls": ["<s>", 258]},
"model": {"type": "BPE", "vocab": ` + string(vb) + `, "merges": ["a b"]}}`
	d := f.TempDir()
	for name, s := range map[string]string{"vocab.json": string(vb), "merges.txt": merges, "tokenizer.json": tj} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(s), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	return d
}
