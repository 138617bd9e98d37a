package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/fixture"
)

// tokTestFixtureDir is ../shared/fixtures/tokenization (internal/fixture finds it).
var tokTestFixtureDir = filepath.Join(fixture.Root(), "fixtures", "tokenization")

// tokTestReadFixture decodes one tokenization fixture, ending the test as
// internal/fixture says when it is missing.
func tokTestReadFixture(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(fixture.Path(t, "fixtures", "tokenization", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// tokTestFixtureTokenizer loads the vocabulary named by a fixture (a path
// relative to the fixture directory).
func tokTestFixtureTokenizer(t testing.TB, vocab string, lower bool, maxChars int) *Tokenizer {
	t.Helper()
	v, err := LoadVocab(filepath.Join(tokTestFixtureDir, vocab))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewTokenizer(v, TokenizerOptions{DoLowerCase: lower, MaxInputCharsPerWord: maxChars})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func tokTestIDs(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

type tokTestStringsFixture struct {
	Vocab       string `json:"vocab"`
	DoLowerCase bool   `json:"do_lower_case"`
	Cases       []struct {
		Text        string    `json:"text"`
		BasicTokens []string  `json:"basic_tokens"`
		Tokens      []string  `json:"tokens"`
		IDs         []int     `json:"ids"`
		Tokens100   *[]string `json:"tokens_if_max_input_chars_per_word_100"`
	} `json:"cases"`
}

func TestTokenizerFixtures(t *testing.T) {
	var texts []string
	tokTestReadFixture(t, "strings.json", &texts)
	for _, name := range []string{"uncased.json", "cased.json"} {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			var fx tokTestStringsFixture
			tokTestReadFixture(t, name, &fx)
			if len(fx.Cases) != len(texts) {
				t.Fatalf("%d cases, strings.json has %d strings", len(fx.Cases), len(texts))
			}
			tok := tokTestFixtureTokenizer(t, fx.Vocab, fx.DoLowerCase, 0)
			tok100 := tokTestFixtureTokenizer(t, fx.Vocab, fx.DoLowerCase, 100)
			if tok.MaxInputCharsPerWord() != 200 {
				t.Fatalf("default MaxInputCharsPerWord = %d, want 200", tok.MaxInputCharsPerWord())
			}
			for i, c := range fx.Cases {
				if c.Text != texts[i] {
					t.Errorf("case %d: text %+q differs from strings.json %+q", i, c.Text, texts[i])
				}
				if got := tok.BasicTokens(c.Text); !tokTestEqual(got, c.BasicTokens) {
					t.Errorf("case %d %+q: basic tokens\n got %+q\nwant %+q", i, c.Text, got, c.BasicTokens)
				}
				got := tok.Tokenize(c.Text)
				if !tokTestEqual(got, c.Tokens) {
					t.Errorf("case %d %+q: tokens\n got %+q\nwant %+q", i, c.Text, got, c.Tokens)
				}
				if ids := tok.ConvertTokensToIDs(got); !reflect.DeepEqual(ids, tokTestIDs(c.IDs)) {
					t.Errorf("case %d %+q: ids\n got %v\nwant %v", i, c.Text, ids, c.IDs)
				}
				want100 := c.Tokens
				if c.Tokens100 != nil {
					want100 = *c.Tokens100
				}
				if got := tok100.Tokenize(c.Text); !tokTestEqual(got, want100) {
					t.Errorf("case %d %+q: tokens with max_input_chars_per_word 100\n got %+q\nwant %+q", i, c.Text, got, want100)
				}
			}
		})
	}
}

// tokTestEqual compares token lists, treating nil and empty as equal.
func tokTestEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type tokTestEncoded struct {
	Tokens     []string `json:"tokens"`
	InputIDs   []int    `json:"input_ids"`
	InputMask  []int    `json:"input_mask"`
	SegmentIDs []int    `json:"segment_ids"`
}

// tokTestCheckEncoding compares an encoding, padded to maxSeqLen with the
// tokenizer's [PAD] id, with a convert_single_example fixture.
func tokTestCheckEncoding(t *testing.T, what string, tok *Tokenizer, e Encoding, maxSeqLen int, want tokTestEncoded) {
	t.Helper()
	if len(e.InputIDs) > maxSeqLen {
		t.Errorf("%s: %d tokens > max_seq_length %d", what, len(e.InputIDs), maxSeqLen)
	}
	if n := len(e.Tokens); len(e.InputIDs) != n || len(e.TokenTypeIDs) != n || len(e.AttentionMask) != n {
		t.Errorf("%s: unpadded lengths differ: tokens %d ids %d types %d mask %d", what, n, len(e.InputIDs), len(e.TokenTypeIDs), len(e.AttentionMask))
	}
	p := e.Padded(maxSeqLen, tok.PadID())
	if !tokTestEqual(p.Tokens, want.Tokens) {
		t.Errorf("%s: tokens\n got %+q\nwant %+q", what, p.Tokens, want.Tokens)
	}
	if !reflect.DeepEqual(p.InputIDs, tokTestIDs(want.InputIDs)) {
		t.Errorf("%s: input_ids\n got %v\nwant %v", what, p.InputIDs, want.InputIDs)
	}
	if !reflect.DeepEqual(p.AttentionMask, tokTestIDs(want.InputMask)) {
		t.Errorf("%s: input_mask\n got %v\nwant %v", what, p.AttentionMask, want.InputMask)
	}
	if !reflect.DeepEqual(p.TokenTypeIDs, tokTestIDs(want.SegmentIDs)) {
		t.Errorf("%s: segment_ids\n got %v\nwant %v", what, p.TokenTypeIDs, want.SegmentIDs)
	}
}

func TestEncodePairFixtures(t *testing.T) {
	for _, name := range []string{"pairs_uncased.json", "pairs_cased.json"} {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			var fx struct {
				Vocab       string `json:"vocab"`
				DoLowerCase bool   `json:"do_lower_case"`
				Cases       []struct {
					TextA     string  `json:"text_a"`
					TextB     *string `json:"text_b"`
					MaxSeqLen int     `json:"max_seq_length"`
					LenA      int     `json:"len_tokens_a_before_truncation"`
					LenB      *int    `json:"len_tokens_b_before_truncation"`
					tokTestEncoded
				} `json:"cases"`
			}
			tokTestReadFixture(t, name, &fx)
			if len(fx.Cases) == 0 {
				t.Fatal("no cases")
			}
			tok := tokTestFixtureTokenizer(t, fx.Vocab, fx.DoLowerCase, 0)
			for i, c := range fx.Cases {
				b := ""
				if c.TextB != nil {
					b = *c.TextB
				}
				what := "case " + strconv.Itoa(i) + " " + tokTestShort(c.TextA) + " / " + tokTestShort(b) + " @" + strconv.Itoa(c.MaxSeqLen)
				if n := len(tok.Tokenize(c.TextA)); n != c.LenA {
					t.Errorf("%s: %d tokens in a before truncation, want %d", what, n, c.LenA)
				}
				if c.LenB != nil {
					if n := len(tok.Tokenize(b)); n != *c.LenB {
						t.Errorf("%s: %d tokens in b before truncation, want %d", what, n, *c.LenB)
					}
				}
				tokTestCheckEncoding(t, what, tok, tok.EncodePair(c.TextA, b, c.MaxSeqLen), c.MaxSeqLen, c.tokTestEncoded)
			}
		})
	}
}

func tokTestShort(s string) string {
	r := []rune(s)
	if len(r) > 24 {
		return strings.ToValidUTF8(string(r[:24]), "") + "..."
	}
	return s
}

// tokTestReadRTE reads GLUE RTE dev.tsv rows (after the header) as
// google-research/bert's _read_tsv does: tab-separated, no quoting.
func tokTestReadRTE(t *testing.T) [][]string {
	t.Helper()
	tokTestRTEDev := fixture.Path(t, "glue", "RTE", "dev.tsv")
	b, err := os.ReadFile(tokTestRTEDev)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		rows = append(rows, strings.Split(line, "\t"))
	}
	if len(rows) < 2 {
		t.Fatalf("%s: %d lines", tokTestRTEDev, len(rows))
	}
	return rows[1:]
}

