package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/mixft/mixft/internal/fsutil"
)

// Special token names looked up in the vocabulary.
const (
	PadToken  = "[PAD]"
	UnkToken  = "[UNK]"
	CLSToken  = "[CLS]"
	SEPToken  = "[SEP]"
	MaskToken = "[MASK]"
)

// DefaultMaxInputCharsPerWord is google-research/bert's
// max_input_chars_per_word: longer words become [UNK]. (Hugging Face
// transformers' BertTokenizer uses 100.)
const DefaultMaxInputCharsPerWord = 200

// TokenizerOptions configures a Tokenizer.
type TokenizerOptions struct {
	// DoLowerCase lower-cases (Python str.lower()), NFD-normalizes and
	// strips combining marks (category Mn), as for uncased models.
	DoLowerCase bool
	// MaxInputCharsPerWord: words of more code points become [UNK].
	// 0 means DefaultMaxInputCharsPerWord.
	MaxInputCharsPerWord int
	// SplitSpecialTokens matches the special tokens of the vocabulary
	// ([PAD], [UNK], [CLS], [SEP], [MASK]) written in the text before
	// anything else, exactly as written (not lower-cased), as Hugging
	// Face's BertTokenizerFast does: "[CLS]" in the text becomes the id of
	// [CLS]. Without it, as in google-research/bert, they are text
	// ("[", "cl", "##s", "]"). LoadTokenizer sets it.
	SplitSpecialTokens bool
}

// bertSpecialTokens are the special tokens BertTokenizerFast adds (not
// normalized, no stripping, not single-word) when they are in the
// vocabulary.
var bertSpecialTokens = []string{PadToken, UnkToken, CLSToken, SEPToken, MaskToken}

// Tokenizer is google-research/bert's FullTokenizer: BasicTokenizer
// (cleaning, CJK splitting, whitespace splitting, optional lower-casing and
// accent stripping, punctuation splitting) followed by greedy
// longest-match-first WordPiece; with added tokens (SplitSpecialTokens,
// or a tokenizer.json's added_tokens) those are first split out of the
// text as Hugging Face's fast tokenizers split them. It is safe for
// concurrent use.
//
// Input that is not valid UTF-8 is treated like convert_to_unicode's
// decode("utf-8", "ignore"): the invalid bytes are dropped.
type Tokenizer struct {
	vocab    *Vocab
	lower    bool
	maxChars int
	unkTok   string
	unk      int32
	cls      int32
	sep      int32
	pad      int32
	mask     int32 // -1 when the vocabulary has no [MASK]
	// added are the tokens split out of the text first (see added.go).
	added addedVocab
}

// NewTokenizer builds a Tokenizer over v. The vocabulary must contain
// [UNK], [CLS], [SEP] and [PAD]; [MASK] is optional.
func NewTokenizer(v *Vocab, opt TokenizerOptions) (*Tokenizer, error) {
	if v == nil {
		return nil, errors.New("new tokenizer: nil vocab")
	}
	if opt.MaxInputCharsPerWord < 0 {
		return nil, fmt.Errorf("new tokenizer: MaxInputCharsPerWord %d is negative", opt.MaxInputCharsPerWord)
	}
	t := &Tokenizer{
		vocab:    v,
		lower:    opt.DoLowerCase,
		maxChars: opt.MaxInputCharsPerWord,
		mask:     -1,
	}
	if t.maxChars == 0 {
		t.maxChars = DefaultMaxInputCharsPerWord
	}
	for _, sp := range []struct {
		name string
		dst  *int32
	}{{UnkToken, &t.unk}, {CLSToken, &t.cls}, {SEPToken, &t.sep}, {PadToken, &t.pad}} {
		id, ok := v.ID(sp.name)
		if !ok {
			return nil, fmt.Errorf("new tokenizer: vocabulary has no %s token", sp.name)
		}
		*sp.dst = int32(id)
	}
	if id, ok := v.ID(MaskToken); ok {
		t.mask = int32(id)
	}
	t.unkTok = v.Token(int(t.unk))
	if opt.SplitSpecialTokens {
		var added []addedToken
		for _, name := range bertSpecialTokens {
			if id, ok := v.ID(name); ok {
				added = append(added, addedToken{content: name, id: int32(id)})
			}
		}
		t.setAdded(added)
	}
	return t, nil
}

