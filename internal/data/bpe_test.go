package data

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mixft/mixft/internal/fixture"
)

// bpeTestDir is ../shared/fixtures/tokenization_bpe (internal/fixture finds it).
var bpeTestDir = filepath.Join(fixture.Root(), "fixtures", "tokenization_bpe")

// bpeTestRead decodes one fixture of tokenization_bpe, ending the test as
// internal/fixture says when it is missing.
func bpeTestRead(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(fixture.Path(t, "fixtures", "tokenization_bpe", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

var (
	bpeTestOnce   sync.Once
	bpeTestToks   [2]*BPETokenizer // from vocab.json+merges.txt, from tokenizer.json
	bpeTestLoadEr error
)

// bpeTestLoaders returns the fixture tokenizer as both loaders build it,
// named by the files they read.
func bpeTestLoaders(t testing.TB) []struct {
	name string
	tok  *BPETokenizer
} {
	t.Helper()
	fixture.Path(t, "fixtures", "tokenization_bpe", "tokenizer.json")
	bpeTestOnce.Do(func() {
		if bpeTestToks[0], bpeTestLoadEr = LoadBPE(bpeTestDir); bpeTestLoadEr != nil {
			return
		}
		bpeTestToks[1], bpeTestLoadEr = LoadBPETokenizerJSON(bpeTestDir)
	})
	if bpeTestLoadEr != nil {
		t.Fatal(bpeTestLoadEr)
	}
	return []struct {
		name string
		tok  *BPETokenizer
	}{{"vocab.json+merges.txt", bpeTestToks[0]}, {"tokenizer.json", bpeTestToks[1]}}
}

type bpeTestCase struct {
	Text            string   `json:"text"`
	Pretokens       []string `json:"pretokens"`
	Tokens          []string `json:"tokens"`
	IDs             []int32  `json:"ids"`
	TokensNoSpecial []string `json:"tokens_without_special_token_split"`
	Single          struct {
		InputIDs []int32  `json:"input_ids"`
		Tokens   []string `json:"tokens"`
	} `json:"single"`
}

func bpeTestCases(t testing.TB) []bpeTestCase {
	var f struct {
		Cases []bpeTestCase `json:"cases"`
	}
	bpeTestRead(t, "bpe.json", &f)
	var texts []string
	bpeTestRead(t, "strings.json", &texts)
	if len(f.Cases) != len(texts) || len(texts) != 111 {
		t.Fatalf("bpe.json has %d cases for %d strings, want 111", len(f.Cases), len(texts))
	}
	for i, c := range f.Cases {
		if c.Text != texts[i] {
			t.Fatalf("bpe.json case %d is %q, strings.json has %q", i, c.Text, texts[i])
		}
	}
	return f.Cases
}

func TestBPEPretokenizeFixture(t *testing.T) {
	for i, c := range bpeTestCases(t) {
		if got := bpePretokenize(nil, c.Text); !slices.Equal(got, c.Pretokens) {
			t.Errorf("case %d %q: pretokens\n got %q\nwant %q", i, c.Text, got, c.Pretokens)
		}
	}
}

func TestBPEPretokenizeCases(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" ", []string{" "}},
		{"a  b", []string{"a", " ", " b"}},
		{"a \tb", []string{"a", " ", "\t", "b"}},
		{"a\t b", []string{"a", "\t", " b"}},
		{"x   ", []string{"x", "   "}},
		{"'s'S'll'LL'x", []string{"'s", "'", "S", "'ll", "'", "LL", "'", "x"}},
		{"!'s", []string{"!'", "s"}},
		{" 12ab", []string{" 12", "ab"}},
		{"a\u00a0b", []string{"a", "\u00a0", "b"}}, // NBSP is \s but not " "
		{"a\u200bb", []string{"a", "\u200b", "b"}}, // ZWSP is not \s
		{"a \u200b", []string{"a", " \u200b"}},
		{"\xff\xfeab", []string{"\xff\xfe", "ab"}},
		{"a \xffb", []string{"a", " \xff", "b"}},
	} {
		if got := bpePretokenize(nil, c.in); !slices.Equal(got, c.want) {
			t.Errorf("bpePretokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBPEByteMap(t *testing.T) {
	seen := map[rune]bool{}
	for b, r := range bpeByteRune {
		if seen[r] {
			t.Fatalf("byte %d maps to %U twice", b, r)
		}
		seen[r] = true
	}
	for _, c := range []struct {
		b byte
		r rune
	}{{' ', 'Ġ'}, {'\n', 'Ċ'}, {0, 0x100}, {'!', '!'}, {0x7f, 0x121}, {0xad, 0x143}, {0xff, 0xff}} {
		if got := bpeByteRune[c.b]; got != c.r {
			t.Errorf("byte 0x%02x maps to %U, want %U", c.b, got, c.r)
		}
	}
}

func TestBPEFixtureStrings(t *testing.T) {
	cases := bpeTestCases(t)
	for _, l := range bpeTestLoaders(t) {
		t.Run(l.name, func(t *testing.T) {
			tok := l.tok
			for i, c := range cases {
				if got := tok.Tokenize(c.Text); !slices.Equal(got, c.Tokens) {
					t.Errorf("case %d %q: tokens\n got %q\nwant %q", i, c.Text, got, c.Tokens)
				}
				if got := tok.tokenizeIDs(nil, c.Text); !slices.Equal(got, c.IDs) {
					t.Errorf("case %d %q: ids\n got %v\nwant %v", i, c.Text, got, c.IDs)
				}
				e := tok.EncodePair(c.Text, "", 512)
				if !slices.Equal(e.InputIDs, c.Single.InputIDs) || !slices.Equal(e.Tokens, c.Single.Tokens) {
					t.Errorf("case %d %q: single\n got %v %q\nwant %v %q", i, c.Text, e.InputIDs, e.Tokens, c.Single.InputIDs, c.Single.Tokens)
				}
				// Plain BPE of every piece, no added tokens: encoder.py.
				want := c.Tokens
				if c.TokensNoSpecial != nil {
					want = c.TokensNoSpecial
				}
				var ids []int32
				for _, p := range bpePretokenize(nil, c.Text) {
					ids = tok.bpe(ids, p)
				}
				var got []string
				for _, id := range ids {
					got = append(got, tok.Token(id))
				}
				if !slices.Equal(got, want) {
					t.Errorf("case %d %q: BPE without added tokens\n got %q\nwant %q", i, c.Text, got, want)
				}
			}
		})
	}
}

type bpeTestPair struct {
	TextA        string   `json:"text_a"`
	TextB        *string  `json:"text_b"`
	MaxLength    *int     `json:"max_length"`
	LenA         int      `json:"len_a"`
	LenB         int      `json:"len_b"`
	KeptA        int      `json:"kept_a"`
	KeptB        int      `json:"kept_b"`
	InputIDs     []int32  `json:"input_ids"`
	Tokens       []string `json:"tokens"`
	FastKeptA    *int     `json:"fast_kept_a"`
	FastKeptB    *int     `json:"fast_kept_b"`
	FastInputIDs []int32  `json:"fast_input_ids"`
}

// TestBPEFixturePairs checks every encoding of pairs.json. EncodePair
// follows RobertaTokenizerFast (the fast_* columns where present); the
// slow tokenizer's column is rebuilt from the same token ids with its
// kept_a / kept_b, so both columns check the tokenization.
func TestBPEFixturePairs(t *testing.T) {
	var f struct {
		Cases []bpeTestPair `json:"cases"`
	}
	bpeTestRead(t, "pairs.json", &f)
	if len(f.Cases) != 241 {
		t.Fatalf("pairs.json has %d cases, want 241", len(f.Cases))
	}
	nFast := 0
	for _, l := range bpeTestLoaders(t) {
		t.Run(l.name, func(t *testing.T) {
			tok := l.tok
			nFast = 0
			for i, c := range f.Cases {
				b := ""
				if c.TextB != nil {
					b = *c.TextB
				}
				maxLen := 1 << 20
				if c.MaxLength != nil {
					maxLen = *c.MaxLength
				}
				ia, ib := tok.tokenizeIDs(nil, c.TextA), tok.tokenizeIDs(nil, b)
				if len(ia) != c.LenA || len(ib) != c.LenB {
					t.Errorf("case %d: %d and %d tokens, want %d and %d", i, len(ia), len(ib), c.LenA, c.LenB)
					continue
				}
				// The slow column: <s> A </s> (</s> B </s> when text_b is not null).
				slow := append([]int32{tok.CLSID()}, ia[:c.KeptA]...)
				slow = append(slow, tok.SEPID())
				if c.TextB != nil {
					slow = append(slow, tok.SEPID())
					slow = append(slow, ib[:c.KeptB]...)
					slow = append(slow, tok.SEPID())
				}
				if !slices.Equal(slow, c.InputIDs) {
					t.Errorf("case %d: slow layout %v, fixture %v", i, slow, c.InputIDs)
				}
				want, wantTokens := c.InputIDs, c.Tokens
				if c.FastInputIDs != nil {
					nFast++
					want, wantTokens = c.FastInputIDs, nil
					for _, id := range want {
						wantTokens = append(wantTokens, tok.Token(id))
					}
					if c.FastKeptA == nil {
						t.Fatalf("case %d: fast_input_ids without fast_kept_a", i)
					}
					if c.FastKeptB == nil && b != "" {
						t.Fatalf("case %d: no fast_kept_b for a non-empty text_b", i)
					}
				}
				e := tok.EncodePair(c.TextA, b, maxLen)
				if !slices.Equal(e.InputIDs, want) || !slices.Equal(e.Tokens, wantTokens) {
					t.Errorf("case %d (%q, %q, max %d):\n got %v %q\nwant %v %q", i, tokTestShort(c.TextA), tokTestShort(b), maxLen, e.InputIDs, e.Tokens, want, wantTokens)
				}
				for j := range e.InputIDs {
					if e.TokenTypeIDs[j] != 0 || e.AttentionMask[j] != 1 {
						t.Fatalf("case %d: type ids %v, mask %v", i, e.TokenTypeIDs, e.AttentionMask)
					}
				}
			}
		})
	}
	if nFast != 13 {
		t.Errorf("%d cases with fast_input_ids, the README says 13", nFast)
	}
}

func TestBPETruncatePair(t *testing.T) {
	// tokenizers' own test table (truncation.rs, max_length 7), then the
	// cases where the slow tokenizer differs (odd budget, first side not
	// longer).
	for _, c := range []struct{ n1, n2, budget, k1, k2 int }{
		{0, 0, 7, 0, 0}, {0, 8, 7, 0, 7}, {2, 8, 7, 2, 5}, {4, 4, 7, 3, 4},
		{4, 8, 7, 3, 4}, {8, 2, 7, 5, 2}, {8, 4, 7, 4, 3}, {8, 8, 7, 3, 4},
		{4, 4, 0, 0, 0}, {10, 10, 13, 6, 7}, {10, 11, 13, 6, 7}, {30, 48, 3, 1, 2},
	} {
		if k1, k2 := bpeTruncatePair(c.n1, c.n2, c.budget); k1 != c.k1 || k2 != c.k2 {
			t.Errorf("bpeTruncatePair(%d, %d, %d) = %d, %d, want %d, %d", c.n1, c.n2, c.budget, k1, k2, c.k1, c.k2)
		}
	}
}

// TestBPELoadersAgree checks that both loaders build the same tokenizer.
func TestBPELoadersAgree(t *testing.T) {
	l := bpeTestLoaders(t)
	a, b := l[0].tok, l[1].tok
	if !slices.Equal(a.tokens, b.tokens) || a.byteID != b.byteID || !reflect.DeepEqual(a.merges, b.merges) {
		t.Fatal("vocabulary, byte symbols or merges differ")
	}
	if !reflect.DeepEqual(a.added, b.added) {
		t.Fatalf("added tokens differ:\n%+v\n%+v", a.added, b.added)
	}
	if a.cls != b.cls || a.sep != b.sep || a.pad != b.pad || a.addPrefixSpace != b.addPrefixSpace {
		t.Fatal("special ids or add_prefix_space differ")
	}
	if a.VocabSize() != 50262 || a.PadID() != 1 || a.CLSID() != 0 || a.SEPID() != 2 {
		t.Fatalf("vocab size %d, pad %d, cls %d, sep %d; want 50262, 1, 0, 2", a.VocabSize(), a.PadID(), a.CLSID(), a.SEPID())
	}
}

func TestBPEAddedTokens(t *testing.T) {
	tok := bpeTestLoaders(t)[0].tok
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"a <mask>", []string{"a", "<mask>"}},
		{"a \u00a0\t<mask> b", []string{"a", "<mask>", "Ġb"}}, // lstrip: Unicode White_Space
		{"a\u200b<mask>", []string{"a", "âĢĭ", "<mask>"}},     // ZWSP is not whitespace
		{"<s><s>", []string{"<s>", "<s>"}},
		{"<s </s>", []string{"<", "s", "Ġ", "</s>"}},
		{"<mask> <mask>", []string{"<mask>", "<mask>"}},
		{"<pad>", []string{"<pad>"}},
	} {
		if got := tok.Tokenize(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// bpeTestDirWith makes a model directory holding links to the named
// fixture files plus the given files.
func bpeTestDirWith(t *testing.T, links []string, files map[string]string) string {
	t.Helper()
	d := t.TempDir()
	for _, name := range links {
		if err := os.Symlink(fixture.Path(t, "fixtures", "tokenization_bpe", name), filepath.Join(d, name)); err != nil {
			t.Fatal(err)
		}
	}
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(d, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestLoadEncoder(t *testing.T) {
	bpeTestLoaders(t)
	for _, c := range []struct {
		name  string
		links []string
		files map[string]string
		bpe   bool
	}{
		{"vocab.json+merges.txt", []string{"vocab.json", "merges.txt"}, nil, true},
		{"tokenizer.json", []string{"tokenizer.json"}, nil, true},
		{"vocab.txt wins", []string{"vocab.json", "merges.txt", "tokenizer.json"}, map[string]string{"vocab.txt": strings.Join(tokTestSmallVocab, "\n") + "\n"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc, err := LoadEncoder(bpeTestDirWith(t, c.links, c.files), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := enc.(*BPETokenizer); ok != c.bpe {
				t.Fatalf("LoadEncoder gave %T", enc)
			}
			if c.bpe {
				e := enc.EncodePair("Hello, World!", "UNwantéd,running", 512)
				want := []int32{0, 15500, 15, 2163, 4, 2, 2, 4948, 42953, 2638, 71, 15, 20274, 2}
				if !slices.Equal(e.InputIDs, want) || enc.PadID() != 1 || enc.VocabSize() != 50262 || enc.DoLowerCase() {
					t.Fatalf("ids %v, pad %d, size %d", e.InputIDs, enc.PadID(), enc.VocabSize())
				}
			}
		})
	}
	if _, err := LoadEncoder(t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "no tokenizer files") {
		t.Fatalf("empty directory: %v", err)
	}
	yes := true
	if _, err := LoadEncoder(bpeTestDirWith(t, []string{"tokenizer.json"}, nil), &yes); err == nil || !strings.Contains(err.Error(), "do_lower_case") {
		t.Fatalf("lower-casing BPE: %v", err)
	}
}

// bpeTestTiny is a byte-level vocabulary of the 256 byte symbols and "ab".
func bpeTestTiny() (vocab map[string]int, merges string) {
	vocab = map[string]int{}
	for b := range 256 {
		vocab[string(bpeByteRune[b])] = b
	}
	vocab["ab"] = 256
	vocab["<pad>"], vocab["<s>"], vocab["</s>"], vocab["<unk>"], vocab["<mask>"] = 257, 258, 259, 260, 261
	return vocab, "#version: 0.2\na b\n"
}

func TestLoadBPEErrors(t *testing.T) {
	vocab, merges := bpeTestTiny()
	vb, _ := json.Marshal(vocab)
	good := string(vb)
	delete(vocab, "Ġ")
	vocab["zz"] = 32 // ids stay 0..n-1
	noSpace, _ := json.Marshal(vocab)
	delete(vocab, "zz")
	vocab["Ġ"] = 32
	delete(vocab, "<mask>")
	noMask, _ := json.Marshal(vocab)
	for _, c := range []struct {
		name, vocab, merges, config string
		want                        string
	}{
		{"ok", good, merges, "", ""},
		{"bad JSON", "{\n\"a\": 1,\n}", merges, "", "vocab.json: line 3: invalid JSON"},
		{"id not an integer", strings.Replace(good, `"ab":256`, `"ab":"x"`, 1), merges, "", `vocab.json: token "ab": id "x" is not an integer`},
		{"negative id", strings.Replace(good, `"ab":256`, `"ab":-1`, 1), merges, "", `token "ab": id -1`},
		{"huge id", strings.Replace(good, `"ab":256`, `"ab":2147483647`, 1), merges, "", `token "ab": id 2147483647 is not an integer in [0, 16777216)`},
		{"empty", "{}", merges, "", "vocabulary is empty"},
		{"missing byte", string(noSpace), merges, "", `no token "Ġ" for byte 0x20`},
		{"merge line", good, "#version: 0.2\na b\nab\n", "", "merges.txt: line 3: expected a merge"},
		{"merge three", good, "a b c\n", "", "merges.txt: line 1: expected a merge"},
		{"merge unknown", good, "a b\nab c\n", "", `merges.txt: line 2: merge "ab" "c": the merged token "abc" is not in`},
		{"no merges", good, "#version: 0.2\n", "", `merges.txt: no merges`},
		{"two tokens on one id", strings.Replace(good, `"ab":256`, `"ab":255`, 1), merges, "", `vocab.json: tokens`},
		{"id past the end", strings.Replace(good, `"ab":256`, `"ab":1000`, 1), merges, "", `vocab.json: token "ab" has id 1000, out of range for 262 tokens`},
		{"special missing", good, merges, `{"pad_token": "[PAD]"}`, `tokenizer_config.json: key "pad_token": "[PAD]" is not in`},
		{"default special missing", string(noMask), merges, "", `vocab.json: the default mask_token "<mask>" is not in it`},
		{"special type", good, merges, `{"mask_token": 3}`, `tokenizer_config.json: key "mask_token": expected a string or an object`},
		{"config JSON", good, merges, "{\n\n\"a\" 1}", "tokenizer_config.json: line 3: invalid JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"vocab.json": c.vocab, "merges.txt": c.merges}
			if c.config != "" {
				files["tokenizer_config.json"] = c.config
			}
			tok, err := LoadBPE(bpeTestDirWith(t, nil, files))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := tok.Tokenize("ab<mask>cab"); !slices.Equal(got, []string{"ab", "<mask>", "c", "ab"}) {
					t.Fatalf("tokens %q", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line containing %q", err, c.want)
			}
		})
	}
}

// TestLoadBPENotRegular: each tokenizer file that is a named pipe or a
// link to /dev/zero is a one-line error naming it, at once.
func TestLoadBPENotRegular(t *testing.T) {
	vocab, merges := bpeTestTiny()
	vb, _ := json.Marshal(vocab)
	for _, name := range []string{"vocab.json", "merges.txt", "tokenizer_config.json"} {
		for _, kind := range []string{"fifo", "zero"} {
			d := bpeTestDirWith(t, nil, map[string]string{"vocab.json": string(vb), "merges.txt": merges})
			p := filepath.Join(d, name)
			os.Remove(p)
			want := "a named pipe"
			if kind == "fifo" {
				if err := syscall.Mkfifo(p, 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := os.Symlink("/dev/zero", p); err != nil {
					t.Fatal(err)
				}
				want = "a device"
			}
			if _, err := LoadBPE(d); err == nil || !strings.Contains(err.Error(), name+": is "+want) {
				t.Errorf("%s a %s: %v", name, kind, err)
			}
		}
	}
	d := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(d, TokenizerJSONFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadEncoder(d, nil); err == nil || !strings.Contains(err.Error(), "tokenizer.json: is a named pipe") {
		t.Errorf("tokenizer.json a FIFO: %v", err)
	}
}

func TestLoadBPETokenizerJSONErrors(t *testing.T) {
	vocab, _ := bpeTestTiny()
	vb, _ := json.Marshal(vocab)
	base := `{"added_tokens": [{"id": 257, "content": "<pad>", "special": true}, {"id": 261, "content": "<mask>", "lstrip": true}],
"normalizer": null,
"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
"post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 259], "cls": ["<s>", 258]},
"model": {"type": "BPE", "dropout": null, "continuing_subword_prefix": "", "end_of_word_suffix": "", "vocab": ` + string(vb) + `, "merges": MERGES}}`
	ok := strings.Replace(base, "MERGES", `["a b"]`, 1)
	for _, c := range []struct {
		name, json, want string
	}{
		{"ok", ok, ""},
		{"merges as pairs", strings.Replace(base, "MERGES", `[["a", "b"]]`, 1), ""},
		{"bad JSON", "{\n\"model\": [}", "tokenizer.json: line 2: invalid JSON"},
		{"wordpiece", strings.Replace(ok, `"type": "BPE"`, `"type": "WordPiece"`, 1), `key "model.type": "WordPiece" is not supported`},
		{"normalizer", strings.Replace(ok, `"normalizer": null`, `"normalizer": {"type": "Lowercase"}`, 1), `key "normalizer": normalizer "Lowercase"`},
		{"pre_tokenizer", strings.Replace(ok, `"type": "ByteLevel"`, `"type": "Whitespace"`, 1), `key "pre_tokenizer": expected`},
		{"post_processor", strings.Replace(ok, `"RobertaProcessing"`, `"BertProcessing"`, 1), `key "post_processor": expected`},
		{"cls id", strings.Replace(ok, `["<s>", 258]`, `["<s>", 99999]`, 1), `key "post_processor.cls"`},
		{"merge", strings.Replace(base, "MERGES", `["a b", "ab"]`, 1), `key "model.merges[1]": expected a merge`},
		{"merge type", strings.Replace(base, "MERGES", `[3]`, 1), `key "model.merges[0]": expected`},
		{"merge unknown", strings.Replace(base, "MERGES", `["a bc"]`, 1), `key "model.merges[0]": merge "a" "bc": "bc" is not in`},
		{"vocab id", strings.Replace(ok, `"ab":256`, `"ab":1.5`, 1), `key "model.vocab": token "ab": id 1.5`},
		{"added id", strings.Replace(ok, `"id": 257, `, ``, 1), `key "added_tokens[0]": expected an id`},
		{"added type", strings.Replace(ok, `"lstrip": true`, `"lstrip": "yes"`, 1), `key "added_tokens.lstrip": expected bool`},
		{"dropout", strings.Replace(ok, `"dropout": null`, `"dropout": 0.1`, 1), `key "model.dropout"`},
		{"prefix", strings.Replace(ok, `"continuing_subword_prefix": ""`, `"continuing_subword_prefix": "##"`, 1), `key "model.continuing_subword_prefix"`},
		{"no pad", strings.Replace(strings.Replace(ok, `{"id": 257, "content": "<pad>", "special": true}, `, ``, 1), `"\u003cpad\u003e":257`, `"pad3":257`, 1), `the padding token "<pad>"`},
		{"no merges key", strings.Replace(base, `, "merges": MERGES`, ``, 1), `key "model.merges": no merges (missing or empty)`},
		{"empty merges", strings.Replace(base, "MERGES", `[]`, 1), `key "model.merges": no merges`},
		{"two tokens on one id", strings.Replace(ok, `"ab":256`, `"ab":255`, 1), `key "model.vocab": tokens`},
		{"vocab id out of range", strings.Replace(ok, `"ab":256`, `"ab":300`, 1), `key "model.vocab": token "ab" has id 300, out of range for 262 tokens`},
		{"added id of another token", strings.Replace(ok, `{"id": 261, "content": "<mask>"`, `{"id": 256, "content": "<mask>"`, 1), `key "added_tokens": added token "<mask>" has id 256, but`},
		{"added new token on a vocab id", strings.Replace(ok, `{"id": 261, "content": "<mask>"`, `{"id": 256, "content": "<new>"`, 1), `added token "<new>" has id 256, which is "ab"'s in`},
		{"added ids with a gap", strings.Replace(ok, `{"id": 261, "content": "<mask>"`, `{"id": 300, "content": "<new>"`, 1), `key "added_tokens": id 262 names no token`},
		{"added ids on one id", strings.Replace(ok, `{"id": 261, "content": "<mask>", "lstrip": true}`, `{"id": 262, "content": "<a>"}, {"id": 262, "content": "<b>"}`, 1), `added tokens "<a>" and "<b>" both have id 262`},
		{"cls names another token", strings.Replace(ok, `["<s>", 258]`, `["<s>", 259]`, 1), `key "post_processor.cls": id 259 is "</s>", not "<s>"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok, err := LoadBPETokenizerJSON(bpeTestDirWith(t, nil, map[string]string{"tokenizer.json": c.json}))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				e := tok.EncodePair("ab <mask>c", "", 16)
				if want := []int32{258, 256, 261, 'c', 259}; !slices.Equal(e.InputIDs, want) || tok.PadID() != 257 {
					t.Fatalf("ids %v, want %v; pad %d", e.InputIDs, want, tok.PadID())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line containing %q", err, c.want)
			}
		})
	}
}

// TestBPEConcurrent encodes from several goroutines at once (run with
// -race): the word cache is shared.
func TestBPEConcurrent(t *testing.T) {
	tok := bpeTestLoaders(t)[0].tok
	cases := bpeTestCases(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range cases {
				c := cases[(i+g*29)%len(cases)]
				if got := tok.EncodePair(c.Text, "", 512); !slices.Equal(got.InputIDs, c.Single.InputIDs) {
					t.Errorf("%q: %v, want %v", c.Text, got.InputIDs, c.Single.InputIDs)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkBPEEncodePair encodes RTE's dev set (277 pairs), as training
// encodes a data set: with the word cache warm, and cold.
func BenchmarkBPEEncodePair(b *testing.B) {
	tok := bpeTestLoaders(b)[0].tok
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
	run := func(b *testing.B, cold bool) {
		b.SetBytes(int64(nbytes))
		for b.Loop() {
			if cold {
				tok.mu.Lock()
				clear(tok.cache)
				tok.mu.Unlock()
			}
			for _, e := range ex {
				tok.EncodePair(e.TextA, e.TextB, 128)
			}
		}
	}
	b.Run("warm", func(b *testing.B) { run(b, false) })
	b.Run("cold", func(b *testing.B) { run(b, true) })
}

// TestBPEAddPrefixSpace: tokenizer_config.json's add_prefix_space (default
// false) puts a space before every piece of text between added tokens that
// lacks one (tokenizers' ByteLevel); RobertaTokenizerFast makes the
// pre-tokenizer follow it, whatever tokenizer.json says.
func TestBPEAddPrefixSpace(t *testing.T) {
	vocab, merges := bpeTestTiny()
	vb, _ := json.Marshal(vocab)
	tj := func(prefix bool) string {
		return fmt.Sprintf(`{"added_tokens": [{"id": 261, "content": "<mask>", "lstrip": true}, {"id": 257, "content": "<pad>", "normalized": true}],
"normalizer": null, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": %t},
"post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 259], "cls": ["<s>", 258]},
"model": {"type": "BPE", "vocab": %s, "merges": ["a b"]}}`, prefix, vb)
	}
	with := []string{"Ġ", "ab", "<mask>", "Ġ", "c", "Ġ", "ab"}
	without := []string{"ab", "<mask>", "c", "Ġ", "ab"}
	for _, c := range []struct {
		name  string
		files map[string]string
		json  bool
		want  []string
	}{
		{"vocab.json, config true", map[string]string{"vocab.json": string(vb), "merges.txt": merges, "tokenizer_config.json": `{"add_prefix_space": true}`}, false, with},
		{"vocab.json, no config", map[string]string{"vocab.json": string(vb), "merges.txt": merges}, false, without},
		{"tokenizer.json true", map[string]string{"tokenizer.json": tj(true)}, true, without},
		{"tokenizer.json true, config false", map[string]string{"tokenizer.json": tj(true), "tokenizer_config.json": `{"add_prefix_space": false}`}, true, without},
		{"tokenizer.json false, config true", map[string]string{"tokenizer.json": tj(false), "tokenizer_config.json": `{"add_prefix_space": true}`}, true, with},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := bpeTestDirWith(t, nil, c.files)
			load := LoadBPE
			if c.json {
				load = LoadBPETokenizerJSON
			}
			tok, err := load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Tokenize("ab<mask>c ab"); !slices.Equal(got, c.want) {
				t.Fatalf("tokens %q, want %q", got, c.want)
			}
			if got := tok.Tokenize(""); len(got) != 0 {
				t.Fatalf("empty text gives %q", got)
			}
		})
	}
}