func TestTokenizerRTEDev(t *testing.T) {
	for _, name := range []string{"rte_dev_rows0-99_uncased.json", "rte_dev_rows0-99_cased.json"} {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			var fx struct {
				Vocab       string   `json:"vocab"`
				DoLowerCase bool     `json:"do_lower_case"`
				MaxSeqLen   int      `json:"max_seq_length"`
				Rows        [2]int   `json:"rows"`
				LabelList   []string `json:"label_list"`
				Cases       []struct {
					Index   string   `json:"index"`
					TextA   string   `json:"text_a"`
					TextB   string   `json:"text_b"`
					Label   string   `json:"label"`
					LabelID int      `json:"label_id"`
					TokensA []string `json:"tokens_a"`
					TokensB []string `json:"tokens_b"`
					tokTestEncoded
				} `json:"cases"`
			}
			tokTestReadFixture(t, name, &fx)
			rows := tokTestReadRTE(t)
			if want := fx.Rows[1] - fx.Rows[0] + 1; len(fx.Cases) != want {
				t.Fatalf("%d cases, want %d", len(fx.Cases), want)
			}
			tok := tokTestFixtureTokenizer(t, fx.Vocab, fx.DoLowerCase, 0)
			for i, c := range fx.Cases {
				row := rows[fx.Rows[0]+i]
				if len(row) < 4 {
					t.Fatalf("row %d: %d columns", fx.Rows[0]+i, len(row))
				}
				textA, textB, label := row[1], row[2], row[len(row)-1]
				what := "row " + row[0]
				if row[0] != c.Index || textA != c.TextA || textB != c.TextB || label != c.Label {
					t.Fatalf("%s: TSV row (%q, %q, %q, %q) differs from the fixture's (%q, %q, %q, %q)",
						what, row[0], textA, textB, label, c.Index, c.TextA, c.TextB, c.Label)
				}
				if c.LabelID < 0 || c.LabelID >= len(fx.LabelList) || fx.LabelList[c.LabelID] != label {
					t.Errorf("%s: label_id %d does not name %q in %v", what, c.LabelID, label, fx.LabelList)
				}
				if got := tok.Tokenize(textA); !tokTestEqual(got, c.TokensA) {
					t.Errorf("%s: tokens_a\n got %+q\nwant %+q", what, got, c.TokensA)
				}
				if got := tok.Tokenize(textB); !tokTestEqual(got, c.TokensB) {
					t.Errorf("%s: tokens_b\n got %+q\nwant %+q", what, got, c.TokensB)
				}
				tokTestCheckEncoding(t, what, tok, tok.EncodePair(textA, textB, fx.MaxSeqLen), fx.MaxSeqLen, c.tokTestEncoded)
			}
		})
	}
}

