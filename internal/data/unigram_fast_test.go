package data

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
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

// uniTestSpec is how the generator laid out one fast tokenizer's folder
// (see VARIANTS in scripts/gen_unigram_golden.py): BASE's tokenizer.json
// with "set" edits (kind json) or BASE's model file alone (kind spm), with
// the family's tokenizer_config.json updated by "config".
type uniTestSpec struct {
	Base   string                     `json:"base"`
	Kind   string                     `json:"kind"`
	Config map[string]json.RawMessage `json:"config"`
	Set    [][2]json.RawMessage       `json:"set"`
}

// uniTestSPMFiles are the families' model file names.
var uniTestSPMFiles = map[string]string{"xlmr": SPMFileXLMR, "deberta": SPMFileDeBERTa, "albert": SPMFileALBERT}

// uniTestFolder lays out the model folder of the golden tokenizer name.
func uniTestFolder(t testing.TB, name string) string {
	t.Helper()
	spec, ok := uniTestGolden(t).Fast[name]
	if !ok {
		t.Fatalf("no fast tokenizer %q in the golden file", name)
	}
	return uniTestLayout(t, spec.Spec)
}

// uniTestLayout lays out a folder as spec says.
func uniTestLayout(t testing.TB, spec uniTestSpec) string {
	t.Helper()
	dir := t.TempDir()
	readJSONFile := func(path string, v any) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	writeJSONFile := func(path string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := map[string]json.RawMessage{}
	readJSONFile(filepath.Join(uniTestDir, spec.Base+".tokenizer_config.json"), &cfg)
	for k, v := range spec.Config {
		cfg[k] = v
	}
	writeJSONFile(filepath.Join(dir, tokenizerConfigFile), cfg)
	switch spec.Kind {
	case "spm":
		b, err := os.ReadFile(filepath.Join(uniTestDir, spec.Base+".model"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, uniTestSPMFiles[spec.Base]), b, 0o644); err != nil {
			t.Fatal(err)
		}
	case "json":
		uniTestUnzip(t, spec.Base, dir)
		path := filepath.Join(dir, TokenizerJSONFile)
		var tj map[string]any
		readJSONFile(path, &tj)
		for _, set := range spec.Set {
			var keys []string
			var value any
			if json.Unmarshal(set[0], &keys) != nil || json.Unmarshal(set[1], &value) != nil || len(keys) == 0 {
				t.Fatalf("golden spec edit %s", set)
			}
			obj := tj
			for _, k := range keys[:len(keys)-1] {
				obj = obj[k].(map[string]any)
			}
			obj[keys[len(keys)-1]] = value
		}
		writeJSONFile(path, tj)
	default:
		t.Fatalf("golden spec kind %q", spec.Kind)
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
	for _, name := range slices.Sorted(maps.Keys(g.Fast)) {
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
	for _, name := range slices.Sorted(maps.Keys(g.Fast)) {
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
			var lines []string
			for i := 0; i < len(g.Random)-1; i += 2 {
				b := ""
				if i%3 == 0 {
					b = g.Random[i+1]
				}
				lines = append(lines, uniTestEncLine(tok.EncodePair(g.Random[i], b, 48)))
			}
			if uniTestDigest(lines) != want.RandomSHA256 {
				t.Errorf("the encodings of the %d random strings and pairs differ from the fast tokenizer's", len(lines))
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
