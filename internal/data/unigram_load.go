package data

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/mixft/mixft/internal/fsutil"
)

// LoadUnigramTokenizerJSON builds a Unigram tokenizer from a model
// directory's tokenizer.json, as the fast tokenizers of XLM-RoBERTa,
// DeBERTa-v2/v3 and ALBERT run it: model Unigram (vocab of [piece, score],
// unk_id, byte_fallback); normalizer null, one of Precompiled (its
// SentencePiece charsmap), Replace (a string or a regular expression),
// Strip, Lowercase, NFKD, NFKC, NFD, NFC, StripAccents, or a Sequence of
// them; pre_tokenizer Metaspace (prepend_scheme always, first or never;
// split), alone or after WhitespaceSplit in a Sequence; post_processor
// TemplateProcessing, RobertaProcessing, BertProcessing or null. The
// added_tokens are split out of the text first. The padding token is
// tokenizer_config.json's pad_token, else <pad> or [PAD]. Errors name the
// file and the key.
func LoadUnigramTokenizerJSON(dir string) (*UnigramTokenizer, error) {
	tj, path, err := readTokenizerJSON(dir)
	if err != nil {
		return nil, err
	}
	return unigramFromJSON(dir, path, tj)
}

// unigramFromJSON checks a decoded tokenizer.json (at path, in dir) and
// builds its Unigram tokenizer.
func unigramFromJSON(dir, path string, tj *tokenizerJSON) (*UnigramTokenizer, error) {
	t, err := buildUnigramJSON(path, tj)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	if err := t.setPad(dir, ""); err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	return t, nil
}

// setPad sets the padding token: tokenizer_config.json's pad_token, else
// def when it is not empty, else <pad> or [PAD], whichever the tokenizer
// has.
func (t *UnigramTokenizer) setPad(dir, def string) error {
	cfgPath := filepath.Join(dir, tokenizerConfigFile)
	var raw map[string]json.RawMessage
	if err := readJSON(cfgPath, fsutil.MaxConfig, &raw); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	names := []string{"<pad>", "[PAD]"}
	if def != "" {
		names = []string{def}
	}
	if v, ok := raw["pad_token"]; ok && string(v) != "null" {
		a, err := parseAddedToken(cfgPath, "pad_token", v, addedToken{})
		if err != nil {
			return err
		}
		if id, ok := t.tokenIndex(a.content); ok {
			t.pad = id
			return nil
		}
		return fmt.Errorf("%s: key \"pad_token\": %q is not a token of the tokenizer", cfgPath, a.content)
	}
	for _, name := range names {
		if id, ok := t.tokenIndex(name); ok {
			t.pad = id
			return nil
		}
	}
	return fmt.Errorf("%s: no padding token: none of %s is a token and %s names none", filepath.Join(dir, TokenizerJSONFile), strings.Join(names, ", "), cfgPath)
}

// buildUnigramJSON checks a decoded tokenizer.json and builds it.
func buildUnigramJSON(path string, tj *tokenizerJSON) (*UnigramTokenizer, error) {
	m := &tj.Model
	var vocab [][2]json.RawMessage
	if err := json.Unmarshal(m.Vocab, &vocab); err != nil || len(vocab) == 0 {
		return nil, fmt.Errorf("%s: key \"model.vocab\": expected a non-empty list of [piece, score] pairs, got %s", path, bpeShort(string(m.Vocab)))
	}
	pieces := make([]string, len(vocab))
	scores := make([]float64, len(vocab))
	for i, pv := range vocab {
		if json.Unmarshal(pv[0], &pieces[i]) != nil || json.Unmarshal(pv[1], &scores[i]) != nil || math.IsNaN(scores[i]) {
			return nil, fmt.Errorf("%s: key \"model.vocab[%d]\": expected [piece, score], got [%s, %s]", path, i, bpeShort(string(pv[0])), bpeShort(string(pv[1])))
		}
	}
	if m.UnkID == nil {
		return nil, fmt.Errorf("%s: key \"model.unk_id\": missing; a Unigram tokenizer without an unknown piece cannot encode every text", path)
	}
	if *m.UnkID < 0 || *m.UnkID >= int64(len(pieces)) {
		return nil, fmt.Errorf("%s: key \"model.unk_id\": %d is outside the vocabulary's 0..%d", path, *m.UnkID, len(pieces)-1)
	}
	model, err := newUnigramModel(pieces, scores, make([]unigramKind, len(pieces)), int32(*m.UnkID), false, m.ByteFallback)
	if err != nil {
		return nil, fmt.Errorf("%s: key \"model.vocab\": %w", path, err)
	}
	t := &UnigramTokenizer{model: model}
	if t.norm, t.lower, err = parseNormalizers(path, "normalizer", tj.Normalizer, nil, false); err != nil {
		return nil, err
	}
	if err := t.parsePreTokenizer(path, tj.PreTokenizer); err != nil {
		return nil, err
	}
	added, err := jsonAddedTokens(path, tj)
	if err != nil {
		return nil, err
	}
	vocabName := path + ": key \"model.vocab\""
	if t.tokens, err = placeAdded(vocabName, path+": key \"added_tokens\"", model.ids, pieces, added); err != nil {
		return nil, err
	}
	t.added = newAddedVocab(added, t.normalize)
	if err := t.parsePostProcessor(path, tj.PostProcessor); err != nil {
		return nil, err
	}
	return t, nil
}

