package data

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
)

// hfMaxInputCharsPerWord is Hugging Face's WordPiece default
// max_input_chars_per_word, used when tokenizer.json has none.
const hfMaxInputCharsPerWord = 100

// LoadTokenizerJSON builds the tokenizer of a model directory's
// tokenizer.json: byte-level BPE (LoadBPETokenizerJSON), WordPiece
// (LoadWordPieceTokenizerJSON) or Unigram (LoadUnigramTokenizerJSON), by
// its model.type. lowerOverride is as for LoadEncoder; a Unigram
// tokenizer lower-cases as its normalizer says, and an override that
// says otherwise is an error.
func LoadTokenizerJSON(dir string, lowerOverride *bool) (Encoder, error) {
	tj, path, err := readTokenizerJSON(dir)
	if err != nil {
		return nil, err
	}
	switch tj.Model.Type {
	case "BPE":
		if err := bpeNoLower(lowerOverride); err != nil {
			return nil, err
		}
		return bpeFromJSON(dir, path, tj)
	case "WordPiece":
		return wordPieceFromJSON(path, tj, lowerOverride)
	case "Unigram":
		t, err := unigramFromJSON(dir, path, tj)
		if err != nil {
			return nil, err
		}
		if lowerOverride != nil && *lowerOverride != t.DoLowerCase() {
			return nil, fmt.Errorf("do_lower_case: %t is not possible for %s: its normalizer lower-cases: %t; use auto", *lowerOverride, path, t.DoLowerCase())
		}
		return t, nil
	}
	return nil, fmt.Errorf("load tokenizer: %s: key \"model.type\": %q is not supported (BPE, WordPiece or Unigram)", path, tj.Model.Type)
}

// LoadWordPieceTokenizerJSON builds BERT's WordPiece tokenizer from a model
// directory's tokenizer.json, as transformers' BertConverter writes it:
// model WordPiece (unk_token [UNK], prefix ##), normalizer BertNormalizer
// (clean_text and handle_chinese_chars on; lowercase, with strip_accents
// null or equal to it), pre_tokenizer BertPreTokenizer, post_processor
// [CLS] A [SEP] (B [SEP]) (BertProcessing or TemplateProcessing).
// Lower-casing is *lowerOverride when it is not nil, else
// tokenizer_config.json's do_lower_case when it has one (BertTokenizerFast
// rebuilds the normalizer from it), else the normalizer's lowercase;
// max_input_chars_per_word is the model's (default 100). The file's
// added_tokens are split out of the text first, each with its flags
// (single_word, lstrip, rstrip, normalized), as the fast tokenizer does.
// The encodings are those of LoadTokenizer over the same vocabulary,
// truncation included. Errors name the file and the key.
func LoadWordPieceTokenizerJSON(dir string, lowerOverride *bool) (*Tokenizer, error) {
	tj, path, err := readTokenizerJSON(dir)
	if err != nil {
		return nil, err
	}
	return wordPieceFromJSON(path, tj, lowerOverride)
}

// wordPieceFromJSON checks a decoded tokenizer.json and builds its
// WordPiece tokenizer.
func wordPieceFromJSON(path string, tj *tokenizerJSON, lowerOverride *bool) (*Tokenizer, error) {
	t, err := buildWordPieceJSON(path, tj, lowerOverride)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	return t, nil
}

