package data

import (
	"unicode"
	"unicode/utf8"
)

// bpeByteRune is GPT-2's bytes_to_unicode: every byte maps to a printable
// code point. Bytes 33-126, 161-172 and 174-255 map to themselves, the
// other 68 to U+0100..U+0143 in byte order (space is U+0120 "Ġ").
var bpeByteRune = func() (m [256]rune) {
	n := rune(0)
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			m[b] = rune(b)
		} else {
			m[b] = 256 + n
			n++
		}
	}
	return m
}()

// bpeClass is the class of a code point for the GPT-2 pre-tokenizer.
type bpeClass uint8

const (
	bpeSpace  bpeClass = iota // \s: Unicode White_Space
	bpeLetter                 // \p{L}
	bpeNumber                 // \p{N}
	bpeOther                  // [^\s\p{L}\p{N}]
)

// bpeClassOf classifies r as the Python regex module does for GPT-2's
// pattern: \s is exactly Unicode White_Space (not U+001C-001F, U+200B or
// U+FEFF, unlike str.isspace or JavaScript), \p{L} and \p{N} the general
// categories. A byte that is not valid UTF-8 (r = RuneError) is Other.
func bpeClassOf(r rune) bpeClass {
	if r < utf8.RuneSelf {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			return bpeLetter
		case r >= '0' && r <= '9':
			return bpeNumber
		case r == ' ' || r >= '\t' && r <= '\r':
			return bpeSpace
		}
		return bpeOther
	}
	switch {
	case unicode.IsLetter(r):
		return bpeLetter
	case unicode.IsNumber(r):
		return bpeNumber
	case unicode.Is(unicode.White_Space, r):
		return bpeSpace
	}
	return bpeOther
}

// bpeRuneAt decodes the code point at s[i]; an invalid byte is RuneError
// of size 1.
func bpeRuneAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// bpeContraction returns the length of the contraction that s starts with
// ('s 't 're 've 'm 'll 'd, lower case only), or 0.
func bpeContraction(s string) int {
	if len(s) < 2 || s[0] != '\'' {
		return 0
	}
	switch s[1] {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v':
		if len(s) >= 3 && s[2] == 'e' {
			return 3
		}
	case 'l':
		if len(s) >= 3 && s[2] == 'l' {
			return 3
		}
	}
	return 0
}

// bpeNextPiece returns the length in bytes of the GPT-2 pre-tokenizer
// match at the start of s (s not empty), the first match of
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// The alternatives are tried in order, so a space (U+0020 only) joins the
// letters, digits or other characters that follow it; a run of whitespace
// followed by a non-space gives up its last character to the next match
// (\s+(?!\S) backtracks one step), and a single such character is a match
// of its own (\s+). Every code point belongs to exactly one class, so the
// matches tile the text.
func bpeNextPiece(s string) int {
	if n := bpeContraction(s); n > 0 {
		return n
	}
	r, size := bpeRuneAt(s, 0)
	class := bpeClassOf(r)
	if r == ' ' && size < len(s) {
		if r2, size2 := bpeRuneAt(s, size); bpeClassOf(r2) != bpeSpace {
			class = bpeClassOf(r2)
			size += size2
		}
	}
	if class != bpeSpace {
		i := size
		for i < len(s) {
			r, n := bpeRuneAt(s, i)
			if bpeClassOf(r) != class {
				break
			}
			i += n
		}
		return i
	}
	// A whitespace run: all of it at the end of the text, else all but its
	// last character, else (one character before a non-space) that one.
	i, last := 0, 0
	for i < len(s) {
		r, n := bpeRuneAt(s, i)
		if bpeClassOf(r) != bpeSpace {
			if last > 0 {
				return last
			}
			return i
		}
		last = i
		i += n
	}
	return i
}

// bpePretokenize appends GPT-2's pre-tokenization pieces of s to dst.
func bpePretokenize(dst []string, s string) []string {
	for len(s) > 0 {
		n := bpeNextPiece(s)
		dst = append(dst, s[:n])
		s = s[n:]
	}
	return dst
}
