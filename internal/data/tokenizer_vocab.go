package data

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mixft/mixft/internal/fsutil"
)

// Vocab maps WordPiece tokens to ids, as read from a BERT vocab.txt: one
// token per line, id = 0-based line number.
//
// It follows tokenization.py's load_vocab: every line is a token, empty
// lines included; lines end at "\n" and each line is trimmed of leading and
// trailing whitespace (Python's str.strip(), which also removes a trailing
// "\r"). When a token occurs on several lines, looking it up gives the id of
// its last line (load_vocab's dict assignment); Token(id) still returns the
// token of every line.
type Vocab struct {
	tokens []string       // id -> token, one per line
	ids    map[string]int // token -> id; a later duplicate wins
	// cont maps the rest of each "##"-prefixed token (the WordPiece
	// continuation form) to its id, so that the greedy matcher can look
	// up slices of a word without building "##"+piece strings.
	cont map[string]int
	// maxLen and maxContLen are the longest keys of ids and cont, in bytes.
	maxLen, maxContLen int
}

// NewVocab builds a Vocab whose ids are the indexes of tokens. The tokens
// are used as given (not trimmed); duplicates behave as in LoadVocab.
func NewVocab(tokens []string) *Vocab {
	v := &Vocab{
		tokens: append([]string(nil), tokens...),
		ids:    make(map[string]int, len(tokens)),
		cont:   make(map[string]int),
	}
	for id, tok := range v.tokens {
		v.ids[tok] = id
		v.maxLen = max(v.maxLen, len(tok))
		if rest, ok := strings.CutPrefix(tok, "##"); ok {
			v.cont[rest] = id
			v.maxContLen = max(v.maxContLen, len(rest))
		}
	}
	return v
}

// LoadVocab reads a vocab.txt file (UTF-8, one token per line). An empty
// file or a line that is not valid UTF-8 is an error; errors name the file.
func LoadVocab(path string) (*Vocab, error) {
	b, err := fsutil.ReadFile(path, fsutil.MaxVocab)
	if err != nil {
		return nil, fmt.Errorf("load vocab: %w", err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("load vocab %s: file is empty", path)
	}
	n := bytes.Count(b, []byte{'\n'})
	if b[len(b)-1] != '\n' {
		n++
	}
	tokens := make([]string, 0, n)
	s := string(b)
	for line := 1; len(s) > 0; line++ {
		tok, rest, _ := strings.Cut(s, "\n")
		s = rest
		if !utf8.ValidString(tok) {
			return nil, fmt.Errorf("load vocab %s: line %d is not valid UTF-8", path, line)
		}
		tokens = append(tokens, strings.TrimFunc(tok, tokPySpace))
	}
	return NewVocab(tokens), nil
}

// ID returns the id of tok and whether tok is in the vocabulary.
func (v *Vocab) ID(tok string) (int, bool) {
	id, ok := v.ids[tok]
	return id, ok
}

// Token returns the token of line id, or "" when id is out of range.
func (v *Vocab) Token(id int) string {
	if id < 0 || id >= len(v.tokens) {
		return ""
	}
	return v.tokens[id]
}

// Len returns the number of ids (lines), which is what a model's
// vocab_size must cover; it exceeds the number of distinct tokens when the
// file has duplicates.
func (v *Vocab) Len() int { return len(v.tokens) }