// tokTestSmallVocab is a tiny vocabulary for tests that do not need the
// real ones.
var tokTestSmallVocab = []string{
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
	"un", "##aff", "##able", "runn", "##ing", "run", "a", "b", "c", "d",
	"##a", "##b", ",", ".", "!", "'", "hello", "world", "the", "##s",
}

func tokTestSmall(t testing.TB, lower bool) *Tokenizer {
	t.Helper()
	tok, err := NewTokenizer(NewVocab(tokTestSmallVocab), TokenizerOptions{DoLowerCase: lower})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Expected values computed with tokenization.py's BasicTokenizer under
// CPython 3.11.
func TestTokenizerBasicTokensPythonCases(t *testing.T) {
	lower, cased := tokTestSmall(t, true), tokTestSmall(t, false)
	for _, c := range []struct {
		text         string
		lower, case_ []string
	}{
		// Final sigma: str.lower() looks across case-ignorable characters
		// (Mn, Lm, Cf, ' . : ...) before punctuation is split off.
		{"ΟΔΟΣ", []string{"οδος"}, []string{"ΟΔΟΣ"}},
		{"ΣΑ", []string{"σα"}, []string{"ΣΑ"}},
		{"ΑΣ.Β", []string{"ασ", ".", "β"}, []string{"ΑΣ", ".", "Β"}},
		{"ΑΣ. Β", []string{"ας", ".", "β"}, []string{"ΑΣ", ".", "Β"}},
		{"Α'Σ", []string{"α", "'", "ς"}, []string{"Α", "'", "Σ"}},
		{"ΑΣ'", []string{"ας", "'"}, []string{"ΑΣ", "'"}},
		{"ΑΣ'Β", []string{"ασ", "'", "β"}, []string{"ΑΣ", "'", "Β"}},
		{"Σ", []string{"σ"}, []string{"Σ"}},
		{"1Σ", []string{"1σ"}, []string{"1Σ"}},
		{"ΑΣ1", []string{"ας1"}, []string{"ΑΣ1"}},
		{"ΑΣ\u0301", []string{"ας"}, []string{"ΑΣ\u0301"}},
		{"ΑΣ\u0301Β", []string{"ασβ"}, []string{"ΑΣ\u0301Β"}},
		{"ΌΣΟΣ ΑΣΣ", []string{"οσος", "ασς"}, []string{"ΌΣΟΣ", "ΑΣΣ"}},
		{"ΑΣ\u200bΒ", []string{"ασβ"}, []string{"ΑΣΒ"}},
		{"KΣ:Κ", []string{"kσ", ":", "κ"}, []string{"KΣ", ":", "Κ"}},
		// Multi-character and titlecase lowercase mappings.
		{"İstanbul", []string{"istanbul"}, []string{"İstanbul"}},
		{"ǅemal", []string{"ǆemal"}, []string{"ǅemal"}},
		{"ᾈ", []string{"α"}, []string{"ᾈ"}},
		{"ﬁ Ⅻ", []string{"ﬁ", "ⅻ"}, []string{"ﬁ", "Ⅻ"}},
		// Whitespace of str.split() that survives cleaning.
		{"Hello\u2029World", []string{"hello", "world"}, []string{"Hello", "World"}},
		{"a\u3000b\u2028c", []string{"a", "b", "c"}, []string{"a", "b", "c"}},
		// Invalid UTF-8 is dropped like decode("utf-8", "ignore").
		{"ab\xffc\xe2\x82d", []string{"abcd"}, []string{"abcd"}},
		{"", nil, nil},
	} {
		if got := lower.BasicTokens(c.text); !tokTestEqual(got, c.lower) {
			t.Errorf("uncased %+q: got %+q, want %+q", c.text, got, c.lower)
		}
		if got := cased.BasicTokens(c.text); !tokTestEqual(got, c.case_) {
			t.Errorf("cased %+q: got %+q, want %+q", c.text, got, c.case_)
		}
	}
}

func TestTokenizerWordpieceSmallVocab(t *testing.T) {
	tok := tokTestSmall(t, true)
	for _, c := range []struct {
		text string
		want []string
	}{
		{"unaffable", []string{"un", "##aff", "##able"}},
		{"Running, RUN!", []string{"runn", "##ing", ",", "run", "!"}},
		{"abab", []string{"a", "##b", "##a", "##b"}},
		{"unx", []string{"[UNK]"}}, // cannot be covered: the whole word is [UNK]
		{"hello unx world", []string{"hello", "[UNK]", "world"}},
		{"[CLS]", []string{"[UNK]", "[UNK]", "[UNK]"}}, // "[", "cls", "]"
	} {
		got := tok.Tokenize(c.text)
		if !tokTestEqual(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.text, got, c.want)
		}
	}
	long := strings.Repeat("a", 200)
	if got := tok.Tokenize(long); len(got) != 200 {
		t.Errorf("200-char word: %d tokens, want 200", len(got))
	}
	if got := tok.Tokenize(long + "a"); !tokTestEqual(got, []string{"[UNK]"}) {
		t.Errorf("201-char word: got %d tokens, want [UNK]", len(got))
	}
	tok5, err := NewTokenizer(tok.Vocab(), TokenizerOptions{DoLowerCase: true, MaxInputCharsPerWord: 5})
	if err != nil {
		t.Fatal(err)
	}
	if got := tok5.Tokenize("ababa ababab"); !tokTestEqual(got, []string{"a", "##b", "##a", "##b", "##a", "[UNK]"}) {
		t.Errorf("MaxInputCharsPerWord 5: got %q", got)
	}
	ids := tok.ConvertTokensToIDs([]string{"[CLS]", "hello", "nope", "##s"})
	if want := []int32{2, 21, 1, 24}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ConvertTokensToIDs: got %v, want %v", ids, want)
	}
}

