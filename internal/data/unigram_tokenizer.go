package data

// This file runs a Unigram tokenizer as Hugging Face's fast tokenizers
// run the SentencePiece families (XLM-RoBERTa, DeBERTa-v2/v3, ALBERT):
// added tokens split out first, each other piece normalized (a sequence
// of normalizers), pre-tokenized by Metaspace (spaces become ▁, words
// split before each ▁), segmented by the Unigram model, then the family's
// special tokens placed by its template and the pair truncated
// longest-first.

import (
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// normalizeStep is one normalizer of a sequence.
type normalizeStep func(string) string

// prependScheme is when Metaspace puts ▁ before a piece.
type prependScheme uint8

const (
	prependAlways prependScheme = iota // every piece
	prependFirst                       // only the piece at the start of the text
	prependNever
)

// templatePiece is one item of a post-processing template: special ids,
// or the sequence A (seq 0) or B (seq 1), with the type id its tokens get.
type templatePiece struct {
	ids    []int32 // special token ids; nil for a sequence
	seq    int
	typeID int32
}

// UnigramTokenizer is a Unigram (SentencePiece) tokenizer as Hugging
// Face's fast tokenizers run it; LoadTokenizerJSON and LoadSPMEncoder build
// it. It is safe for concurrent use.
type UnigramTokenizer struct {
	model  *unigramModel
	tokens []string // id -> token, added tokens included
	norm   []normalizeStep
	// whitespaceSplit splits on whitespace before Metaspace (a
	// WhitespaceSplit pre-tokenizer).
	whitespaceSplit bool
	prepend         prependScheme
	split           bool   // Metaspace splits before each replacement
	replacement     string // Metaspace's replacement for a space
	added           addedVocab
	single, pair    []templatePiece
	pad             int32
	lower           bool
}

// normalize runs the normalizer sequence.
func (t *UnigramTokenizer) normalize(s string) string {
	for _, f := range t.norm {
		s = f(s)
	}
	return s
}

// wordsOf appends the pre-tokenized words of a normalized piece to dst;
// first says whether the piece starts the text (prepend_scheme first,
// which the loader never pairs with WhitespaceSplit).
func (t *UnigramTokenizer) wordsOf(dst []string, s string, first bool) []string {
	var parts []string
	if t.whitespaceSplit {
		parts = strings.FieldsFunc(s, isWhiteSpace)
	} else {
		parts = []string{s}
	}
	for _, p := range parts {
		p = strings.ReplaceAll(p, " ", t.replacement)
		if !strings.HasPrefix(p, t.replacement) &&
			(t.prepend == prependAlways || t.prepend == prependFirst && first) {
			p = t.replacement + p
		}
		if !t.split {
			dst = append(dst, p)
			continue
		}
		for p != "" {
			j := strings.Index(p[1:], t.replacement)
			if j < 0 {
				dst = append(dst, p)
				break
			}
			dst = append(dst, p[:j+1])
			p = p[j+1:]
		}
	}
	return dst
}

// encodeText returns the ids of one text (no special tokens of the
// template).
func (t *UnigramTokenizer) encodeText(text string) []int32 {
	text = strings.ToValidUTF8(text, "")
	var ids []int32
	var words []string
	var sc viterbiScratch
	normalized := len(t.added.norm) > 0 // split's text pieces are normalized already
	start := 0
	for _, p := range t.added.split(text) {
		first := start == 0
		if p.id >= 0 {
			ids = append(ids, p.id)
			start++
			continue
		}
		start++
		s := p.text
		if !normalized {
			s = t.normalize(s)
		}
		if s == "" {
			continue
		}
		words = t.wordsOf(words[:0], s, first)
		for _, w := range words {
			ids = t.model.encode(w, ids, &sc)
		}
	}
	return ids
}

// EncodePair encodes text a, or the pair (a, b) when b is not empty, by
// the tokenizer's template, truncated longest-first as the fast
// tokenizers truncate (tokenizer(a, b, truncation=True,
// max_length=maxSeqLen)) to leave room for the special tokens. Budgets
// below zero count as zero.
func (t *UnigramTokenizer) EncodePair(a, b string, maxSeqLen int) Encoding {
	ia := t.encodeText(a)
	var ib []int32
	tmpl := t.single
	if b != "" {
		ib = t.encodeText(b)
		tmpl = t.pair
		na, nb := bpeTruncatePair(len(ia), len(ib), max(maxSeqLen-specialCount(tmpl), 0))
		ia, ib = ia[:na], ib[:nb]
	} else if budget := max(maxSeqLen-specialCount(tmpl), 0); len(ia) > budget {
		ia = ia[:budget]
	}
	var e Encoding
	for _, it := range tmpl {
		ids := it.ids
		if ids == nil {
			ids = ia
			if it.seq == 1 {
				ids = ib
			}
		}
		for _, id := range ids {
			e.InputIDs = append(e.InputIDs, id)
			e.TokenTypeIDs = append(e.TokenTypeIDs, it.typeID)
			e.AttentionMask = append(e.AttentionMask, 1)
			e.Tokens = append(e.Tokens, t.tokens[id])
		}
	}
	return e
}

// specialCount counts the special tokens of a template.
func specialCount(tmpl []templatePiece) int {
	n := 0
	for _, it := range tmpl {
		n += len(it.ids)
	}
	return n
}

// PadID returns the padding token's id.
func (t *UnigramTokenizer) PadID() int32 { return t.pad }

// VocabSize returns the number of ids, added tokens included.
func (t *UnigramTokenizer) VocabSize() int { return len(t.tokens) }

// DoLowerCase reports whether a Lowercase normalizer is in the sequence.
func (t *UnigramTokenizer) DoLowerCase() bool { return t.lower }

// PairSpecialTokens is the number of special tokens of the pair template.
func (t *UnigramTokenizer) PairSpecialTokens() int { return specialCount(t.pair) }

// Normalizer steps as tokenizers defines them.

// stepLowercase is Lowercase: full Unicode lower-casing (final sigma and
// İ included), as Rust's str::to_lowercase.
func stepLowercase(s string) string { return string(tokAppendPyLower(nil, []byte(s))) }

// stepNFKD, stepNFKC, stepNFD and stepNFC are the Unicode normal forms.
func stepNFKD(s string) string { return norm.NFKD.String(s) }
func stepNFKC(s string) string { return norm.NFKC.String(s) }
func stepNFD(s string) string  { return norm.NFD.String(s) }
func stepNFC(s string) string  { return norm.NFC.String(s) }

// stepStripAccents is StripAccents: combining marks removed.
func stepStripAccents(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mark, r) {
			return -1
		}
		return r
	}, s)
}

// stepStrip is Strip: whitespace (Unicode White_Space) removed from the
// left and/or right.
func stepStrip(left, right bool) normalizeStep {
	return func(s string) string {
		if left {
			s = strings.TrimLeftFunc(s, isWhiteSpace)
		}
		if right {
			s = strings.TrimRightFunc(s, isWhiteSpace)
		}
		return s
	}
}

// stepReplace is Replace of a literal string.
func stepReplace(old, repl string) normalizeStep {
	return func(s string) string { return strings.ReplaceAll(s, old, repl) }
}

// stepReplaceRegexp is Replace of a regular expression's matches.
func stepReplaceRegexp(re *regexp.Regexp, repl string) normalizeStep {
	return func(s string) string { return re.ReplaceAllLiteralString(s, repl) }
}

// stepPrecompiled is Precompiled: SentencePiece's charsmap as tokenizers
// applies it.
func stepPrecompiled(m *charsMap) normalizeStep { return m.normalizeHF }

// tokenIndex returns the id of tok: an added token's, else the model's.
func (t *UnigramTokenizer) tokenIndex(tok string) (int32, bool) {
	if a, ok := t.added.find(tok); ok {
		return a.id, true
	}
	id, ok := t.model.ids[tok]
	return id, ok
}
