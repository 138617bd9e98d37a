package data

// This file builds the fast tokenizer of a folder that holds only a
// SentencePiece model (spm.model, spiece.model, sentencepiece.bpe.model)
// as transformers builds it: its converter for the family
// (XLMRobertaConverter, DebertaV2Converter, AlbertConverter) writes a
// tokenizer.json from the model, and the family's special tokens are
// added. Here the same tokenizer.json is written in memory and read by
// the tokenizer.json loader, so both paths share one implementation.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/mixft/mixft/internal/data/spmpb"
	"github.com/mixft/mixft/internal/fsutil"
)

// spmFamily is a model family that ships a SentencePiece Unigram model.
type spmFamily struct {
	name  string // the family, in messages
	file  string // its model file
	class string // its transformers tokenizer class
	model string // its config.json model_type
	// specials are the tokenizer's special tokens, tokenizer_config.json
	// key -> default content, in the order transformers adds them.
	specials [][2]string
	// maskLstrip: the mask token swallows the whitespace on its left.
	maskLstrip bool
	// unkNormalized: the unknown token is matched in the normalized text.
	unkNormalized bool
}

var spmFamilies = []spmFamily{
	{name: "XLM-RoBERTa", file: SPMFileXLMR, class: "XLMRobertaTokenizer", model: "xlm-roberta",
		specials: [][2]string{{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"sep_token", "</s>"},
			{"pad_token", "<pad>"}, {"cls_token", "<s>"}, {"mask_token", "<mask>"}}, maskLstrip: true},
	{name: "DeBERTa-v2/v3", file: SPMFileDeBERTa, class: "DebertaV2Tokenizer", model: "deberta-v2",
		specials: [][2]string{{"bos_token", "[CLS]"}, {"eos_token", "[SEP]"}, {"unk_token", "[UNK]"}, {"sep_token", "[SEP]"},
			{"pad_token", "[PAD]"}, {"cls_token", "[CLS]"}, {"mask_token", "[MASK]"}}, unkNormalized: true},
	{name: "ALBERT", file: SPMFileALBERT, class: "AlbertTokenizer", model: "albert",
		specials: [][2]string{{"bos_token", "[CLS]"}, {"eos_token", "[SEP]"}, {"unk_token", "<unk>"}, {"sep_token", "[SEP]"},
			{"pad_token", "<pad>"}, {"cls_token", "[CLS]"}, {"mask_token", "[MASK]"}}, maskLstrip: true},
}

// spmModelFile returns the SentencePiece model file of dir, if it has one.
func spmModelFile(dir string) (string, bool) {
	for _, f := range spmFamilies {
		if p := filepath.Join(dir, f.file); fileExists(p) {
			return p, true
		}
	}
	return "", false
}

// spmConfig is what the SentencePiece loader reads from
// tokenizer_config.json.
type spmConfig struct {
	raw  map[string]json.RawMessage
	path string
}

// bool returns the boolean at key, def when absent or null.
func (c spmConfig) bool(key string, def bool) (bool, error) {
	v, ok := c.raw[key]
	if !ok || string(v) == "null" {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return false, fmt.Errorf("%s: key %q: expected a boolean, got %s", c.path, key, bpeShort(string(v)))
	}
	return b, nil
}

// string returns the string at key, "" when absent or null.
func (c spmConfig) string(key string) (string, error) {
	v, ok := c.raw[key]
	if !ok || string(v) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%s: key %q: expected a string, got %s", c.path, key, bpeShort(string(v)))
	}
	return s, nil
}

// spmFamilyOf decides the family of dir's model file: tokenizer_config.json's
// tokenizer_class, else config.json's model_type, else the file's name.
func spmFamilyOf(dir, modelPath string, cfg spmConfig) (spmFamily, error) {
	class, err := cfg.string("tokenizer_class")
	if err != nil {
		return spmFamily{}, err
	}
	if class != "" {
		for _, f := range spmFamilies {
			if strings.TrimSuffix(class, "Fast") == f.class {
				return f, nil
			}
		}
		return spmFamily{}, fmt.Errorf("%s: key \"tokenizer_class\": %q is not a SentencePiece Unigram family mixft knows (XLMRobertaTokenizer, DebertaV2Tokenizer, AlbertTokenizer)", cfg.path, class)
	}
	var mc struct {
		ModelType string `json:"model_type"`
	}
	if err := readJSON(filepath.Join(dir, "config.json"), fsutil.MaxConfig, &mc); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return spmFamily{}, err
	}
	for _, f := range spmFamilies {
		if mc.ModelType == f.model {
			return f, nil
		}
	}
	for _, f := range spmFamilies {
		if filepath.Base(modelPath) == f.file {
			return f, nil
		}
	}
	return spmFamily{}, fmt.Errorf("%s: no family for this SentencePiece model", modelPath)
}