func TestEncodePairTruncation(t *testing.T) {
	tok := tokTestSmall(t, true)
	for _, c := range []struct {
		a, b   string
		max    int
		tokens string
		types  []int32
	}{
		{"a b c d", "", 128, "[CLS] a b c d [SEP]", []int32{0, 0, 0, 0, 0, 0}},
		{"a b c d", "", 4, "[CLS] a b [SEP]", []int32{0, 0, 0, 0}},
		{"a b c d", "   ", 5, "[CLS] a b c [SEP]", []int32{0, 0, 0, 0, 0}}, // b without tokens: single sentence
		{"a b", "c d", 7, "[CLS] a b [SEP] c d [SEP]", []int32{0, 0, 0, 0, 1, 1, 1}},
		{"a b", "c d", 6, "[CLS] a b [SEP] c [SEP]", []int32{0, 0, 0, 0, 1, 1}}, // equal lengths: pop from b
		{"a b c d", "c", 6, "[CLS] a b [SEP] c [SEP]", []int32{0, 0, 0, 0, 1, 1}},
		{"a", "a b c d", 6, "[CLS] a [SEP] a b [SEP]", []int32{0, 0, 0, 1, 1, 1}},
		{"", "a b", 6, "[CLS] [SEP] a b [SEP]", []int32{0, 0, 1, 1, 1}},
		{"a b", "c d", 3, "[CLS] [SEP]", []int32{0, 0}}, // b truncated away: no b segment, as in Python
		{"a b", "", 1, "[CLS] [SEP]", []int32{0, 0}},    // too small: a is emptied
	} {
		e := tok.EncodePair(c.a, c.b, c.max)
		if got := strings.Join(e.Tokens, " "); got != c.tokens {
			t.Errorf("(%q, %q, %d): tokens %q, want %q", c.a, c.b, c.max, got, c.tokens)
			continue
		}
		if !reflect.DeepEqual(e.TokenTypeIDs, c.types) {
			t.Errorf("(%q, %q, %d): type ids %v, want %v", c.a, c.b, c.max, e.TokenTypeIDs, c.types)
		}
		if !reflect.DeepEqual(e.InputIDs, tok.ConvertTokensToIDs(e.Tokens)) {
			t.Errorf("(%q, %q, %d): ids %v do not match tokens", c.a, c.b, c.max, e.InputIDs)
		}
		for i, m := range e.AttentionMask {
			if m != 1 {
				t.Errorf("(%q, %q, %d): mask[%d] = %d", c.a, c.b, c.max, i, m)
			}
		}
	}
}