// setAdded makes the tokenizer split tokens out of the text first, the
// normalized ones matched in BertNormalizer's output.
func (t *Tokenizer) setAdded(tokens []addedToken) {
	t.added = newAddedVocab(tokens, t.normalize)
}

// normalize is Hugging Face's BertNormalizer with clean_text and
// handle_chinese_chars, lower-casing and accent stripping as the
// tokenizer's: control characters dropped, whitespace made spaces, CJK
// characters spaced, then (DoLowerCase) lower-cased, NFD, marks dropped.
// The basic tokenizer does the same on the way, so normalized text
// tokenizes as the raw text would.
func (t *Tokenizer) normalize(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r == 0 || r == utf8.RuneError || tokIsControl(r):
		case tokIsWhitespace(r):
			b = append(b, ' ')
		case tokIsChinese(r):
			b = append(b, ' ')
			b = utf8.AppendRune(b, r)
			b = append(b, ' ')
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	if !t.lower {
		return string(b)
	}
	low := norm.NFD.Bytes(tokAppendPyLower(nil, b))
	out := low[:0]
	for i := 0; i < len(low); {
		r, size := utf8.DecodeRune(low[i:])
		if r >= utf8.RuneSelf && unicode.Is(unicode.Mn, r) {
			i += size
			continue
		}
		out = append(out, low[i:i+size]...)
		i += size
	}
	return string(out)
}

// Vocab returns the tokenizer's vocabulary.
func (t *Tokenizer) Vocab() *Vocab { return t.vocab }

// DoLowerCase reports whether the tokenizer lower-cases its input.
func (t *Tokenizer) DoLowerCase() bool { return t.lower }

// MaxInputCharsPerWord returns the longest word (in code points) that
// WordPiece splits; longer words become [UNK].
func (t *Tokenizer) MaxInputCharsPerWord() int { return t.maxChars }

// UnkID returns the id of [UNK].
func (t *Tokenizer) UnkID() int32 { return t.unk }

// CLSID returns the id of [CLS].
func (t *Tokenizer) CLSID() int32 { return t.cls }

// SEPID returns the id of [SEP].
func (t *Tokenizer) SEPID() int32 { return t.sep }

// PadID returns the id of [PAD].
func (t *Tokenizer) PadID() int32 { return t.pad }

// MaskID returns the id of [MASK] and whether the vocabulary has one.
func (t *Tokenizer) MaskID() (int32, bool) { return t.mask, t.mask >= 0 }

// tokBasic holds the output of the basic tokenizer: the tokens
// concatenated in buf, token i being buf[ends[i-1]:ends[i]].
type tokBasic struct {
	buf  []byte
	ends []int
	// scratch buffers for one word
	word, low, nfd []byte
}

// tokBasicPool recycles the basic tokenizer's buffers between calls.
var tokBasicPool = sync.Pool{New: func() any { return new(tokBasic) }}

// tokPutBasic returns b to the pool unless one huge text grew its buffers.
func tokPutBasic(b *tokBasic) {
	if cap(b.buf) <= 1<<16 && cap(b.word) <= 1<<16 && cap(b.nfd) <= 1<<16 && cap(b.low) <= 1<<16 {
		tokBasicPool.Put(b)
	}
}

func (b *tokBasic) token(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.buf[start:b.ends[i]]
}

// closeToken ends the token being written to buf, if it is not empty.
func (b *tokBasic) closeToken() {
	last := 0
	if n := len(b.ends); n > 0 {
		last = b.ends[n-1]
	}
	if len(b.buf) > last {
		b.ends = append(b.ends, len(b.buf))
	}
}

// basic runs BasicTokenizer.tokenize on text, leaving the tokens in b.
func (t *Tokenizer) basic(text string, b *tokBasic) {
	b.buf = b.buf[:0]
	b.ends = b.ends[:0]
	b.word = b.word[:0]
	// _clean_text, _tokenize_chinese_chars and whitespace_tokenize in one
	// pass: words are runs of kept characters between whitespace (after
	// cleaning, \t \n \r and Zs are spaces; str.split() adds U+2028/U+2029
	// among the characters that survive cleaning) and CJK characters.
	for i := 0; i < len(text); {
		r := rune(text[i])
		size := 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		i += size
		switch {
		case r == 0 || r == utf8.RuneError || tokIsControl(r):
			// deleted (an invalid byte also decodes to RuneError)
		case tokIsWhitespace(r) || tokPySpace(r):
			t.basicWord(b)
		case tokIsChinese(r):
			t.basicWord(b)
			b.word = utf8.AppendRune(b.word, r)
			t.basicWord(b)
		case size == 1:
			b.word = append(b.word, byte(r))
		default:
			b.word = append(b.word, text[i-size:i]...)
		}
	}
	t.basicWord(b)
}