// perlClass finds the Perl character classes whose meaning differs
// between Oniguruma and Go's regexp (an escaped backslash is skipped).
var perlClass = regexp.MustCompile(`(?:^|[^\\])(?:\\\\)*\\[sSwWdDbB]`)

// parseNormalizers appends the steps of the normalizer raw (at key) to
// steps; lower reports a Lowercase among them.
func parseNormalizers(path, key string, raw json.RawMessage, steps []normalizeStep, lower bool) ([]normalizeStep, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return steps, lower, nil
	}
	var n struct {
		Type        string            `json:"type"`
		Normalizers []json.RawMessage `json:"normalizers"`
		Charsmap    *string           `json:"precompiled_charsmap"`
		Pattern     struct {
			String *string `json:"String"`
			Regex  *string `json:"Regex"`
		} `json:"pattern"`
		Content    *string `json:"content"`
		StripLeft  *bool   `json:"strip_left"`
		StripRight *bool   `json:"strip_right"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, false, fmt.Errorf("%s: key %q: expected a normalizer object, got %s", path, key, bpeShort(string(raw)))
	}
	switch n.Type {
	case "Sequence":
		for i, sub := range n.Normalizers {
			var err error
			if steps, lower, err = parseNormalizers(path, fmt.Sprintf("%s.normalizers[%d]", key, i), sub, steps, lower); err != nil {
				return nil, false, err
			}
		}
		return steps, lower, nil
	case "Precompiled":
		if n.Charsmap == nil {
			return nil, false, fmt.Errorf("%s: key %q: Precompiled without precompiled_charsmap", path, key+".precompiled_charsmap")
		}
		b, err := base64.StdEncoding.DecodeString(*n.Charsmap)
		if err != nil {
			return nil, false, fmt.Errorf("%s: key %q: not base64: %v", path, key+".precompiled_charsmap", err)
		}
		cm, err := parseCharsMap(b)
		if err != nil {
			return nil, false, fmt.Errorf("%s: key %q: %w", path, key+".precompiled_charsmap", err)
		}
		return append(steps, stepPrecompiled(cm)), lower, nil
	case "Replace":
		if n.Content == nil {
			return nil, false, fmt.Errorf("%s: key %q: Replace without content", path, key+".content")
		}
		switch {
		case n.Pattern.String != nil && *n.Pattern.String != "":
			return append(steps, stepReplace(*n.Pattern.String, *n.Content)), lower, nil
		case n.Pattern.Regex != nil:
			if perlClass.MatchString(*n.Pattern.Regex) {
				return nil, false, fmt.Errorf("%s: key %q: regular expression %q: \\s, \\w, \\d and \\b are not supported (tokenizers' Oniguruma reads them as Unicode classes, Go's regexp as ASCII)", path, key+".pattern.Regex", *n.Pattern.Regex)
			}
			re, err := regexp.Compile(*n.Pattern.Regex)
			if err != nil {
				return nil, false, fmt.Errorf("%s: key %q: regular expression %q: %v", path, key+".pattern.Regex", *n.Pattern.Regex, err)
			}
			return append(steps, stepReplaceRegexp(re, *n.Content)), lower, nil
		}
		return nil, false, fmt.Errorf("%s: key %q: expected {\"String\": ...} or {\"Regex\": ...}", path, key+".pattern")
	case "Strip":
		left, right := true, true
		if n.StripLeft != nil {
			left = *n.StripLeft
		}
		if n.StripRight != nil {
			right = *n.StripRight
		}
		return append(steps, stepStrip(left, right)), lower, nil
	case "Lowercase":
		return append(steps, stepLowercase), true, nil
	case "NFKD":
		return append(steps, stepNFKD), lower, nil
	case "NFKC":
		return append(steps, stepNFKC), lower, nil
	case "NFD":
		return append(steps, stepNFD), lower, nil
	case "NFC":
		return append(steps, stepNFC), lower, nil
	case "StripAccents":
		return append(steps, stepStripAccents), lower, nil
	}
	return nil, false, fmt.Errorf("%s: key %q: normalizer %q is not supported for Unigram (Precompiled, Replace, Strip, Lowercase, NFKD, NFKC, NFD, NFC, StripAccents, Sequence)", path, key, n.Type)
}

// parsePreTokenizer reads Metaspace, or a Sequence of WhitespaceSplit and
// Metaspace.
func (t *UnigramTokenizer) parsePreTokenizer(path string, raw json.RawMessage) error {
	var p struct {
		Type           string            `json:"type"`
		PreTokenizers  []json.RawMessage `json:"pretokenizers"`
		Replacement    *string           `json:"replacement"`
		PrependScheme  *string           `json:"prepend_scheme"`
		AddPrefixSpace *bool             `json:"add_prefix_space"`
		Split          *bool             `json:"split"`
	}
	bad := fmt.Errorf("%s: key \"pre_tokenizer\": expected Metaspace, or a Sequence of WhitespaceSplit and Metaspace, got %s", path, bpeShort(string(raw)))
	if err := json.Unmarshal(raw, &p); err != nil {
		return bad
	}
	if p.Type == "Sequence" {
		switch {
		case len(p.PreTokenizers) == 1:
			return t.parsePreTokenizer(path, p.PreTokenizers[0])
		case len(p.PreTokenizers) == 2 && typeOf(p.PreTokenizers[0]) == "WhitespaceSplit":
			t.whitespaceSplit = true
			if err := t.parsePreTokenizer(path, p.PreTokenizers[1]); err != nil {
				return err
			}
			if t.prepend == prependFirst {
				// Which word starts the text would need the normalizer's
				// alignments; no converter writes this combination.
				return fmt.Errorf("%s: key \"pre_tokenizer\": prepend_scheme first after WhitespaceSplit is not supported", path)
			}
			return nil
		}
		return bad
	}
	if p.Type != "Metaspace" || p.Replacement == nil || len([]rune(*p.Replacement)) != 1 {
		return bad
	}
	t.replacement = *p.Replacement
	t.split = p.Split == nil || *p.Split
	switch {
	case p.PrependScheme != nil && *p.PrependScheme == "always":
		t.prepend = prependAlways
	case p.PrependScheme != nil && *p.PrependScheme == "first":
		t.prepend = prependFirst
	case p.PrependScheme != nil && *p.PrependScheme == "never":
		t.prepend = prependNever
	case p.PrependScheme != nil:
		return fmt.Errorf("%s: key \"pre_tokenizer.prepend_scheme\": %q is not always, first or never", path, *p.PrependScheme)
	case p.AddPrefixSpace != nil && !*p.AddPrefixSpace:
		t.prepend = prependNever
	default:
		t.prepend = prependAlways
	}
	return nil
}

// parsePostProcessor reads the template of single texts and pairs.
func (t *UnigramTokenizer) parsePostProcessor(path string, raw json.RawMessage) error {
	key := path + ": key \"post_processor\""
	if len(raw) == 0 || string(raw) == "null" {
		t.single = []templatePiece{{seq: 0}}
		t.pair = []templatePiece{{seq: 0}, {seq: 1, typeID: 1}}
		return nil
	}
	var p struct {
		Type          string            `json:"type"`
		Cls           []json.RawMessage `json:"cls"`
		Sep           []json.RawMessage `json:"sep"`
		Single        []templateItem    `json:"single"`
		Pair          []templateItem    `json:"pair"`
		SpecialTokens map[string]struct {
			IDs []int64 `json:"ids"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("%s: expected TemplateProcessing, RobertaProcessing or BertProcessing, got %s", key, bpeShort(string(raw)))
	}
	tokenID := func(name string, pair []json.RawMessage) ([]int32, error) {
		var tok string
		var id int64
		if len(pair) != 2 || json.Unmarshal(pair[0], &tok) != nil || json.Unmarshal(pair[1], &id) != nil || id < 0 || id >= int64(len(t.tokens)) {
			return nil, fmt.Errorf("%s.%s: expected [token, id] with an id below %d", key, name, len(t.tokens))
		}
		if t.tokens[id] != tok {
			return nil, fmt.Errorf("%s.%s: id %d is %q, not %q", key, name, id, t.tokens[id], tok)
		}
		return []int32{int32(id)}, nil
	}
	switch p.Type {
	case "RobertaProcessing", "BertProcessing":
		cls, err := tokenID("cls", p.Cls)
		if err != nil {
			return err
		}
		sep, err := tokenID("sep", p.Sep)
		if err != nil {
			return err
		}
		t.single = []templatePiece{{ids: cls}, {seq: 0}, {ids: sep}}
		if p.Type == "RobertaProcessing" {
			t.pair = []templatePiece{{ids: cls}, {seq: 0}, {ids: sep}, {ids: sep}, {seq: 1}, {ids: sep}}
		} else {
			t.pair = []templatePiece{{ids: cls}, {seq: 0}, {ids: sep}, {seq: 1, typeID: 1}, {ids: sep, typeID: 1}}
		}
		return nil
	case "TemplateProcessing":
		conv := func(name string, items []templateItem) ([]templatePiece, error) {
			var out []templatePiece
			seen := map[string]bool{}
			for i, it := range items {
				switch {
				case it.Sequence != nil && (it.Sequence.ID == "A" || it.Sequence.ID == "B") && !seen[it.Sequence.ID]:
					seen[it.Sequence.ID] = true
					seq := 0
					if it.Sequence.ID == "B" {
						seq = 1
					}
					out = append(out, templatePiece{seq: seq, typeID: int32(it.Sequence.TypeID)})
				case it.SpecialToken != nil:
					st, ok := p.SpecialTokens[it.SpecialToken.ID]
					if !ok || len(st.IDs) == 0 {
						return nil, fmt.Errorf("%s.%s[%d]: special token %q is not in special_tokens", key, name, i, it.SpecialToken.ID)
					}
					ids := make([]int32, len(st.IDs))
					for j, id := range st.IDs {
						if id < 0 || id >= int64(len(t.tokens)) {
							return nil, fmt.Errorf("%s.special_tokens[%q]: id %d is outside the tokenizer's 0..%d", key, it.SpecialToken.ID, id, len(t.tokens)-1)
						}
						ids[j] = int32(id)
					}
					out = append(out, templatePiece{ids: ids, typeID: int32(it.SpecialToken.TypeID)})
				default:
					return nil, fmt.Errorf("%s.%s[%d]: expected a special token or the sequence A or B once", key, name, i)
				}
			}
			want := map[string]bool{"single": true, "pair": true}[name]
			if !want || !seen["A"] || (name == "pair") != seen["B"] {
				return nil, fmt.Errorf("%s.%s: the template must hold $A (and $B for pairs) once", key, name)
			}
			return out, nil
		}
		var err error
		if t.single, err = conv("single", p.Single); err != nil {
			return err
		}
		t.pair, err = conv("pair", p.Pair)
		return err
	}
	return fmt.Errorf("%s: post-processor %q is not supported (TemplateProcessing, RobertaProcessing, BertProcessing)", key, p.Type)
}
