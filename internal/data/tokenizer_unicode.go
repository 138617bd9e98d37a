package data

import (
	"unicode"
	"unicode/utf8"
)

// Character classes of google-research/bert tokenization.py and of the
// Python str methods it relies on. Go's unicode tables (Unicode 15.0) are
// used for the general categories; they agree with Python 3.11's (Unicode
// 14.0) for every character assigned in 14.0.

// tokIsControl is tokenization.py's _is_control: category Cc or Cf, except
// \t, \n and \r (which count as whitespace).
func tokIsControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if r < 0x80 {
		return r < 0x20 || r == 0x7f
	}
	return unicode.In(r, unicode.Cc, unicode.Cf)
}

// tokIsWhitespace is tokenization.py's _is_whitespace: space, \t, \n, \r or
// category Zs.
func tokIsWhitespace(r rune) bool {
	if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
		return true
	}
	if r < 0x80 {
		return false
	}
	return unicode.Is(unicode.Zs, r)
}

// tokPySpace reports whether Python's str.isspace() is true for r, i.e. the
// separators of str.split() and str.strip() without arguments.
func tokPySpace(r rune) bool {
	switch {
	case r == ' ', r >= '\t' && r <= '\r', r >= 0x1c && r <= 0x1f:
		return true
	case r < 0x85:
		return false
	}
	switch r {
	case 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// tokIsPunct is tokenization.py's _is_punctuation: every non-letter,
// non-digit printable ASCII character, or any category P*.
func tokIsPunct(r rune) bool {
	if r < 0x80 {
		return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) ||
			(r >= 91 && r <= 96) || (r >= 123 && r <= 126)
	}
	return unicode.IsPunct(r)
}

// tokIsChinese is tokenization.py's _is_chinese_char (the CJK Unified
// Ideographs blocks and the compatibility ideographs, not Hangul or kana).
func tokIsChinese(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) ||
		(r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) ||
		(r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0x2F800 && r <= 0x2FA1F)
}

// tokIsCased is the Unicode derived property Cased (Lowercase, Uppercase or
// Lt), which Python's str.lower() uses for the Final_Sigma context.
func tokIsCased(r rune) bool {
	if r < 0x80 {
		return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
	}
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt,
		unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// tokIsCaseIgnorable is the Unicode derived property Case_Ignorable:
// categories Mn, Me, Cf, Lm, Sk, or Word_Break MidLetter, MidNumLet or
// Single_Quote.
func tokIsCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', // Single_Quote, MidNumLet, MidLetter
		0x00B7, 0x0387, 0x055F, 0x05F4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
		return true
	}
	if r < 0x80 {
		return r == '^' || r == '`' // Sk
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

// tokFinalSigma reports whether the capital sigma occupying word[i:j] is in
// the Final_Sigma context as CPython's str.lower() decides it: preceded by a
// cased letter (skipping case-ignorable characters) and not followed by one
// (again skipping case-ignorable characters).
func tokFinalSigma(word []byte, i, j int) bool {
	before := false
	for k := i; k > 0; {
		c, size := utf8.DecodeLastRune(word[:k])
		k -= size
		if !tokIsCaseIgnorable(c) {
			before = tokIsCased(c)
			break
		}
	}
	if !before {
		return false
	}
	for k := j; k < len(word); {
		c, size := utf8.DecodeRune(word[k:])
		k += size
		if !tokIsCaseIgnorable(c) {
			return !tokIsCased(c)
		}
	}
	return true
}

// tokAppendPyLower appends Python's str.lower() of the UTF-8 text word to
// dst: the simple lowercase mapping of every character, except the
// unconditional multi-character mapping of SpecialCasing.txt (U+0130 ->
// "i" U+0307, the only one for lowercase) and the context-dependent final
// sigma (U+03A3 -> U+03C2 at the end of a word, else U+03C3).
func tokAppendPyLower(dst, word []byte) []byte {
	for i := 0; i < len(word); {
		c := word[i]
		if c < utf8.RuneSelf {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(word[i:])
		switch r {
		case 0x130:
			dst = append(dst, 'i', 0xCC, 0x87)
		case 0x3A3:
			if tokFinalSigma(word, i, i+size) {
				dst = utf8.AppendRune(dst, 0x3C2)
			} else {
				dst = utf8.AppendRune(dst, 0x3C3)
			}
		default:
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		}
		i += size
	}
	return dst
}