// basicWord lower-cases and strips accents of the word in b.word (when
// DoLowerCase), splits it on punctuation and appends the pieces to b.
func (t *Tokenizer) basicWord(b *tokBasic) {
	w := b.word
	if len(w) == 0 {
		return
	}
	b.word = b.word[:0]
	if t.lower {
		ascii := true
		for _, c := range w {
			if c >= utf8.RuneSelf {
				ascii = false
				break
			}
		}
		if ascii {
			b.low = append(b.low[:0], w...)
			for i, c := range b.low {
				if c >= 'A' && c <= 'Z' {
					b.low[i] = c + ('a' - 'A')
				}
			}
		} else {
			// str.lower(), then _run_strip_accents: NFD and drop Mn.
			b.low = tokAppendPyLower(b.low[:0], w)
			b.nfd = norm.NFD.Append(b.nfd[:0], b.low...)
			b.low = b.low[:0]
			for i := 0; i < len(b.nfd); {
				r, size := utf8.DecodeRune(b.nfd[i:])
				if r < utf8.RuneSelf || !unicode.Is(unicode.Mn, r) {
					b.low = append(b.low, b.nfd[i:i+size]...)
				}
				i += size
			}
		}
		w = b.low
	}
	// _run_split_on_punc, then the final whitespace_tokenize (a no-op
	// unless a character turned into whitespace above).
	for i := 0; i < len(w); {
		r := rune(w[i])
		size := 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(w[i:])
		}
		switch {
		case tokIsPunct(r):
			b.closeToken()
			b.buf = append(b.buf, w[i:i+size]...)
			b.closeToken()
		case tokPySpace(r):
			b.closeToken()
		default:
			b.buf = append(b.buf, w[i:i+size]...)
		}
		i += size
	}
	b.closeToken()
}

// BasicTokens returns the output of BasicTokenizer.tokenize: text cleaned,
// split on whitespace, around CJK characters and punctuation, and (with
// DoLowerCase) lower-cased with accents removed.
func (t *Tokenizer) BasicTokens(text string) []string {
	b := tokBasicPool.Get().(*tokBasic)
	defer tokPutBasic(b)
	t.basic(text, b)
	s := string(b.buf)
	out := make([]string, len(b.ends))
	start := 0
	for i, end := range b.ends {
		out[i] = s[start:end]
		start = end
	}
	return out
}

// wordpiece appends the WordPiece tokens of one basic token and their ids.
// A word longer than MaxInputCharsPerWord code points, or one that the
// vocabulary cannot cover, gives a single [UNK].
func (t *Tokenizer) wordpiece(word []byte, toks []string, ids []int32) ([]string, []int32) {
	if utf8.RuneCount(word) > t.maxChars {
		return append(toks, t.unkTok), append(ids, t.unk)
	}
	v := t.vocab
	mark := len(toks)
	for start := 0; start < len(word); {
		m, maxLen := v.ids, v.maxLen
		if start > 0 {
			m, maxLen = v.cont, v.maxContLen
		}
		// Longest match first. Slices longer than every vocabulary key
		// cannot match, so start from the longest possible one.
		end := len(word)
		if end-start > maxLen {
			end = start + maxLen
			for end > start && !utf8.RuneStart(word[end]) {
				end--
			}
		}
		id := -1
		for end > start {
			if got, ok := m[string(word[start:end])]; ok {
				id = got
				break
			}
			_, size := utf8.DecodeLastRune(word[start:end])
			end -= size
		}
		if id < 0 {
			toks, ids = toks[:mark], ids[:mark]
			return append(toks, t.unkTok), append(ids, t.unk)
		}
		toks = append(toks, v.tokens[id])
		ids = append(ids, int32(id))
		start = end
	}
	return toks, ids
}

