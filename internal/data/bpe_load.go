package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mixft/mixft/internal/fsutil"
)

// Tokenizer files in a model directory.
const (
	WordPieceVocabFile  = "vocab.txt"
	BPEVocabFile        = "vocab.json"
	BPEMergesFile       = "merges.txt"
	TokenizerJSONFile   = "tokenizer.json"
	tokenizerConfigFile = "tokenizer_config.json"
)

// bpeSpecialKeys are the tokenizer_config.json keys of RobertaTokenizer's
// special tokens, with their defaults.
var bpeSpecialKeys = []struct{ key, def string }{
	{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"sep_token", "</s>"},
	{"pad_token", "<pad>"}, {"cls_token", "<s>"}, {"mask_token", "<mask>"},
}

// bpeConfig is what the BPE loaders take from tokenizer_config.json.
type bpeConfig struct {
	special map[string]addedToken // by key (bos_token, ...); id unset
	given   map[string]bool       // the keys the file sets
	extra   []addedToken          // additional_special_tokens
	// addPrefixSpace is the file's add_prefix_space (default false).
	addPrefixSpace bool
}

// jsonError turns a decoding error of the file at path (contents b) into
// one line naming the file and the line or key.
func jsonError(path string, b []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte{'\n'})
		return fmt.Errorf("%s: line %d: invalid JSON: %v", path, line, se)
	case errors.As(err, &te):
		return fmt.Errorf("%s: key %q: expected %s, got JSON %s", path, te.Field, te.Type, te.Value)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// readJSON decodes the JSON file at path, a regular file of at most limit
// bytes (fsutil.ReadFile), into v; a missing file is reported with
// fs.ErrNotExist.
func readJSON(path string, limit int64, v any) error {
	b, err := fsutil.ReadFile(path, limit)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return jsonError(path, b, err)
	}
	return nil
}