// LoadSPMEncoder builds the fast tokenizer of a model directory that holds
// a SentencePiece Unigram model and no tokenizer.json, as transformers'
// AutoTokenizer converts it. The family is tokenizer_config.json's
// tokenizer_class, else config.json's model_type, else the file's name
// (sentencepiece.bpe.model: XLM-RoBERTa, spm.model: DeBERTa-v2/v3,
// spiece.model: ALBERT). tokenizer_config.json's do_lower_case,
// keep_accents (ALBERT), split_by_punct (DeBERTa; true is not supported)
// and special tokens are honoured; lowerOverride, when not nil, replaces
// do_lower_case (DeBERTa and ALBERT). As in transformers, these families'
// fast tokenizers have no byte fallback, and always put ▁ before each
// piece of text (their slow tokenizers have no add_prefix_space or legacy
// for the converter to read).
func LoadSPMEncoder(dir string, lowerOverride *bool) (*UnigramTokenizer, error) {
	modelPath, ok := spmModelFile(dir)
	if !ok {
		return nil, fmt.Errorf("load tokenizer: %s: no SentencePiece model (%s, %s or %s)", dir, SPMFileDeBERTa, SPMFileALBERT, SPMFileXLMR)
	}
	t, err := loadSPMEncoder(dir, modelPath, lowerOverride)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	return t, nil
}

func loadSPMEncoder(dir, modelPath string, lowerOverride *bool) (*UnigramTokenizer, error) {
	cfg := spmConfig{path: filepath.Join(dir, tokenizerConfigFile)}
	if err := readJSON(cfg.path, fsutil.MaxConfig, &cfg.raw); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	fam, err := spmFamilyOf(dir, modelPath, cfg)
	if err != nil {
		return nil, err
	}
	m, err := readSPMProto(modelPath)
	if err != nil {
		return nil, err
	}
	tj, pad, err := spmConvert(modelPath, fam, m, cfg, lowerOverride)
	if err != nil {
		return nil, err
	}
	t, err := buildUnigramJSON(modelPath+" (as converted to tokenizer.json)", tj)
	if err != nil {
		return nil, err
	}
	if err := t.setPad(dir, pad); err != nil {
		return nil, err
	}
	return t, nil
}

// spmJSON builds JSON values for the converted tokenizer.json.
func spmJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps, slices, strings, numbers and booleans
	}
	return b
}

// albertNumberComma is AlbertConverter's check_number_comma: a piece
// ending in a digit and a comma loses 100 from its score.
func albertNumberComma(piece string) bool {
	r := []rune(piece)
	return len(r) >= 2 && r[len(r)-1] == ',' && unicode.IsDigit(r[len(r)-2])
}