// tokenizeIDs runs the full tokenizer and returns the tokens and their ids:
// the added tokens split out first, then every other piece through the
// basic tokenizer and WordPiece.
func (t *Tokenizer) tokenizeIDs(text string) ([]string, []int32) {
	b := tokBasicPool.Get().(*tokBasic)
	defer tokPutBasic(b)
	pieces := t.added.split(text)
	if len(pieces) == 1 && pieces[0].id < 0 { // no added token in the text
		t.basic(pieces[0].text, b)
		toks := make([]string, 0, len(b.ends)+len(b.ends)/2)
		ids := make([]int32, 0, cap(toks))
		for i := range b.ends {
			toks, ids = t.wordpiece(b.token(i), toks, ids)
		}
		return toks, ids
	}
	var toks []string
	var ids []int32
	for _, p := range pieces {
		if p.id >= 0 {
			toks, ids = append(toks, t.vocab.Token(int(p.id))), append(ids, p.id)
			continue
		}
		t.basic(p.text, b)
		for i := range b.ends {
			toks, ids = t.wordpiece(b.token(i), toks, ids)
		}
	}
	return toks, ids
}

// Tokenize returns FullTokenizer.tokenize(text): the WordPiece tokens of
// every basic token, continuations prefixed with "##".
func (t *Tokenizer) Tokenize(text string) []string {
	toks, _ := t.tokenizeIDs(text)
	return toks
}

// ConvertTokensToIDs maps tokens to their ids; a token that is not in the
// vocabulary gets the id of [UNK].
func (t *Tokenizer) ConvertTokensToIDs(toks []string) []int32 {
	ids := make([]int32, len(toks))
	for i, tok := range toks {
		if id, ok := t.vocab.ids[tok]; ok {
			ids[i] = int32(id)
		} else {
			ids[i] = t.unk
		}
	}
	return ids
}

// Encoding is one example encoded in its tokenizer's layout, [CLS] a [SEP]
// (b [SEP]) for WordPiece and <s> a </s> (</s> b </s>) for byte-level BPE,
// not padded: every slice has one entry per real token.
type Encoding struct {
	Tokens        []string
	InputIDs      []int32
	TokenTypeIDs  []int32 // WordPiece: 0 for [CLS] a [SEP], 1 for b [SEP]; BPE: all 0
	AttentionMask []int32 // all 1 until Padded
}

// EncodePair encodes a sentence pair as run_classifier.py's
// convert_single_example does. When b has no tokens (b == "" included) the
// result is the single sentence [CLS] a [SEP], a cut to maxSeqLen-2 tokens.
// Otherwise a and b are truncated longest-first (_truncate_seq_pair: drop
// the last token of the longer one, of b when they are equal) until they
// fit in maxSeqLen-3 tokens; if that leaves b empty (only possible when
// maxSeqLen <= 3) the b segment is omitted entirely, as in Python. Budgets
// below zero count as zero, so a maxSeqLen below 2 still gives [CLS] [SEP],
// longer than maxSeqLen (where Python would raise or slice from the end).
func (t *Tokenizer) EncodePair(a, b string, maxSeqLen int) Encoding {
	ta, ia := t.tokenizeIDs(a)
	var tb []string
	var ib []int32
	if b != "" {
		tb, ib = t.tokenizeIDs(b)
	}
	if len(tb) > 0 {
		budget := max(maxSeqLen-3, 0)
		for len(ta)+len(tb) > budget {
			if len(ta) > len(tb) {
				ta, ia = ta[:len(ta)-1], ia[:len(ia)-1]
			} else {
				tb, ib = tb[:len(tb)-1], ib[:len(ib)-1]
			}
		}
	} else if budget := max(maxSeqLen-2, 0); len(ta) > budget {
		ta, ia = ta[:budget], ia[:budget]
	}
	n := len(ta) + 2
	if len(tb) > 0 {
		n += len(tb) + 1
	}
	e := Encoding{
		Tokens:        make([]string, 0, n),
		InputIDs:      make([]int32, 0, n),
		TokenTypeIDs:  make([]int32, n),
		AttentionMask: make([]int32, n),
	}
	e.Tokens = append(e.Tokens, t.vocab.Token(int(t.cls)))
	e.Tokens = append(e.Tokens, ta...)
	e.Tokens = append(e.Tokens, t.vocab.Token(int(t.sep)))
	e.InputIDs = append(e.InputIDs, t.cls)
	e.InputIDs = append(e.InputIDs, ia...)
	e.InputIDs = append(e.InputIDs, t.sep)
	if len(tb) > 0 {
		e.Tokens = append(e.Tokens, tb...)
		e.Tokens = append(e.Tokens, t.vocab.Token(int(t.sep)))
		e.InputIDs = append(e.InputIDs, ib...)
		e.InputIDs = append(e.InputIDs, t.sep)
		for i := len(ta) + 2; i < n; i++ {
			e.TokenTypeIDs[i] = 1
		}
	}
	for i := range e.AttentionMask {
		e.AttentionMask[i] = 1
	}
	return e
}