func TestEncodePairPadded(t *testing.T) {
	tok := tokTestSmall(t, true)
	e := tok.EncodePair("a b", "c", 16)
	p := e.Padded(8, 7)
	if want := []int32{2, 11, 12, 3, 13, 3, 7, 7}; !reflect.DeepEqual(p.InputIDs, want) {
		t.Errorf("input ids %v, want %v", p.InputIDs, want)
	}
	if want := []int32{1, 1, 1, 1, 1, 1, 0, 0}; !reflect.DeepEqual(p.AttentionMask, want) {
		t.Errorf("mask %v, want %v", p.AttentionMask, want)
	}
	if want := []int32{0, 0, 0, 0, 1, 1, 0, 0}; !reflect.DeepEqual(p.TokenTypeIDs, want) {
		t.Errorf("type ids %v, want %v", p.TokenTypeIDs, want)
	}
	if len(p.Tokens) != 6 || len(e.InputIDs) != 6 {
		t.Errorf("Padded changed the token count or its receiver: %d tokens, receiver %d ids", len(p.Tokens), len(e.InputIDs))
	}
	p.InputIDs[0] = 99
	if e.InputIDs[0] == 99 {
		t.Error("Padded shares memory with its receiver")
	}
	if q := e.Padded(3, 0); len(q.InputIDs) != 6 {
		t.Errorf("Padded to fewer than the real tokens: %d ids, want 6 (unchanged)", len(q.InputIDs))
	}
}

