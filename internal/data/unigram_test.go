package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mixft/mixft/internal/fixture"
)

// The golden ids come from scripts/gen_unigram_golden.py (sentencepiece
// 0.2.0, tokenizers 0.21.1, transformers 4.51.3): see its doc comment.
const uniTestDir = "testdata/unigram"

// uniGolden is testdata/unigram/golden.json.
type uniGolden struct {
	Versions map[string]string `json:"versions"`
	Dev      map[string]struct {
		Count       int    `json:"count"`
		TextsSHA256 string `json:"texts_sha256"`
	} `json:"dev"`
	Hostile     []string `json:"hostile"`
	HostileLong []struct {
		SHA256 string `json:"sha256"`
		Len    int    `json:"len"`
	} `json:"hostile_long"`
	// Random are short random strings of stressing characters.
	Random []string `json:"random"`
	SPM    map[string]struct {
		Dev map[string]struct {
			SHA256 string   `json:"sha256"`
			First  []string `json:"first"`
		} `json:"dev"`
		Hostile      []json.RawMessage `json:"hostile"`
		RandomSHA256 string            `json:"random_sha256"`
	} `json:"spm"`
	Fast map[string]struct {
		Spec uniTestSpec `json:"spec"`
		Dev  map[string]struct {
			SHA256 string      `json:"sha256"`
			First  [][3]string `json:"first"`
		} `json:"dev"`
		Hostile      []json.RawMessage `json:"hostile"`
		HostilePairs []json.RawMessage `json:"hostile_pairs"`
		RandomSHA256 string            `json:"random_sha256"`
	} `json:"fast"`
}

// uniTestGolden reads golden.json once.
func uniTestGolden(t testing.TB) *uniGolden {
	t.Helper()
	uniGoldenOnce.Do(func() {
		var b []byte
		if b, uniGoldenErr = os.ReadFile(filepath.Join(uniTestDir, "golden.json")); uniGoldenErr == nil {
			uniGoldenErr = json.Unmarshal(b, &uniGoldenData)
		}
	})
	if uniGoldenErr != nil {
		t.Fatal(uniGoldenErr)
	}
	return &uniGoldenData
}

var (
	uniGoldenOnce sync.Once
	uniGoldenData uniGolden
	uniGoldenErr  error
)

// uniTestDevSets are the GLUE dev sets of the golden file, as mixft's
// task registry reads them.
var uniTestDevSets = []struct{ dir, task string }{
	{"CoLA", "cola"}, {"SST-2", "sst-2"}, {"MRPC", "mrpc"}, {"STS-B", "sts-b"},
	{"QNLI", "qnli"}, {"RTE", "rte"}, {"WNLI", "wnli"},
}

// uniTestDev reads one GLUE dev set through the task registry and checks
// its texts against the golden digest, so that a reader difference is not
// taken for a tokenizer one.
func uniTestDev(t *testing.T, g *uniGolden, dir, task string) []Example {
	t.Helper()
	tk, err := LookupTask(task)
	if err != nil {
		t.Fatal(err)
	}
	path := fixture.Path(t, "glue", dir, "dev.tsv")
	ex, _, err := tk.ReadFile(path, "dev")
	if err != nil {
		t.Fatal(err)
	}
	lines := make([]string, len(ex))
	for i, e := range ex {
		lines[i] = e.TextA + "\t" + e.TextB
	}
	want := g.Dev[dir]
	if len(ex) != want.Count || uniTestDigest(lines) != want.TextsSHA256 {
		t.Fatalf("%s: %d examples whose texts do not match the golden file's %d", path, len(ex), want.Count)
	}
	return ex
}

// uniTestDigest is the generator's digest: sha256 over the lines, each
// followed by a newline.
func uniTestDigest(lines []string) string {
	h := sha256.New()
	for _, l := range lines {
		io.WriteString(h, l)
		io.WriteString(h, "\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// uniTestIDs writes ids as the generator does: decimals joined by ",".
func uniTestIDs(ids []int32) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(id)))
	}
	return b.String()
}

