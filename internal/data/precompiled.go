package data

// This file reads SentencePiece's precompiled character map (the
// normalizer_spec.precompiled_charsmap of a model, the "Precompiled"
// normalizer of a tokenizer.json) and applies it. The blob is a
// little-endian uint32 n, then n bytes of a double-array trie (darts-clone
// units, one uint32 each) over UTF-8 byte strings, then a table of
// NUL-terminated replacement strings; a key's trie value is the offset of
// its replacement in the table.

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// charsMap is a decoded precompiled character map.
type charsMap struct {
	units []uint32 // the double-array trie
	table []byte   // NUL-terminated replacements
}

// parseCharsMap decodes a precompiled charsmap blob.
func parseCharsMap(b []byte) (*charsMap, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("precompiled charsmap: %d bytes, shorter than its 4-byte header", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	if n%4 != 0 || uint64(n) > uint64(len(b)-4) || n == 0 {
		return nil, fmt.Errorf("precompiled charsmap: trie size %d does not fit the %d bytes after the header in whole units", n, len(b)-4)
	}
	m := &charsMap{units: make([]uint32, n/4), table: b[4+n:]}
	for i := range m.units {
		m.units[i] = binary.LittleEndian.Uint32(b[4+4*i:])
	}
	return m, nil
}

// Darts-clone unit fields.
func dartsHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func dartsValue(u uint32) uint32  { return u & (1<<31 - 1) }
func dartsLabel(u uint32) uint32  { return u & (1<<31 | 0xff) }
func dartsOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// prefixes calls fn with the length and value of every key of the trie
// that is a prefix of key, shortest first, until fn returns false. A NUL
// byte ends the search when stopAtNUL is set (as Hugging Face's reader
// does); SentencePiece's own search reads it like any byte. A trie that
// points outside itself ends the search.
func (m *charsMap) prefixes(key string, stopAtNUL bool, fn func(n int, value uint32) bool) {
	units := m.units
	pos := dartsOffset(units[0])
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == 0 && stopAtNUL {
			return
		}
		pos ^= uint32(c)
		if int(pos) >= len(units) {
			return
		}
		u := units[pos]
		if dartsLabel(u) != uint32(c) {
			return
		}
		pos ^= dartsOffset(u)
		if int(pos) >= len(units) {
			return
		}
		if dartsHasLeaf(u) && !fn(i+1, dartsValue(units[pos])) {
			return
		}
	}
}

// replacement returns the NUL-terminated string at offset v of the table;
// ok is false when v is outside it.
func (m *charsMap) replacement(v uint32) (string, bool) {
	if int64(v) >= int64(len(m.table)) {
		return "", false
	}
	s := m.table[v:]
	if i := strings.IndexByte(string(s), 0); i >= 0 {
		s = s[:i]
	}
	return string(s), true
}

// longest returns the replacement of the longest key that prefixes s and
// its length in bytes, as SentencePiece's normalizer looks it up (n is 0
// when no key matches).
func (m *charsMap) longest(s string) (repl string, n int) {
	var val uint32
	m.prefixes(s, false, func(l int, v uint32) bool {
		n, val = l, v
		return true
	})
	if n == 0 {
		return "", 0
	}
	r, ok := m.replacement(val)
	if !ok {
		return "", 0
	}
	return r, n
}

// first returns the replacement of the shortest key that prefixes s, as
// Hugging Face's Precompiled normalizer takes it.
func (m *charsMap) first(s string) (string, bool) {
	var val uint32
	found := false
	m.prefixes(s, true, func(_ int, v uint32) bool {
		val, found = v, true
		return false
	})
	if !found {
		return "", false
	}
	return m.replacement(val)
}

// normalizeHF applies the map as Hugging Face tokenizers' Precompiled
// normalizer does: text is cut into extended grapheme clusters; a cluster
// of fewer than 6 bytes that a key prefixes is replaced whole by that
// key's replacement (the shortest key's); otherwise each character is
// replaced by the replacement of the key that prefixes it, or kept.
func (m *charsMap) normalizeHF(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	state := -1
	for s != "" {
		var g string
		g, s, _, state = uniseg.FirstGraphemeClusterInString(s, state)
		if len(g) < 6 {
			if r, ok := m.first(g); ok {
				b.WriteString(r)
				continue
			}
		}
		for g != "" {
			_, n := utf8.DecodeRuneInString(g)
			if r, ok := m.first(g[:n]); ok {
				b.WriteString(r)
			} else {
				b.WriteString(g[:n])
			}
			g = g[n:]
		}
	}
	return b.String()
}