// spmConvert writes the tokenizer.json of a family's model (read from
// modelPath) as transformers' converter and fast tokenizer make it; pad is
// the padding token's content.
func spmConvert(modelPath string, fam spmFamily, m *spmpb.ModelProto, cfg spmConfig, lowerOverride *bool) (*tokenizerJSON, string, error) {
	lowerDef := fam.file == SPMFileALBERT
	lower, err := cfg.bool("do_lower_case", lowerDef)
	if err != nil {
		return nil, "", err
	}
	if lowerOverride != nil {
		if fam.file == SPMFileXLMR && *lowerOverride {
			return nil, "", fmt.Errorf("do_lower_case: true is not possible for %s: XLM-RoBERTa's tokenizer keeps the case; use auto or false", modelPath)
		}
		lower = *lowerOverride
	}
	keepAccents, err := cfg.bool("keep_accents", false)
	if err != nil {
		return nil, "", err
	}
	if split, err := cfg.bool("split_by_punct", false); err != nil {
		return nil, "", err
	} else if split && fam.file == SPMFileDeBERTa {
		return nil, "", fmt.Errorf("%s: key \"split_by_punct\": true is not supported (a Punctuation pre-tokenizer)", cfg.path)
	}

	// The model: the pieces with their scores.
	pieces := m.GetPieces()
	var vocab [][2]any
	unk := int64(m.GetTrainerSpec().GetUnkId())
	switch fam.file {
	case SPMFileXLMR:
		if len(pieces) < 3 {
			return nil, "", fmt.Errorf("%s: %d pieces; XLM-RoBERTa's model has <unk> <s> </s> first", modelPath, len(pieces))
		}
		vocab = [][2]any{{"<s>", 0.0}, {"<pad>", 0.0}, {"</s>", 0.0}, {"<unk>", 0.0}}
		for _, p := range pieces[3:] {
			vocab = append(vocab, [2]any{p.GetPiece(), float64(p.GetScore())})
		}
		vocab = append(vocab, [2]any{"<mask>", 0.0})
		unk = 3
	default:
		for _, p := range pieces {
			score := float64(p.GetScore())
			if fam.file == SPMFileALBERT && albertNumberComma(p.GetPiece()) {
				score -= 100
			}
			vocab = append(vocab, [2]any{p.GetPiece(), score})
		}
	}
	ids := make(map[string]int, len(vocab))
	for i, v := range vocab {
		if _, dup := ids[v[0].(string)]; !dup {
			ids[v[0].(string)] = i
		}
	}

	// Added tokens: the model's control and user-defined pieces, then the
	// family's special tokens (their flags replace a piece's); one not in
	// the vocabulary gets the next id.
	type added struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
	}
	var addedTokens []added
	seen := map[string]int{} // content -> index in addedTokens
	next := len(vocab)
	add := func(a added) {
		if i, ok := seen[a.Content]; ok { // a special token's flags win
			a.ID = addedTokens[i].ID
			addedTokens[i] = a
			return
		}
		seen[a.Content] = len(addedTokens)
		if id, ok := ids[a.Content]; ok {
			a.ID = id
		} else {
			a.ID = next
			next++
		}
		addedTokens = append(addedTokens, a)
	}
	for _, p := range pieces {
		if t := p.GetType(); t == spmpb.ModelProto_SentencePiece_CONTROL || t == spmpb.ModelProto_SentencePiece_USER_DEFINED {
			add(added{Content: p.GetPiece()})
		}
	}
	special := map[string]string{}
	for _, sk := range fam.specials {
		// The slow tokenizer's flags for a token given as a string.
		tok := addedToken{content: sk[1],
			lstrip:     sk[0] == "mask_token" && fam.maskLstrip,
			normalized: sk[0] == "unk_token" && fam.unkNormalized}
		if v, ok := cfg.raw[sk[0]]; ok && string(v) != "null" {
			if tok, err = parseAddedToken(cfg.path, sk[0], v, tok); err != nil {
				return nil, "", err
			}
		}
		special[sk[0]] = tok.content
		add(added{Content: tok.content, SingleWord: tok.singleWord, Lstrip: tok.lstrip, Rstrip: tok.rstrip, Normalized: tok.normalized})
	}

	// Normalizers, pre-tokenizer and post-processor.
	var norms []any
	charsmap := m.GetNormalizerSpec().GetPrecompiledCharsmap()
	precompiled := map[string]any{"type": "Precompiled", "precompiled_charsmap": base64.StdEncoding.EncodeToString(charsmap)}
	spaces := func(to string) map[string]any {
		return map[string]any{"type": "Replace", "pattern": map[string]string{"Regex": " {2,}"}, "content": to}
	}
	switch fam.file {
	case SPMFileXLMR:
		if len(charsmap) > 0 {
			norms = append(norms, precompiled)
		}
		norms = append(norms, map[string]any{"type": "Strip", "strip_left": false, "strip_right": true}, spaces(spmSpace))
	case SPMFileDeBERTa:
		if lower {
			norms = append(norms, map[string]any{"type": "Lowercase"})
		}
		norms = append(norms, map[string]any{"type": "Strip", "strip_left": true, "strip_right": true})
		if len(charsmap) > 0 {
			norms = append(norms, precompiled)
		}
		norms = append(norms, spaces(" "))
	case SPMFileALBERT:
		norms = append(norms,
			map[string]any{"type": "Replace", "pattern": map[string]string{"String": "``"}, "content": `"`},
			map[string]any{"type": "Replace", "pattern": map[string]string{"String": "''"}, "content": `"`})
		if !keepAccents {
			norms = append(norms, map[string]any{"type": "NFKD"}, map[string]any{"type": "StripAccents"})
		}
		if lower {
			norms = append(norms, map[string]any{"type": "Lowercase"})
		}
		if len(charsmap) > 0 {
			norms = append(norms, precompiled)
		}
		norms = append(norms, spaces(" "))
	}
	cls, sep := special["cls_token"], special["sep_token"]
	clsID, sepID := ids[cls], ids[sep]
	for _, a := range addedTokens {
		if a.Content == cls {
			clsID = a.ID
		}
		if a.Content == sep {
			sepID = a.ID
		}
	}
	st := func(id string, typ int) map[string]any {
		return map[string]any{"SpecialToken": map[string]any{"id": id, "type_id": typ}}
	}
	sq := func(id string, typ int) map[string]any {
		return map[string]any{"Sequence": map[string]any{"id": id, "type_id": typ}}
	}
	post := map[string]any{"type": "TemplateProcessing",
		"single":         []any{st(cls, 0), sq("A", 0), st(sep, 0)},
		"special_tokens": map[string]any{cls: map[string]any{"ids": []int{clsID}}, sep: map[string]any{"ids": []int{sepID}}},
	}
	if fam.file == SPMFileXLMR {
		post["pair"] = []any{st(cls, 0), sq("A", 0), st(sep, 0), st(sep, 0), sq("B", 0), st(sep, 0)}
	} else {
		post["pair"] = []any{st(cls, 0), sq("A", 0), st(sep, 0), sq("B", 1), st(sep, 1)}
	}

	tj := &tokenizerJSON{
		Normalizer:    spmJSON(map[string]any{"type": "Sequence", "normalizers": norms}),
		PreTokenizer:  spmJSON(map[string]any{"type": "Metaspace", "replacement": spmSpace, "prepend_scheme": "always", "split": true}),
		PostProcessor: spmJSON(post),
	}
	if err := json.Unmarshal(spmJSON(addedTokens), &tj.AddedTokens); err != nil {
		return nil, "", err
	}
	tj.Model.Type = "Unigram"
	tj.Model.Vocab = spmJSON(vocab)
	tj.Model.UnkID = &unk
	return tj, special["pad_token"], nil
}