// uniTestEncLine writes an encoding as the generator does: ids;types;mask.
func uniTestEncLine(e Encoding) string {
	return uniTestIDs(e.InputIDs) + ";" + uniTestIDs(e.TokenTypeIDs) + ";" + uniTestIDs(e.AttentionMask)
}

// uniTestHostile returns the hostile strings: the listed ones, then the
// two long ones, rebuilt as the generator builds them and checked by
// digest.
func uniTestHostile(t testing.TB, g *uniGolden) []string {
	t.Helper()
	var big strings.Builder
	for i := range 100000 {
		r := rune(0x20 + (i*7919)%0x2fe0)
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		big.WriteRune(r)
	}
	long := []string{big.String(), strings.Repeat("Hello world, this is GLUE-like text. ", 3000)[:100000]}
	for i, s := range long {
		sum := sha256.Sum256([]byte(s))
		if hex.EncodeToString(sum[:]) != g.HostileLong[i].SHA256 {
			t.Fatalf("long hostile string %d differs from the generator's", i)
		}
	}
	return append(append([]string(nil), g.Hostile...), long...)
}

// uniTestCheckLine compares one result with a golden entry: the full line,
// or {"sha256": ...} for a long one.
func uniTestCheckLine(t *testing.T, what string, raw json.RawMessage, got string) {
	t.Helper()
	var want string
	if json.Unmarshal(raw, &want) == nil {
		if got != want {
			t.Errorf("%s:\n got  %s\n want %s", what, uniTestShort(got), uniTestShort(want))
		}
		return
	}
	var d struct {
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: golden entry %s", what, raw)
	}
	if sum := sha256.Sum256([]byte(got)); hex.EncodeToString(sum[:]) != d.SHA256 {
		t.Errorf("%s: digest differs (got %s)", what, uniTestShort(got))
	}
}

func uniTestShort(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// uniTestSPMModels are the trained models, by name.
var uniTestSPMModels = []string{"xlmr", "deberta", "albert"}

// TestSentencePieceGLUEDev checks that LoadSentencePiece's Encode gives
// the sentencepiece library's ids on every text of every GLUE dev set.
func TestSentencePieceGLUEDev(t *testing.T) {
	g := uniTestGolden(t)
	for _, name := range uniTestSPMModels {
		sp, err := LoadSentencePiece(filepath.Join(uniTestDir, name+".model"))
		if err != nil {
			t.Fatal(err)
		}
		want := g.SPM[name]
		for _, ds := range uniTestDevSets {
			ex := uniTestDev(t, g, ds.dir, ds.task)
			var lines []string
			for _, e := range ex {
				lines = append(lines, uniTestIDs(sp.Encode(e.TextA)))
				if e.TextB != "" {
					lines = append(lines, uniTestIDs(sp.Encode(e.TextB)))
				}
			}
			w := want.Dev[ds.dir]
			for i, l := range w.First {
				if lines[i] != l {
					t.Errorf("%s %s text %d:\n got  %s\n want %s", name, ds.dir, i, l, lines[i])
				}
			}
			if uniTestDigest(lines) != w.SHA256 {
				t.Errorf("%s %s: the ids of the %d texts differ from sentencepiece's", name, ds.dir, len(lines))
			}
		}
	}
}

// TestSentencePieceHostile checks the hostile strings against the
// sentencepiece library.
func TestSentencePieceHostile(t *testing.T) {
	g := uniTestGolden(t)
	hs := uniTestHostile(t, g)
	for _, name := range uniTestSPMModels {
		sp, err := LoadSentencePiece(filepath.Join(uniTestDir, name+".model"))
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range hs {
			uniTestCheckLine(t, name+" hostile "+strconv.Quote(uniTestShort(s)), g.SPM[name].Hostile[i], uniTestIDs(sp.Encode(s)))
		}
		lines := make([]string, len(g.Random))
		for i, s := range g.Random {
			lines[i] = uniTestIDs(sp.Encode(s))
		}
		if uniTestDigest(lines) != g.SPM[name].RandomSHA256 {
			t.Errorf("%s: the ids of the %d random strings differ from sentencepiece's", name, len(lines))
		}
	}
}