func buildWordPieceJSON(path string, tj *tokenizerJSON, lowerOverride *bool) (*Tokenizer, error) {
	m := &tj.Model
	if m.Type != "WordPiece" {
		return nil, fmt.Errorf("%s: key \"model.type\": %q is not WordPiece", path, m.Type)
	}
	if m.UnkToken != nil && *m.UnkToken != UnkToken {
		return nil, fmt.Errorf("%s: key \"model.unk_token\": %q is not supported (BERT's is %s)", path, *m.UnkToken, UnkToken)
	}
	if p := m.ContinuingSubwordPrefix; p != nil && *p != "##" {
		return nil, fmt.Errorf("%s: key \"model.continuing_subword_prefix\": %q is not supported (BERT's is ##)", path, *p)
	}
	maxChars := hfMaxInputCharsPerWord
	if m.MaxInputCharsPerWord != nil {
		if maxChars = *m.MaxInputCharsPerWord; maxChars < 1 {
			return nil, fmt.Errorf("%s: key \"model.max_input_chars_per_word\": %d is not positive", path, maxChars)
		}
	}
	var norm struct {
		Type               string `json:"type"`
		CleanText          bool   `json:"clean_text"`
		HandleChineseChars bool   `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          bool   `json:"lowercase"`
	}
	if err := json.Unmarshal(tj.Normalizer, &norm); err != nil || norm.Type != "BertNormalizer" {
		return nil, fmt.Errorf("%s: key \"normalizer\": expected {\"type\": \"BertNormalizer\", ...}, got %s", path, bpeShort(string(tj.Normalizer)))
	}
	if !norm.CleanText || !norm.HandleChineseChars {
		return nil, fmt.Errorf("%s: key \"normalizer\": clean_text and handle_chinese_chars must be true (BERT's basic tokenizer)", path)
	}
	lower := norm.Lowercase
	if lowerOverride != nil {
		lower = *lowerOverride
	} else if cfgLower, found, err := configDoLowerCase(filepath.Join(filepath.Dir(path), tokenizerConfigFile)); err != nil {
		return nil, err
	} else if found {
		lower = cfgLower
	}
	if norm.StripAccents != nil && *norm.StripAccents != lower {
		return nil, fmt.Errorf("%s: key \"normalizer.strip_accents\": %t with lower-casing %t is not supported (accents are stripped exactly when lower-casing)", path, *norm.StripAccents, lower)
	}
	if typeOf(tj.PreTokenizer) != "BertPreTokenizer" {
		return nil, fmt.Errorf("%s: key \"pre_tokenizer\": expected {\"type\": \"BertPreTokenizer\"}, got %s", path, bpeShort(string(tj.PreTokenizer)))
	}
	if err := checkBertPostProcessor(tj.PostProcessor); err != nil {
		return nil, fmt.Errorf("%s: key \"post_processor\": %v", path, err)
	}
	vocab, err := parseJSONVocabObject(path, m.Vocab)
	if err != nil {
		return nil, err
	}
	vocabName := path + ": key \"model.vocab\""
	tokens, err := vocabByID(vocabName, vocab)
	if err != nil {
		return nil, err
	}
	added, err := jsonAddedTokens(path, tj)
	if err != nil {
		return nil, err
	}
	if tokens, err = placeAdded(vocabName, path+": key \"added_tokens\"", vocab, tokens, added); err != nil {
		return nil, err
	}
	t, err := NewTokenizer(NewVocab(tokens), TokenizerOptions{DoLowerCase: lower, MaxInputCharsPerWord: maxChars})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.setAdded(added)
	return t, nil
}

// checkBertPostProcessor accepts the post-processors that give BERT's
// [CLS] A [SEP] and [CLS] A [SEP] B [SEP] with type ids 0 then 1.
func checkBertPostProcessor(raw json.RawMessage) error {
	var p struct {
		Type   string            `json:"type"`
		Cls    []json.RawMessage `json:"cls"`
		Sep    []json.RawMessage `json:"sep"`
		Single []templateItem    `json:"single"`
		Pair   []templateItem    `json:"pair"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("expected BertProcessing or TemplateProcessing, got %s", bpeShort(string(raw)))
	}
	switch p.Type {
	case "BertProcessing":
		var cls, sep string
		if len(p.Cls) == 2 && len(p.Sep) == 2 && json.Unmarshal(p.Cls[0], &cls) == nil && json.Unmarshal(p.Sep[0], &sep) == nil && cls == CLSToken && sep == SEPToken {
			return nil
		}
		return fmt.Errorf("BertProcessing whose cls and sep are not [CLS] and [SEP]: %s", bpeShort(string(raw)))
	case "TemplateProcessing":
		single, pair := renderTemplate(p.Single), renderTemplate(p.Pair)
		if single == "[CLS]:0 $A:0 [SEP]:0" && pair == "[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1" {
			return nil
		}
		return fmt.Errorf("template %q / %q is not BERT's [CLS] $A [SEP] $B:1 [SEP]:1", single, pair)
	}
	return fmt.Errorf("expected BertProcessing or TemplateProcessing, got %s", bpeShort(string(raw)))
}

// templateItem is one piece of a TemplateProcessing template.
type templateItem struct {
	SpecialToken *struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"Sequence"`
}

// renderTemplate writes a template as tokenizers' string form: "[CLS]:0 $A:0".
func renderTemplate(items []templateItem) string {
	parts := make([]string, len(items))
	for i, it := range items {
		switch {
		case it.SpecialToken != nil:
			parts[i] = fmt.Sprintf("%s:%d", it.SpecialToken.ID, it.SpecialToken.TypeID)
		case it.Sequence != nil:
			parts[i] = fmt.Sprintf("$%s:%d", it.Sequence.ID, it.Sequence.TypeID)
		default:
			parts[i] = "?"
		}
	}
	return strings.Join(parts, " ")
}
