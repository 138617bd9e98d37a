package data

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// uniSlowBest is the obviously right Unigram segmentation: it tries every
// way to cut s at character boundaries into pieces, each a piece of the
// vocabulary (not reserved) or one character that no piece spells (an
// unknown, scored m.unkScore), and returns the highest total score.
// Exponential: for short strings only.
func uniSlowBest(m *unigramModel, s string) float64 {
	if s == "" {
		return 0
	}
	best := math.Inf(-1)
	_, first := utf8.DecodeRuneInString(s)
	for end := 1; end <= len(s); end++ {
		if end < len(s) && !utf8.RuneStart(s[end]) {
			continue
		}
		p := s[:end]
		var score float64
		if id, ok := m.ids[p]; ok && m.kinds[id] != pieceReserved {
			score = m.scores[id]
		} else if end == first {
			score = m.unkScore
		} else {
			continue
		}
		if rest := uniSlowBest(m, s[end:]); score+rest > best {
			best = score + rest
		}
	}
	return best
}

// uniFuzzAlphabet maps fuzz bytes to characters the test vocabulary
// knows, a few it does not, and spaces.
var uniFuzzAlphabet = []rune("abcdeilnorst ▁0,.'~é\u0301Ａ😀")

// FuzzUnigram checks the Viterbi segmentation against uniSlowBest on short
// strings (the pieces must spell the text, and their total score must be
// the best), and that the whole tokenizer never panics and keeps its
// length limit on any input.
func FuzzUnigram(f *testing.F) {
	for _, s := range []string{"", "a", "the cat sat", "0000", "~~a~", "\x00\xff", "é\u0301Ａ"} {
		f.Add([]byte(s), 16)
	}
	tok := uniTestLoad(f, "xlmr")
	m := tok.model
	f.Fuzz(func(t *testing.T, raw []byte, maxLen int) {
		// The whole tokenizer on the raw bytes.
		maxLen = 4 + (maxLen%64+64)%64
		a, b, _ := strings.Cut(string(raw), "\t")
		e := tok.EncodePair(a, b, maxLen)
		if len(e.InputIDs) > maxLen || len(e.TokenTypeIDs) != len(e.InputIDs) || len(e.AttentionMask) != len(e.InputIDs) {
			t.Fatalf("EncodePair(%q, %q, %d): %d ids, %d type ids, %d mask", a, b, maxLen, len(e.InputIDs), len(e.TokenTypeIDs), len(e.AttentionMask))
		}
		// The segmentation of a short word against the exhaustive search.
		var w strings.Builder
		for i, c := range raw {
			if i == 12 {
				break
			}
			w.WriteRune(uniFuzzAlphabet[int(c)%len(uniFuzzAlphabet)])
		}
		s := w.String()
		seg := m.segment(s, nil, nil)
		var spelled strings.Builder
		total := 0.0
		for _, p := range seg {
			piece := s[p[0]:p[1]]
			spelled.WriteString(piece)
			if p[2] == m.unk {
				if _, ok := m.ids[piece]; ok || utf8.RuneCountInString(piece) != 1 {
					t.Fatalf("%q: unknown piece %q is not one character without a piece", s, piece)
				}
				total += m.unkScore
				continue
			}
			if m.pieces[p[2]] != piece {
				t.Fatalf("%q: piece %q has id %d, which is %q", s, piece, p[2], m.pieces[p[2]])
			}
			total += m.scores[p[2]]
		}
		if spelled.String() != s {
			t.Fatalf("%q: the pieces spell %q", s, spelled.String())
		}
		if want := uniSlowBest(m, s); math.Abs(total-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Fatalf("%q: the segmentation scores %v, the best is %v", s, total, want)
		}
	})
}

// FuzzCharsMap overwrites part of a real precompiled charsmap with fuzz
// bytes and applies it both ways: a damaged trie or table must never
// make normalization panic or read outside the blob.
func FuzzCharsMap(f *testing.F) {
	sp, err := LoadSentencePiece(filepath.Join(uniTestDir, "xlmr.model"))
	if err != nil {
		f.Fatal(err)
	}
	m := sp.norm.cmap
	blob := make([]byte, 4+4*len(m.units)+len(m.table))
	binary.LittleEndian.PutUint32(blob, uint32(4*len(m.units)))
	for i, u := range m.units {
		binary.LittleEndian.PutUint32(blob[4+4*i:], u)
	}
	copy(blob[4+4*len(m.units):], m.table)
	f.Add(uint32(0), []byte{0xff, 0xff, 0xff, 0xff}, "Ｆｕｌｌ ｗｉｄｔｈ e\u0301 \x00")
	f.Add(uint32(4), []byte{0, 0, 0, 0x80}, "ﬁ ① ㎏")
	f.Fuzz(func(t *testing.T, at uint32, patch []byte, text string) {
		b := slices.Clone(blob)
		copy(b[int(at)%len(b):], patch)
		cm, err := parseCharsMap(b)
		if err != nil {
			return
		}
		cm.normalizeHF(text)
		(&spmNormalizer{cmap: cm, addDummyPrefix: true, removeExtraSpaces: true, escapeSpaces: true}).normalize(text)
	})
}