// parseAddedToken reads a special token given as a string or as an
// AddedToken object ({"content": ..., "lstrip": ...}). def holds the
// flags a plain string gets.
func parseAddedToken(path, key string, raw json.RawMessage, def addedToken) (addedToken, error) {
	t := def
	if err := json.Unmarshal(raw, &t.content); err == nil {
		return t, nil
	}
	var obj struct {
		Content    *string `json:"content"`
		SingleWord bool    `json:"single_word"`
		Lstrip     bool    `json:"lstrip"`
		Rstrip     bool    `json:"rstrip"`
		Normalized *bool   `json:"normalized"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == nil {
		return t, fmt.Errorf("%s: key %q: expected a string or an object with \"content\", got %s", path, key, bpeShort(string(raw)))
	}
	t.content, t.singleWord, t.lstrip, t.rstrip = *obj.Content, obj.SingleWord, obj.Lstrip, obj.Rstrip
	if obj.Normalized != nil {
		t.normalized = *obj.Normalized
	}
	return t, nil
}

// bpeShort shortens s for an error message.
func bpeShort(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// readBPEConfig reads dir/tokenizer_config.json; a missing file gives the
// defaults (RobertaTokenizer's special tokens, <mask> with lstrip).
func readBPEConfig(dir string) (bpeConfig, error) {
	path := filepath.Join(dir, tokenizerConfigFile)
	var raw map[string]json.RawMessage
	if err := readJSON(path, fsutil.MaxConfig, &raw); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return bpeConfig{}, err
	}
	cfg := bpeConfig{special: make(map[string]addedToken, len(bpeSpecialKeys)), given: map[string]bool{}}
	for _, sk := range bpeSpecialKeys {
		def := addedToken{content: sk.def, normalized: true}
		if sk.key == "mask_token" {
			// RobertaTokenizer makes a plain mask_token string
			// AddedToken(lstrip=True), not normalized.
			def.lstrip, def.normalized = true, false
		}
		tok := def
		if v, ok := raw[sk.key]; ok && string(v) != "null" {
			var err error
			if tok, err = parseAddedToken(path, sk.key, v, def); err != nil {
				return bpeConfig{}, err
			}
			cfg.given[sk.key] = true
		}
		cfg.special[sk.key] = tok
	}
	if v, ok := raw["additional_special_tokens"]; ok && string(v) != "null" {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			return bpeConfig{}, fmt.Errorf("%s: key \"additional_special_tokens\": expected a list, got %s", path, bpeShort(string(v)))
		}
		for i, item := range list {
			tok, err := parseAddedToken(path, fmt.Sprintf("additional_special_tokens[%d]", i), item, addedToken{normalized: true})
			if err != nil {
				return bpeConfig{}, err
			}
			cfg.extra = append(cfg.extra, tok)
		}
	}
	if v, ok := raw["add_prefix_space"]; ok && string(v) != "null" {
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return bpeConfig{}, fmt.Errorf("%s: key \"add_prefix_space\": expected a boolean, got %s", path, bpeShort(string(v)))
		}
		cfg.addPrefixSpace = b
	}
	return cfg, nil
}

// parseJSONVocabObject reads tokenizer.json's model.vocab as an object
// token -> id.
func parseJSONVocabObject(path string, raw json.RawMessage) (map[string]int32, error) {
	where := path + ": key \"model.vocab\""
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%s: expected an object token -> id, got %s", where, bpeShort(string(raw)))
	}
	return parseJSONVocab(where, obj)
}

// maxTokenID bounds the ids a vocabulary file may give (2^24, the largest
// vocab_size a model config may have).
const maxTokenID = 1 << 24

// parseJSONVocab reads a token -> id object; where names it in errors
// ("vocab.json", "tokenizer.json: key \"model.vocab\"").
func parseJSONVocab(where string, raw map[string]json.RawMessage) (map[string]int32, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s: the vocabulary is empty", where)
	}
	vocab := make(map[string]int32, len(raw))
	var bad []string
	for tok, v := range raw {
		id, err := strconv.ParseInt(string(v), 10, 32)
		if err != nil || id < 0 || id >= maxTokenID {
			bad = append(bad, tok)
			continue
		}
		vocab[tok] = int32(id)
	}
	if len(bad) > 0 {
		tok := slices.Min(bad)
		return nil, fmt.Errorf("%s: token %q: id %s is not an integer in [0, %d)", where, tok, bpeShort(string(raw[tok])), maxTokenID)
	}
	return vocab, nil
}

// vocabByID returns the tokens of a token -> id vocabulary in id order.
// The ids must be 0..n-1, each once (as vocab.txt's line numbers are): two
// tokens on one id or an id past the end would give ids the model does not
// mean, so either is an error naming where and the tokens.
func vocabByID(where string, vocab map[string]int32) ([]string, error) {
	n := len(vocab)
	tokens := make([]string, n)
	filled := make([]bool, n)
	ok := true
	for tok, id := range vocab {
		if int(id) >= n || filled[id] {
			ok = false
			break
		}
		tokens[id], filled[id] = tok, true
	}
	if ok {
		return tokens, nil
	}
	// Report the first problem in token order, so that the message does
	// not depend on map order.
	names := slices.Sorted(maps.Keys(vocab))
	byID := make(map[int32]string, n)
	for _, tok := range names {
		id := vocab[tok]
		if other, dup := byID[id]; dup {
			return nil, fmt.Errorf("%s: tokens %q and %q both have id %d; each id must name one token", where, other, tok, id)
		}
		byID[id] = tok
	}
	for _, tok := range names {
		if id := vocab[tok]; int(id) >= n {
			return nil, fmt.Errorf("%s: token %q has id %d, out of range for %d tokens (the ids must be 0..%d, each once)", where, tok, id, n, n-1)
		}
	}
	return nil, fmt.Errorf("%s: the ids are not 0..%d, each once", where, n-1)
}

// bpeMergeLine is one merge rule as read, with where it came from.
type bpeMergeLine struct {
	a, b  string
	where string
}

// noMerges is the error for a byte-level BPE given no merges (a missing
// or empty list): it would silently give every byte its own id.
const noMerges = "no merges (missing or empty); a byte-level BPE without its merges would give every byte its own id"

// readMergesTxt reads merges.txt: "#version" lines are skipped, every
// other line is one merge "a b", rank in file order (tokenizers' reader).
func readMergesTxt(path string) ([]bpeMergeLine, error) {
	b, err := fsutil.ReadFile(path, fsutil.MaxVocab)
	if err != nil {
		return nil, err
	}
	var lines []string
	if s := strings.TrimSuffix(string(b), "\n"); s != "" {
		lines = strings.Split(s, "\n")
	}
	merges := make([]bpeMergeLine, 0, len(lines))
	for i, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if strings.HasPrefix(line, "#version") {
			continue
		}
		a, c, ok := strings.Cut(line, " ")
		if !ok || a == "" || c == "" || strings.Contains(c, " ") {
			return nil, fmt.Errorf("%s: line %d: expected a merge \"a b\" (two tokens separated by one space), got %q", path, i+1, bpeShort(line))
		}
		merges = append(merges, bpeMergeLine{a, c, fmt.Sprintf("%s: line %d", path, i+1)})
	}
	return merges, nil
}

// placeAdded puts the added tokens in the id -> token table of vocab
// (vocabName and addedName name them in errors): an added token in the
// vocabulary must have the vocabulary's id; one not in it needs an id of
// its own past the vocabulary's, and the ids together must leave none
// unnamed.
func placeAdded(vocabName, addedName string, vocab map[string]int32, tokens []string, added []addedToken) ([]string, error) {
	for _, a := range added {
		if id, ok := vocab[a.content]; ok {
			if id != a.id {
				return nil, fmt.Errorf("%s: added token %q has id %d, but %s gives it id %d", addedName, a.content, a.id, vocabName, id)
			}
			continue
		}
		if int(a.id) < len(vocab) {
			return nil, fmt.Errorf("%s: added token %q has id %d, which is %q's in %s; each id must name one token", addedName, a.content, a.id, tokens[a.id], vocabName)
		}
		for int(a.id) >= len(tokens) {
			tokens = append(tokens, "")
		}
		if old := tokens[a.id]; old != "" && old != a.content {
			return nil, fmt.Errorf("%s: added tokens %q and %q both have id %d; each id must name one token", addedName, old, a.content, a.id)
		}
		tokens[a.id] = a.content
	}
	if i := slices.Index(tokens, ""); i >= 0 && i >= len(vocab) {
		return nil, fmt.Errorf("%s: id %d names no token (%s has ids 0..%d, the added tokens go up to %d); the ids must leave no gap", addedName, i, vocabName, len(vocab)-1, len(tokens)-1)
	}
	return tokens, nil
}

// newBPE builds a tokenizer over vocab and merges with the added tokens
// (ids set). vocabName names the vocabulary in errors, addedName where the
// added tokens come from. The vocabulary's ids must be 0..n-1, each once
// (vocabByID); an added token has its vocabulary id when it is in the
// vocabulary, else an id of its own past the vocabulary's, and the ids
// together leave none unnamed.
func newBPE(vocabName, addedName string, vocab map[string]int32, merges []bpeMergeLine, added []addedToken, addPrefixSpace bool) (*BPETokenizer, error) {
	tokens, err := vocabByID(vocabName, vocab)
	if err != nil {
		return nil, err
	}
	if tokens, err = placeAdded(vocabName, addedName, vocab, tokens, added); err != nil {
		return nil, err
	}
	t := &BPETokenizer{
		tokens:         tokens,
		merges:         make(map[[2]int32]bpeMerge, len(merges)),
		addPrefixSpace: addPrefixSpace,
		pairSeps:       2,
		cache:          make(map[string][]int32),
	}
	for b := range 256 {
		s := string(bpeByteRune[b])
		id, ok := vocab[s]
		if !ok {
			return nil, fmt.Errorf("%s: no token %q for byte 0x%02x: not a byte-level BPE vocabulary", vocabName, s, b)
		}
		t.byteID[b] = id
	}
	for rank, m := range merges {
		ia, oka := vocab[m.a]
		ib, okb := vocab[m.b]
		id, okm := vocab[m.a+m.b]
		switch {
		case !oka:
			return nil, fmt.Errorf("%s: merge %q %q: %q is not in %s", m.where, m.a, m.b, m.a, vocabName)
		case !okb:
			return nil, fmt.Errorf("%s: merge %q %q: %q is not in %s", m.where, m.a, m.b, m.b, vocabName)
		case !okm:
			return nil, fmt.Errorf("%s: merge %q %q: the merged token %q is not in %s", m.where, m.a, m.b, m.a+m.b, vocabName)
		}
		// A repeated merge takes its last rank, as in tokenizers and
		// transformers.
		t.merges[[2]int32{ia, ib}] = bpeMerge{int32(rank), id}
	}
	t.added = newAddedVocab(added, nil) // byte-level BPE has no normalizer
	return t, nil
}

// specialID returns the id of tok: an added token's, else the vocabulary's.
func (t *BPETokenizer) specialID(tok string) (int32, bool) {
	if a, ok := t.added.find(tok); ok {
		return a.id, true
	}
	for id, s := range t.tokens {
		if s == tok {
			return int32(id), true
		}
	}
	return 0, false
}

// LoadBPE builds a RoBERTa-style byte-level BPE tokenizer from a model
// directory's vocab.json and merges.txt, with the special tokens of its
// tokenizer_config.json (RobertaTokenizer's defaults <s> </s> <unk> <pad>
// <mask> when the file or a key is absent). Every special token must be in
// vocab.json. Errors name the file and the line or key.
func LoadBPE(dir string) (*BPETokenizer, error) {
	cfg, err := readBPEConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	vocabPath := filepath.Join(dir, BPEVocabFile)
	var raw map[string]json.RawMessage
	if err := readJSON(vocabPath, fsutil.MaxVocab, &raw); err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	vocab, err := parseJSONVocab(vocabPath, raw)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	mergesPath := filepath.Join(dir, BPEMergesFile)
	merges, err := readMergesTxt(mergesPath)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	if len(merges) == 0 {
		return nil, fmt.Errorf("load tokenizer: %s: %s", mergesPath, noMerges)
	}
	var added []addedToken
	cfgPath := filepath.Join(dir, tokenizerConfigFile)
	addSpecial := func(key string, a addedToken) error {
		if a.content == "" {
			return fmt.Errorf("load tokenizer: %s: key %q: the token is empty", cfgPath, key)
		}
		id, ok := vocab[a.content]
		switch {
		case !ok && cfg.given[key]:
			return fmt.Errorf("load tokenizer: %s: key %q: %q is not in %s", cfgPath, key, a.content, vocabPath)
		case !ok:
			return fmt.Errorf("load tokenizer: %s: the default %s %q is not in it (%s names no other)", vocabPath, key, a.content, cfgPath)
		}
		a.id = id
		added = append(added, a)
		return nil
	}
	for _, sk := range bpeSpecialKeys {
		if err := addSpecial(sk.key, cfg.special[sk.key]); err != nil {
			return nil, err
		}
	}
	for i, a := range cfg.extra {
		if err := addSpecial(fmt.Sprintf("additional_special_tokens[%d]", i), a); err != nil {
			return nil, err
		}
	}
	t, err := newBPE(vocabPath, cfgPath, vocab, merges, added, cfg.addPrefixSpace)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	t.cls = vocab[cfg.special["cls_token"].content]
	t.sep = vocab[cfg.special["sep_token"].content]
	t.pad = vocab[cfg.special["pad_token"].content]
	return t, nil
}

// tokenizerJSON is the part of a Hugging Face tokenizer.json that the
// loaders read.
type tokenizerJSON struct {
	AddedTokens []struct {
		ID         *int64 `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
	} `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         struct {
		Type string `json:"type"`
		// Vocab is an object token -> id (BPE, WordPiece) or a list of
		// [piece, score] pairs (Unigram).
		Vocab                   json.RawMessage   `json:"vocab"`
		UnkID                   *int64            `json:"unk_id"`
		ByteFallback            bool              `json:"byte_fallback"`
		UnkToken                *string           `json:"unk_token"`
		MaxInputCharsPerWord    *int              `json:"max_input_chars_per_word"`
		Merges                  []json.RawMessage `json:"merges"`
		Dropout                 *float64          `json:"dropout"`
		ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	} `json:"model"`
}

// jsonAddedTokens reads tokenizer.json's added_tokens, flags included.
func jsonAddedTokens(path string, tj *tokenizerJSON) ([]addedToken, error) {
	added := make([]addedToken, 0, len(tj.AddedTokens))
	for i, a := range tj.AddedTokens {
		key := fmt.Sprintf("%s: key \"added_tokens[%d]\"", path, i)
		switch {
		case a.ID == nil || *a.ID < 0 || *a.ID >= maxTokenID:
			return nil, fmt.Errorf("%s: expected an id in [0, %d)", key, maxTokenID)
		case a.Content == "":
			return nil, fmt.Errorf("%s: the content is empty", key)
		}
		added = append(added, addedToken{content: a.Content, id: int32(*a.ID), singleWord: a.SingleWord, lstrip: a.Lstrip, rstrip: a.Rstrip, normalized: a.Normalized})
	}
	return added, nil
}

// typeOf returns the "type" of a tokenizer.json component ("" for null).
func typeOf(raw json.RawMessage) string {
	var v struct {
		Type string `json:"type"`
	}
	json.Unmarshal(raw, &v)
	return v.Type
}

// readTokenizerJSON decodes dir/tokenizer.json; it returns the file's path.
func readTokenizerJSON(dir string) (*tokenizerJSON, string, error) {
	path := filepath.Join(dir, TokenizerJSONFile)
	var tj tokenizerJSON
	if err := readJSON(path, fsutil.MaxVocab, &tj); err != nil {
		return nil, path, fmt.Errorf("load tokenizer: %w", err)
	}
	return &tj, path, nil
}

// LoadBPETokenizerJSON builds a byte-level BPE tokenizer from a model
// directory's tokenizer.json as transformers' RoBERTa converter writes it:
// model BPE (no subword prefix or suffix, no dropout), no normalizer,
// pre_tokenizer ByteLevel with its regex, post_processor RobertaProcessing
// (its cls and sep), the added_tokens split out of the text. The padding
// token is tokenizer_config.json's pad_token (default <pad>). A space is
// put before each text as tokenizer_config.json's add_prefix_space says
// (default false), whatever the pre-tokenizer's add_prefix_space:
// RobertaTokenizerFast replaces the pre-tokenizer when they differ. Errors
// name the file and the key.
func LoadBPETokenizerJSON(dir string) (*BPETokenizer, error) {
	tj, path, err := readTokenizerJSON(dir)
	if err != nil {
		return nil, err
	}
	return bpeFromJSON(dir, path, tj)
}

// bpeFromJSON checks a decoded tokenizer.json (at path, in dir) and builds
// its BPE tokenizer.
func bpeFromJSON(dir, path string, tj *tokenizerJSON) (*BPETokenizer, error) {
	cfg, err := readBPEConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	t, err := buildBPEJSON(path, tj, cfg)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	return t, nil
}

// buildBPEJSON checks a decoded tokenizer.json and builds it.
func buildBPEJSON(path string, tj *tokenizerJSON, cfg bpeConfig) (*BPETokenizer, error) {
	m := &tj.Model
	if m.Type != "BPE" {
		return nil, fmt.Errorf("%s: key \"model.type\": %q is not supported (only byte-level BPE loads from tokenizer.json)", path, m.Type)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, fmt.Errorf("%s: key \"model.dropout\": BPE dropout %g is not supported", path, *m.Dropout)
	}
	if p := m.ContinuingSubwordPrefix; p != nil && *p != "" {
		return nil, fmt.Errorf("%s: key \"model.continuing_subword_prefix\": %q is not supported (byte-level BPE has none)", path, *p)
	}
	if p := m.EndOfWordSuffix; p != nil && *p != "" {
		return nil, fmt.Errorf("%s: key \"model.end_of_word_suffix\": %q is not supported (byte-level BPE has none)", path, *p)
	}
	nfc := false
	if len(tj.Normalizer) > 0 && string(tj.Normalizer) != "null" {
		if typeOf(tj.Normalizer) != "NFC" {
			return nil, fmt.Errorf("%s: key \"normalizer\": normalizer %q is not supported (expected null, as RoBERTa's, or NFC, as ModernBERT's)", path, typeOf(tj.Normalizer))
		}
		nfc = true
	}
	var pre struct {
		Type           string `json:"type"`
		UseRegex       *bool  `json:"use_regex"`
		AddPrefixSpace bool   `json:"add_prefix_space"`
	}
	if err := json.Unmarshal(tj.PreTokenizer, &pre); err != nil || pre.Type != "ByteLevel" {
		return nil, fmt.Errorf("%s: key \"pre_tokenizer\": expected {\"type\": \"ByteLevel\", ...}, got %s", path, bpeShort(string(tj.PreTokenizer)))
	}
	if pre.UseRegex != nil && !*pre.UseRegex {
		return nil, fmt.Errorf("%s: key \"pre_tokenizer.use_regex\": false is not supported (RoBERTa splits with the GPT-2 pattern)", path)
	}
	var post struct {
		Type string            `json:"type"`
		Sep  []json.RawMessage `json:"sep"`
		Cls  []json.RawMessage `json:"cls"`
	}
	var tmpl *templateSpecials
	if err := json.Unmarshal(tj.PostProcessor, &post); err != nil || (post.Type != "RobertaProcessing" && post.Type != "TemplateProcessing") {
		return nil, fmt.Errorf("%s: key \"post_processor\": expected {\"type\": \"RobertaProcessing\", ...} or ModernBERT's TemplateProcessing, got %s", path, bpeShort(string(tj.PostProcessor)))
	}
	if post.Type == "TemplateProcessing" {
		var err error
		if tmpl, err = parseTemplate(path, tj.PostProcessor); err != nil {
			return nil, err
		}
		// PreTrainedTokenizerFast runs the pre-tokenizer as tokenizer.json
		// gives it: its add_prefix_space, not tokenizer_config.json's.
		cfg.addPrefixSpace = pre.AddPrefixSpace
	}
	vocab, err := parseJSONVocabObject(path, m.Vocab)
	if err != nil {
		return nil, err
	}
	merges := make([]bpeMergeLine, len(m.Merges))
	for i, raw := range m.Merges {
		key := fmt.Sprintf("%s: key \"model.merges[%d]\"", path, i)
		ml := bpeMergeLine{where: key}
		var s string
		var pair []string
		switch {
		case json.Unmarshal(raw, &s) == nil:
			a, b, ok := strings.Cut(s, " ")
			if !ok || a == "" || b == "" || strings.Contains(b, " ") {
				return nil, fmt.Errorf("%s: expected a merge \"a b\", got %q", key, bpeShort(s))
			}
			ml.a, ml.b = a, b
		case json.Unmarshal(raw, &pair) == nil && len(pair) == 2:
			ml.a, ml.b = pair[0], pair[1]
		default:
			return nil, fmt.Errorf("%s: expected \"a b\" or [\"a\", \"b\"], got %s", key, bpeShort(string(raw)))
		}
		merges[i] = ml
	}
	added, err := jsonAddedTokens(path, tj)
	if err != nil {
		return nil, err
	}
	if len(m.Merges) == 0 {
		return nil, fmt.Errorf("%s: key \"model.merges\": %s", path, noMerges)
	}
	t, err := newBPE(path+": key \"model.vocab\"", path+": key \"added_tokens\"", vocab, merges, added, cfg.addPrefixSpace)
	if err != nil {
		return nil, err
	}
	t.nfc = nfc
	if tmpl != nil {
		post.Cls, post.Sep = tmpl.cls, tmpl.sep
		t.pairSeps = 1
	}
	for _, sp := range []struct {
		key string
		raw []json.RawMessage
		dst *int32
	}{{"post_processor.cls", post.Cls, &t.cls}, {"post_processor.sep", post.Sep, &t.sep}} {
		var id int64
		var tok string
		if len(sp.raw) != 2 || json.Unmarshal(sp.raw[0], &tok) != nil || json.Unmarshal(sp.raw[1], &id) != nil || id < 0 || id >= int64(len(t.tokens)) {
			return nil, fmt.Errorf("%s: key %q: expected [token, id] with an id below %d", path, sp.key, len(t.tokens))
		}
		if t.tokens[id] != tok {
			return nil, fmt.Errorf("%s: key %q: id %d is %q, not %q", path, sp.key, id, t.tokens[id], tok)
		}
		*sp.dst = int32(id)
	}
	padTok := cfg.special["pad_token"].content
	var ok bool
	if t.pad, ok = t.specialID(padTok); !ok {
		return nil, fmt.Errorf("%s: the padding token %q (tokenizer_config.json's pad_token) is neither an added token nor in model.vocab", path, padTok)
	}
	return t, nil
}

// templateSpecials are the cls and sep of a TemplateProcessing
// post-processor, as [token, id] pairs (RobertaProcessing's form).
type templateSpecials struct {
	cls, sep []json.RawMessage
}

// parseTemplate checks that a TemplateProcessing post-processor is
// ModernBERT's: single [CLS] $A [SEP], pair [CLS] $A [SEP] $B [SEP], each
// special token one id; other templates are rejected, naming the key.
func parseTemplate(path string, raw json.RawMessage) (*templateSpecials, error) {
	type piece struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID string `json:"id"`
		} `json:"Sequence"`
	}
	var tp struct {
		Single        []piece `json:"single"`
		Pair          []piece `json:"pair"`
		SpecialTokens map[string]struct {
			IDs    []int64  `json:"ids"`
			Tokens []string `json:"tokens"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &tp); err != nil {
		return nil, fmt.Errorf("%s: key \"post_processor\": %v", path, err)
	}
	shape := func(ps []piece) string {
		var b strings.Builder
		for _, p := range ps {
			switch {
			case p.SpecialToken != nil:
				b.WriteString("S:" + p.SpecialToken.ID + " ")
			case p.Sequence != nil:
				b.WriteString("$" + p.Sequence.ID + " ")
			default:
				b.WriteString("? ")
			}
		}
		return b.String()
	}
	bad := fmt.Errorf("%s: key \"post_processor\": TemplateProcessing %q / %q is not supported (expected [CLS] $A [SEP] and [CLS] $A [SEP] $B [SEP])",
		path, shape(tp.Single), shape(tp.Pair))
	if len(tp.Single) != 3 || len(tp.Pair) != 5 || shape(tp.Single) == "" {
		return nil, bad
	}
	s, p := tp.Single, tp.Pair
	if s[0].SpecialToken == nil || s[1].Sequence == nil || s[2].SpecialToken == nil ||
		p[0].SpecialToken == nil || p[1].Sequence == nil || p[2].SpecialToken == nil || p[3].Sequence == nil || p[4].SpecialToken == nil {
		return nil, bad
	}
	cls, sep := s[0].SpecialToken.ID, s[2].SpecialToken.ID
	if s[1].Sequence.ID != "A" || p[1].Sequence.ID != "A" || p[3].Sequence.ID != "B" ||
		p[0].SpecialToken.ID != cls || p[2].SpecialToken.ID != sep || p[4].SpecialToken.ID != sep {
		return nil, bad
	}
	out := &templateSpecials{}
	for _, sp := range []struct {
		name string
		dst  *[]json.RawMessage
	}{{cls, &out.cls}, {sep, &out.sep}} {
		st, ok := tp.SpecialTokens[sp.name]
		if !ok || len(st.IDs) != 1 || len(st.Tokens) != 1 {
			return nil, fmt.Errorf("%s: key \"post_processor.special_tokens\": %q must map to one token and one id", path, sp.name)
		}
		tok, _ := json.Marshal(st.Tokens[0])
		id, _ := json.Marshal(st.IDs[0])
		*sp.dst = []json.RawMessage{tok, id}
	}
	return out, nil
}