// Padded returns a copy of e with InputIDs, TokenTypeIDs and AttentionMask
// extended to length n: input ids padID, type ids 0, mask 0. Tokens is
// copied unpadded. An encoding already n or more long is copied unchanged.
func (e Encoding) Padded(n int, padID int32) Encoding {
	m := max(n, len(e.InputIDs))
	p := Encoding{
		Tokens:        append([]string(nil), e.Tokens...),
		InputIDs:      make([]int32, m),
		TokenTypeIDs:  make([]int32, m),
		AttentionMask: make([]int32, m),
	}
	copy(p.InputIDs, e.InputIDs)
	copy(p.TokenTypeIDs, e.TokenTypeIDs)
	copy(p.AttentionMask, e.AttentionMask)
	for i := len(e.InputIDs); i < m; i++ {
		p.InputIDs[i] = padID
	}
	return p
}

// DetectLowerCase decides lower-casing for a model directory:
// tokenizer_config.json's "do_lower_case" if the file has one (a boolean;
// null counts as absent), else from the model's name: a directory base name
// (then, failing that, the whole path) containing "uncased" means true and
// "cased" means false, case-insensitively; else true, BERT's default.
// source says where the decision came from. A tokenizer_config.json that
// cannot be read or parsed, or whose do_lower_case is not a boolean, is an
// error naming the file.
func DetectLowerCase(modelDir string) (lower bool, source string, err error) {
	cfgPath := filepath.Join(modelDir, tokenizerConfigFile)
	if lower, found, err := configDoLowerCase(cfgPath); err != nil {
		return false, "", err
	} else if found {
		return lower, fmt.Sprintf("%s: do_lower_case=%t", cfgPath, lower), nil
	}
	names := []string{filepath.Base(filepath.Clean(modelDir))}
	if abs, err := filepath.Abs(modelDir); err == nil {
		names = append(names, abs)
	} else {
		names = append(names, modelDir)
	}
	for _, name := range names {
		low := strings.ToLower(name)
		switch {
		case strings.Contains(low, "uncased"):
			return true, fmt.Sprintf("model name %q contains \"uncased\"", name), nil
		case strings.Contains(low, "cased"):
			return false, fmt.Sprintf("model name %q contains \"cased\"", name), nil
		}
	}
	return true, "default (no do_lower_case in tokenizer_config.json, no \"cased\" in the model path): lower-case like BERT", nil
}

// configDoLowerCase reads "do_lower_case" from the tokenizer_config.json
// at cfgPath; found is false when the file or the key is absent (or null).
func configDoLowerCase(cfgPath string) (lower, found bool, err error) {
	raw, err := fsutil.ReadFile(cfgPath, fsutil.MaxConfig)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, false, nil
	case err != nil:
		return false, false, fmt.Errorf("detect lower case: %w", err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return false, false, fmt.Errorf("detect lower case: %s: %w", cfgPath, err)
	}
	v, ok := cfg["do_lower_case"]
	if !ok || string(v) == "null" {
		return false, false, nil
	}
	if err := json.Unmarshal(v, &lower); err != nil {
		return false, false, fmt.Errorf("detect lower case: %s: do_lower_case is %s, not a boolean", cfgPath, v)
	}
	return lower, true, nil
}

// LoadTokenizer builds the tokenizer of a model directory from its
// vocab.txt. Lower-casing is *lowerOverride when it is not nil, else
// DetectLowerCase(modelDir). MaxInputCharsPerWord is the default (200).
// Special tokens written in the text are matched as BertTokenizerFast
// matches them (TokenizerOptions.SplitSpecialTokens).
func LoadTokenizer(modelDir string, lowerOverride *bool) (*Tokenizer, error) {
	v, err := LoadVocab(filepath.Join(modelDir, WordPieceVocabFile))
	if err != nil {
		return nil, err
	}
	var lower bool
	if lowerOverride != nil {
		lower = *lowerOverride
	} else if lower, _, err = DetectLowerCase(modelDir); err != nil {
		return nil, err
	}
	return NewTokenizer(v, TokenizerOptions{DoLowerCase: lower, SplitSpecialTokens: true})
}
