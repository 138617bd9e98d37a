package data

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// uniTestUnzip writes testdata/unigram/NAME.tokenizer.json.gz as
// dir/tokenizer.json.
func uniTestUnzip(t testing.TB, name, dir string) {
	t.Helper()
	f, err := os.Open(filepath.Join(uniTestDir, name+".tokenizer.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TokenizerJSONFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// uniTestFast are the fast tokenizers of the golden file: NAME is the
// tokenizer.json transformers saved (NAME-bytefb: deberta's with the
// Unigram's byte_fallback on), NAME-spm the folder holding only the
// SentencePiece model and tokenizer_config.json.
var uniTestFast = []string{"xlmr", "deberta", "deberta-bytefb", "albert", "xlmr-spm", "deberta-spm", "albert-spm"}

// uniTestFolder lays out the model folder of one golden tokenizer.
func uniTestFolder(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	base, kind, _ := strings.Cut(name, "-")
	cfg, err := os.ReadFile(filepath.Join(uniTestDir, base+".tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tokenizerConfigFile), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	switch kind {
	case "":
		uniTestUnzip(t, base, dir)
	case "bytefb":
		uniTestUnzip(t, base, dir)
		path := filepath.Join(dir, TokenizerJSONFile)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var tj map[string]any
		if err := json.Unmarshal(b, &tj); err != nil {
			t.Fatal(err)
		}
		tj["model"].(map[string]any)["byte_fallback"] = true
		if b, err = json.Marshal(tj); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	case "spm":
		file := map[string]string{"xlmr": SPMFileXLMR, "deberta": SPMFileDeBERTa, "albert": SPMFileALBERT}[base]
		b, err := os.ReadFile(filepath.Join(uniTestDir, base+".model"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// uniTestLoad loads a golden tokenizer through LoadEncoder, as every
// command does.
func uniTestLoad(t testing.TB, name string) *UnigramTokenizer {
	t.Helper()
	enc, err := LoadEncoder(uniTestFolder(t, name), nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := enc.(*UnigramTokenizer)
	if !ok {
		t.Fatalf("%s: LoadEncoder gave %T, not a Unigram tokenizer", name, enc)
	}
	return tok
}

// TestUnigramFastGLUEDev checks every fast tokenizer on every GLUE dev
// example at max length 128 (digest), and the first examples in full at
// max lengths 128, 16 and 7.
func TestUnigramFastGLUEDev(t *testing.T) {
	g := uniTestGolden(t)
	for _, name := range uniTestFast {
		t.Run(name, func(t *testing.T) {
			tok := uniTestLoad(t, name)
			want := g.Fast[name]
			for _, ds := range uniTestDevSets {
				ex := uniTestDev(t, g, ds.dir, ds.task)
				lines := make([]string, len(ex))
				for i, e := range ex {
					lines[i] = uniTestEncLine(tok.EncodePair(e.TextA, e.TextB, 128))
				}
				w := want.Dev[ds.dir]
				for i, f := range w.First {
					for j, n := range []int{128, 16, 7} {
						if got := uniTestEncLine(tok.EncodePair(ex[i].TextA, ex[i].TextB, n)); got != f[j] {
							t.Errorf("%s example %d, max length %d:\n got  %s\n want %s", ds.dir, i, n, got, f[j])
						}
					}
				}
				if uniTestDigest(lines) != w.SHA256 {
					t.Errorf("%s: the encodings of the %d examples differ from the fast tokenizer's", ds.dir, len(ex))
				}
			}
		})
	}
}

// TestUnigramFastHostile checks the hostile strings, single and as pairs.
func TestUnigramFastHostile(t *testing.T) {
	g := uniTestGolden(t)
	hs := uniTestHostile(t, g)
	for _, name := range uniTestFast {
		t.Run(name, func(t *testing.T) {
			tok := uniTestLoad(t, name)
			want := g.Fast[name]
			for i, s := range hs {
				uniTestCheckLine(t, "hostile "+strconv.Quote(uniTestShort(s)), want.Hostile[i], uniTestEncLine(tok.EncodePair(s, "", 1<<30)))
			}
			for k, i := 0, 0; i < len(hs)-2; k, i = k+1, i+3 {
				a, b := hs[i], hs[(i*7+3)%len(hs)]
				uniTestCheckLine(t, "hostile pair "+strconv.Quote(uniTestShort(a))+" "+strconv.Quote(uniTestShort(b)), want.HostilePairs[k], uniTestEncLine(tok.EncodePair(a, b, 64)))
			}
		})
	}
}

// BenchmarkUnigramEncode measures the cost per character of encoding
// texts of 10k, 100k and 1M characters with the XLM-R test tokenizer:
// English text, and one word without a space (a single Viterbi pass over
// all of it). ns/char staying flat across the sizes shows linear cost.
func BenchmarkUnigramEncode(b *testing.B) {
	tok := uniTestLoad(b, "xlmr")
	sentence := "The quick brown fox, who was 1000 years old, jumped over the lazy dog's back. "
	for _, kind := range []struct{ name, unit string }{{"text", sentence}, {"oneword", "tokenizationwithoutspaces"}} {
		for _, n := range []int{10_000, 100_000, 1_000_000} {
			s := strings.Repeat(kind.unit, n/len(kind.unit)+1)[:n]
			b.Run(kind.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					tok.EncodePair(s, "", 1<<30)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/char")
			})
		}
	}
}

// TestUnigramFamilyLayout checks what the commands take from an Encoder
// besides the ids: the padding token, the vocabulary size the model must
// cover (added tokens included) and the special tokens of a pair.
func TestUnigramFamilyLayout(t *testing.T) {
	for _, c := range []struct {
		name       string
		pad        string
		vocab      int
		pairTokens int
		lower      bool
	}{
		{"xlmr", "<pad>", 2002, 4, false}, {"xlmr-spm", "<pad>", 2002, 4, false},
		{"deberta", "[PAD]", 1501, 3, false}, {"deberta-spm", "[PAD]", 1501, 3, false},
		{"albert", "<pad>", 1000, 3, true}, {"albert-spm", "<pad>", 1000, 3, true},
	} {
		tok := uniTestLoad(t, c.name)
		if got := tok.tokens[tok.PadID()]; got != c.pad || tok.VocabSize() != c.vocab || tok.PairSpecialTokens() != c.pairTokens || tok.DoLowerCase() != c.lower {
			t.Errorf("%s: pad %q, %d ids, %d special tokens in a pair, lower-casing %t; want %q, %d, %d, %t",
				c.name, got, tok.VocabSize(), tok.PairSpecialTokens(), tok.DoLowerCase(), c.pad, c.vocab, c.pairTokens, c.lower)
		}
	}
}