func TestNewTokenizerMissingSpecials(t *testing.T) {
	for _, missing := range []string{"[UNK]", "[CLS]", "[SEP]", "[PAD]"} {
		var toks []string
		for _, s := range tokTestSmallVocab {
			if s != missing {
				toks = append(toks, s)
			}
		}
		_, err := NewTokenizer(NewVocab(toks), TokenizerOptions{})
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("vocab without %s: error %v, want one naming it", missing, err)
		}
	}
	// [MASK] is optional.
	tok, err := NewTokenizer(NewVocab([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]"}), TokenizerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tok.MaskID(); ok {
		t.Error("MaskID reports a [MASK] that the vocabulary lacks")
	}
	if tok.PadID() != 0 || tok.UnkID() != 1 || tok.CLSID() != 2 || tok.SEPID() != 3 {
		t.Errorf("special ids %d %d %d %d", tok.PadID(), tok.UnkID(), tok.CLSID(), tok.SEPID())
	}
	if _, err := NewTokenizer(NewVocab(tokTestSmallVocab), TokenizerOptions{MaxInputCharsPerWord: -1}); err == nil {
		t.Error("negative MaxInputCharsPerWord accepted")
	}
}

func TestLoadVocab(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// CRLF and surrounding whitespace are stripped (str.strip()), an empty
	// line is a token, the last line needs no "\n", and a duplicate token
	// takes the id of its last line.
	v, err := LoadVocab(write("ok.txt", "[PAD]\r\n  [UNK] \n\n[CLS]\u3000\nx\nx\n[SEP]"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 7 {
		t.Fatalf("Len = %d, want 7", v.Len())
	}
	for i, want := range []string{"[PAD]", "[UNK]", "", "[CLS]", "x", "x", "[SEP]"} {
		if got := v.Token(i); got != want {
			t.Errorf("Token(%d) = %q, want %q", i, got, want)
		}
	}
	for tok, want := range map[string]int{"[PAD]": 0, "[UNK]": 1, "": 2, "[CLS]": 3, "x": 5, "[SEP]": 6} {
		if id, ok := v.ID(tok); !ok || id != want {
			t.Errorf("ID(%q) = %d, %v; want %d", tok, id, ok, want)
		}
	}
	if _, ok := v.ID("y"); ok {
		t.Error(`ID("y") found`)
	}
	if v.Token(-1) != "" || v.Token(7) != "" {
		t.Error("Token out of range is not empty")
	}
	if w, err := LoadVocab(write("nl.txt", "a\nb\n")); err != nil || w.Len() != 2 {
		t.Errorf("trailing newline: %v, %v", w, err)
	}

	for _, c := range []struct{ name, content string }{
		{"empty.txt", ""},
		{"bad-utf8.txt", "[PAD]\n\xff\n"},
	} {
		p := write(c.name, c.content)
		if _, err := LoadVocab(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file", c.name, err)
		}
	}
	missing := filepath.Join(dir, "missing.txt")
	if _, err := LoadVocab(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v, want one naming the file", err)
	}
}

func TestDetectLowerCase(t *testing.T) {
	root := t.TempDir()
	if strings.Contains(strings.ToLower(root), "cased") {
		t.Skipf("temporary directory %s contains \"cased\"", root)
	}
	mk := func(name, cfg string) string {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if cfg != "" {
			if err := os.WriteFile(filepath.Join(d, "tokenizer_config.json"), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	for _, c := range []struct {
		dir, cfg string
		want     bool
		source   string // substring of the source
	}{
		{"bert-base-uncased", `{"do_lower_case": false}`, false, "tokenizer_config.json"},
		{"bert-base-cased", `{"do_lower_case": true, "model_max_length": 512}`, true, "tokenizer_config.json"},
		{"bert-base-uncased", "", true, `"uncased"`},
		{"BERT-Base-Cased", "", false, `"cased"`},
		{"cased_L-12_H-768_A-12", `{"model_max_length": 512}`, false, `"cased"`},
		{"multi_cased_model", `{"do_lower_case": null}`, false, `"cased"`},
		{"my-model", `{}`, true, "default"},
		{"plain", "", true, "default"},
		{filepath.Join("bert-large-uncased", "checkpoint-500"), "", true, `"uncased"`},
	} {
		d := mk(c.dir, c.cfg)
		got, source, err := DetectLowerCase(d)
		if err != nil || got != c.want || !strings.Contains(source, c.source) {
			t.Errorf("%s %s: got %v, %q, %v; want %v from %s", c.dir, c.cfg, got, source, err, c.want, c.source)
		}
		if err := os.RemoveAll(filepath.Join(root, strings.Split(c.dir, string(filepath.Separator))[0])); err != nil {
			t.Fatal(err)
		}
	}
	for _, cfg := range []string{`{"do_lower_case": tru`, `{"do_lower_case": "yes"}`, `[true]`} {
		d := mk("bad", cfg)
		_, _, err := DetectLowerCase(d)
		if p := filepath.Join(d, "tokenizer_config.json"); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("config %s: error %v, want one naming %s", cfg, err, p)
		}
	}
}

func TestLoadTokenizer(t *testing.T) {
	root := t.TempDir()
	d := filepath.Join(root, "model")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTokenizer(d, nil); err == nil || !strings.Contains(err.Error(), "vocab.txt") {
		t.Errorf("no vocab.txt: error %v", err)
	}
	if err := os.WriteFile(filepath.Join(d, "vocab.txt"), []byte(strings.Join(tokTestSmallVocab, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "tokenizer_config.json"), []byte(`{"do_lower_case": false}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := LoadTokenizer(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok.DoLowerCase() || tok.Vocab().Len() != len(tokTestSmallVocab) || tok.MaxInputCharsPerWord() != DefaultMaxInputCharsPerWord {
		t.Errorf("lower %v, vocab %d, max chars %d", tok.DoLowerCase(), tok.Vocab().Len(), tok.MaxInputCharsPerWord())
	}
	yes := true
	if tok, err = LoadTokenizer(d, &yes); err != nil || !tok.DoLowerCase() {
		t.Errorf("override: %v, %v", tok, err)
	}
	if got := tok.Tokenize("Hello, WORLD"); !tokTestEqual(got, []string{"hello", ",", "world"}) {
		t.Errorf("Tokenize: %q", got)
	}
}
