package data

// This file splits added tokens (special tokens such as [CLS], <s>,
// <mask>) out of the text before a tokenizer normalizes and pre-tokenizes
// it, as Hugging Face tokenizers' AddedVocabulary does for the fast
// tokenizers: the non-normalized tokens are found in the raw text, then
// the normalized ones in the normalized pieces left between them; leftmost
// match first, the longest at a place, matches never overlapping; each
// token's single_word, lstrip and rstrip flags as that library applies
// them.

import (
	"slices"
	"unicode"
	"unicode/utf8"
)

// addedToken is a token matched literally in the text before the
// pre-tokenizer runs (Hugging Face's added tokens).
type addedToken struct {
	content string
	id      int32
	// singleWord matches only where no word character (Unicode \w)
	// touches the token on either side.
	singleWord bool
	// lstrip and rstrip make a match swallow the whitespace (Unicode
	// White_Space) on its left or right.
	lstrip, rstrip bool
	// normalized tokens are matched in a second pass, in the normalized
	// pieces the non-normalized ones leave, against their own content
	// normalized the same way.
	normalized bool
}

// addedVocab holds the added tokens of a tokenizer, ready for splitting.
type addedVocab struct {
	// raw are the non-normalized tokens, norm the normalized ones with
	// their content normalized; each in id order, a content given twice
	// keeping its first entry.
	raw, norm []addedToken
	// rawFirst and normFirst mark the bytes a token of each set starts
	// with.
	rawFirst, normFirst [256]bool
	// normalize is the tokenizer's normalizer (nil: none).
	normalize func(string) string
}

// newAddedVocab prepares tokens for splitting with the tokenizer's
// normalizer (nil when it has none).
func newAddedVocab(tokens []addedToken, normalize func(string) string) addedVocab {
	v := addedVocab{normalize: normalize}
	tokens = slices.Clone(tokens)
	slices.SortStableFunc(tokens, func(x, y addedToken) int { return int(x.id) - int(y.id) })
	seen := make(map[string]bool, len(tokens))
	for _, a := range tokens {
		if a.content == "" || seen[a.content] {
			continue
		}
		seen[a.content] = true
		if !a.normalized {
			v.raw = append(v.raw, a)
			v.rawFirst[a.content[0]] = true
			continue
		}
		if normalize != nil {
			a.content = normalize(a.content)
			if a.content == "" {
				continue
			}
		}
		v.norm = append(v.norm, a)
		v.normFirst[a.content[0]] = true
	}
	return v
}

// empty reports whether there is no token to split out.
func (v *addedVocab) empty() bool { return len(v.raw) == 0 && len(v.norm) == 0 }

// find returns the token whose content is content, if any.
func (v *addedVocab) find(content string) (addedToken, bool) {
	for _, set := range [][]addedToken{v.raw, v.norm} {
		if i := slices.IndexFunc(set, func(a addedToken) bool { return a.content == content }); i >= 0 {
			return set[i], true
		}
	}
	return addedToken{}, false
}

// textPiece is a piece of the text: an added token (id >= 0) or text for
// the tokenizer's normalizer, pre-tokenizer and model (id < 0). Pieces of
// the second pass hold normalized text.
type textPiece struct {
	text string
	id   int32
}

// split splits text on the added tokens (see the file comment). Text
// pieces after a normalized pass hold the normalized text; when no token
// is normalized, the text pieces are the raw text (the tokenizer
// normalizes them itself).
func (v *addedVocab) split(text string) []textPiece {
	if v.empty() {
		return []textPiece{{text, -1}}
	}
	pieces := splitOn(nil, text, v.raw, &v.rawFirst)
	if len(v.norm) == 0 {
		return pieces
	}
	out := make([]textPiece, 0, len(pieces))
	for _, p := range pieces {
		if p.id >= 0 {
			out = append(out, p)
			continue
		}
		s := p.text
		if v.normalize != nil {
			s = v.normalize(s)
		}
		out = splitOn(out, s, v.norm, &v.normFirst)
	}
	return out
}

// splitOn appends the pieces of s split on the tokens of set (first marks
// the bytes they start with) to dst: leftmost match first, the longest at
// its place; a single_word match with a word character next to it is
// dropped (the search goes on after it, as a non-overlapping search
// does); lstrip and rstrip widen a match over the whitespace beside it,
// never into an earlier match.
func splitOn(dst []textPiece, s string, set []addedToken, first *[256]bool) []textPiece {
	off := 0 // end of the previous match
	for i := 0; i < len(s); i++ {
		if !first[s[i]] {
			continue
		}
		best := -1
		for k := range set {
			c := set[k].content
			if len(c) <= len(s)-i && s[i:i+len(c)] == c && (best < 0 || len(c) > len(set[best].content)) {
				best = k
			}
		}
		if best < 0 {
			continue
		}
		tok := &set[best]
		ms, me := i, i+len(tok.content)
		if tok.singleWord && (endsWithWord(s[:ms]) || startsWithWord(s[me:])) {
			i = me - 1
			continue
		}
		if tok.lstrip {
			for ms > off {
				r, n := utf8.DecodeLastRuneInString(s[off:ms])
				if !isWhiteSpace(r) {
					break
				}
				ms -= n
			}
		}
		if tok.rstrip {
			for me < len(s) {
				r, n := utf8.DecodeRuneInString(s[me:])
				if !isWhiteSpace(r) {
					break
				}
				me += n
			}
		}
		if off < ms {
			dst = append(dst, textPiece{s[off:ms], -1})
		}
		dst = append(dst, textPiece{s[ms:me], tok.id})
		off = me
		i = me - 1
	}
	if off < len(s) {
		dst = append(dst, textPiece{s[off:], -1})
	}
	return dst
}

// isWhiteSpace reports whether r has Unicode's White_Space property (the
// \s of the Rust regex crate tokenizers uses).
func isWhiteSpace(r rune) bool { return unicode.Is(unicode.White_Space, r) }

// isWordChar reports whether r is a word character, \w of the Rust regex
// crate: Alphabetic, a mark, a decimal digit, connector punctuation or a
// join control.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.In(r, unicode.Nl, unicode.Other_Alphabetic, unicode.M, unicode.Nd, unicode.Pc, unicode.Join_Control)
}

// endsWithWord reports whether s ends with a word character.
func endsWithWord(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordChar(r)
}

// startsWithWord reports whether s starts with a word character.
func startsWithWord(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordChar(r)
}
