// Package model is BERT and the encoder families built on its layer
// (RoBERTa, ELECTRA, DistilBERT) for sequence classification and regression
// as Hugging Face transformers computes them: the configuration, the
// parameters, the forward pass layer by layer on a backend, and checkpoint
// IO in the Hugging Face layout (config.json, model.safetensors, tokenizer
// files).
package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/fsutil"
)

// Config is an encoder configuration as Hugging Face's BertConfig writes it
// in config.json (RobertaConfig, XLMRobertaConfig and ElectraConfig use the
// same keys; DistilBertConfig's dim/hidden_dim/n_heads/n_layers/activation/
// dropout/attention_dropout/seq_classif_dropout are read into the same
// fields and written back under their own names). model_type chooses the
// Family. Missing keys take the family's config class defaults, as
// transformers does.
type Config struct {
	VocabSize                 int     `json:"vocab_size"`
	HiddenSize                int     `json:"hidden_size"`
	NumHiddenLayers           int     `json:"num_hidden_layers"`
	NumAttentionHeads         int     `json:"num_attention_heads"`
	IntermediateSize          int     `json:"intermediate_size"`
	HiddenAct                 string  `json:"hidden_act"`
	HiddenDropoutProb         float64 `json:"hidden_dropout_prob"`
	AttentionProbsDropoutProb float64 `json:"attention_probs_dropout_prob"`
	// ClassifierDropout is the classifier's dropout; nil means HiddenDropoutProb.
	ClassifierDropout     *float64 `json:"classifier_dropout"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	TypeVocabSize         int      `json:"type_vocab_size"`
	InitializerRange      float64  `json:"initializer_range"`
	LayerNormEps          float64  `json:"layer_norm_eps"`
	PadTokenID            int      `json:"pad_token_id"`
	PositionEmbeddingType string   `json:"position_embedding_type"`
	// EmbeddingSize is ELECTRA's and ALBERT's embedding width (unused by
	// the other families); ELECTRA projects the embeddings to hidden_size
	// when it differs, ALBERT always.
	EmbeddingSize int      `json:"embedding_size,omitempty"`
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures,omitempty"`
	// ProblemType is "single_label_classification", "regression" or empty.
	ProblemType string `json:"problem_type,omitempty"`
	// NumLabels is the classifier's output size (1 for regression).
	NumLabels int `json:"-"`
	// ID2Label names the classes in id order (len NumLabels).
	ID2Label []string `json:"-"`
	// Modern holds ModernBERT's own settings (nil for the other families).
	Modern *ModernConfig `json:"-"`

	// extra keeps keys this struct does not model, so that a checkpoint
	// written back keeps them.
	extra map[string]json.RawMessage
}

// DefaultConfig returns BertConfig's defaults (bert-base-uncased) with two labels.
func DefaultConfig() Config {
	return Config{
		VocabSize: 30522, HiddenSize: 768, NumHiddenLayers: 12, NumAttentionHeads: 12,
		IntermediateSize: 3072, HiddenAct: "gelu", HiddenDropoutProb: 0.1,
		AttentionProbsDropoutProb: 0.1, MaxPositionEmbeddings: 512, TypeVocabSize: 2,
		InitializerRange: 0.02, LayerNormEps: 1e-12, PositionEmbeddingType: "absolute",
		ModelType: "bert", NumLabels: 2, ID2Label: []string{"LABEL_0", "LABEL_1"},
	}
}

// ReadConfig reads and validates a config.json. Every error names the file
// and the key.
func ReadConfig(path string) (Config, error) {
	raw, err := fsutil.ReadFile(path, fsutil.MaxConfig)
	if err != nil {
		return Config{}, fmt.Errorf("read model config: %w", err)
	}
	return ParseConfig(path, raw)
}

// ParseConfig parses config.json bytes; path is used in error messages.
func ParseConfig(path string, raw []byte) (Config, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return Config{}, fmt.Errorf("%s: not a JSON object: %v", path, err)
	}
	var mt struct {
		ModelType string `json:"model_type"`
	}
	if err := json.Unmarshal(raw, &mt); err != nil {
		return Config{}, fmt.Errorf("%s: %v", path, jsonKeyError(err))
	}
	c, err := FamilyDefaults(mt.ModelType)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	known := knownKey
	if c.Family() == ModernBERT {
		known = modernKnownKey
		mc := modernFrom(c)
		if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&mc); err != nil {
			return Config{}, fmt.Errorf("%s: %v", path, jsonKeyError(err))
		}
		mc.apply(&c)
	} else if c.Family() == DistilBERT {
		known = distilKnownKey
		d := distilFrom(c)
		if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&d); err != nil {
			return Config{}, fmt.Errorf("%s: %v", path, jsonKeyError(err))
		}
		if d.Sinusoidal {
			return Config{}, fmt.Errorf("%s: key \"sinusoidal_pos_embds\": true is not supported (expected false: learned position embeddings)", path)
		}
		d.apply(&c)
	} else if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%s: %v", path, jsonKeyError(err))
	}
	if k := c.classifierDropoutKey(); k != "classifier_dropout" {
		// AlbertConfig and DebertaV2Config name the classifier's dropout
		// classifier_dropout_prob and cls_dropout.
		known = otherDropoutKnownKey(k)
		if v, ok := keys[k]; ok && string(v) != "null" {
			var p float64
			if err := json.Unmarshal(v, &p); err != nil {
				return Config{}, fmt.Errorf("%s: key %q: expected a number: %v", path, k, err)
			}
			c.ClassifierDropout = &p
		}
	}
	c.extra = map[string]json.RawMessage{}
	for k, v := range keys {
		if !known[k] {
			c.extra[k] = v
		}
	}
	// Labels: num_labels when present, else len(id2label), else 2.
	var id2label map[string]string
	if v, ok := keys["id2label"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &id2label); err != nil {
			return Config{}, fmt.Errorf("%s: key \"id2label\": expected an object of id strings to label strings: %v", path, err)
		}
	}
	c.NumLabels = len(id2label)
	if v, ok := keys["num_labels"]; ok {
		if err := json.Unmarshal(v, &c.NumLabels); err != nil {
			return Config{}, fmt.Errorf("%s: key \"num_labels\": expected an integer: %v", path, err)
		}
	}
	if c.NumLabels == 0 && len(id2label) == 0 {
		c.NumLabels = 2
	}
	if c.NumLabels < 1 || c.NumLabels > 1<<16 {
		return Config{}, fmt.Errorf("%s: key \"num_labels\": %d is not a positive label count", path, c.NumLabels)
	}
	c.ID2Label = make([]string, c.NumLabels)
	for i := range c.ID2Label {
		c.ID2Label[i] = "LABEL_" + strconv.Itoa(i)
	}
	if len(id2label) > 0 && len(id2label) == c.NumLabels {
		for k, name := range id2label {
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= c.NumLabels {
				return Config{}, fmt.Errorf("%s: key \"id2label\": id %q is not an integer in [0, %d)", path, k, c.NumLabels)
			}
			c.ID2Label[i] = name
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// knownKey lists the config.json keys Config models (or rewrites on save).
var knownKey = map[string]bool{
	"vocab_size": true, "hidden_size": true, "num_hidden_layers": true, "num_attention_heads": true,
	"intermediate_size": true, "hidden_act": true, "hidden_dropout_prob": true,
	"attention_probs_dropout_prob": true, "classifier_dropout": true, "max_position_embeddings": true,
	"type_vocab_size": true, "initializer_range": true, "layer_norm_eps": true, "pad_token_id": true,
	"position_embedding_type": true, "model_type": true, "architectures": true, "problem_type": true,
	"num_labels": true, "id2label": true, "label2id": true, "embedding_size": true,
}

// classifierDropoutKey is the config.json key of the classifier's dropout.
func (c *Config) classifierDropoutKey() string {
	switch c.Family() {
	case ALBERT:
		return "classifier_dropout_prob"
	case DeBERTa:
		return "cls_dropout"
	}
	return "classifier_dropout"
}

// otherDropoutKnownKey lists the config.json keys Config models for a
// family whose classifier dropout key is k: BertConfig's, k for
// classifier_dropout.
func otherDropoutKnownKey(k string) map[string]bool {
	m := maps.Clone(knownKey)
	delete(m, "classifier_dropout")
	m[k] = true
	return m
}

// distilKnownKey lists the config.json keys of DistilBertConfig that Config
// models.
var distilKnownKey = map[string]bool{
	"vocab_size": true, "dim": true, "n_layers": true, "n_heads": true, "hidden_dim": true,
	"activation": true, "dropout": true, "attention_dropout": true, "seq_classif_dropout": true,
	"max_position_embeddings": true, "sinusoidal_pos_embds": true, "initializer_range": true,
	"pad_token_id": true, "model_type": true, "architectures": true, "problem_type": true,
	"num_labels": true, "id2label": true, "label2id": true,
}

// distilConfig is DistilBertConfig's view of the fields Config models.
type distilConfig struct {
	VocabSize         int      `json:"vocab_size"`
	Dim               int      `json:"dim"`
	NLayers           int      `json:"n_layers"`
	NHeads            int      `json:"n_heads"`
	HiddenDim         int      `json:"hidden_dim"`
	Activation        string   `json:"activation"`
	Dropout           float64  `json:"dropout"`
	AttentionDropout  float64  `json:"attention_dropout"`
	SeqClassifDropout float64  `json:"seq_classif_dropout"`
	MaxPos            int      `json:"max_position_embeddings"`
	Sinusoidal        bool     `json:"sinusoidal_pos_embds"`
	InitializerRange  float64  `json:"initializer_range"`
	PadTokenID        int      `json:"pad_token_id"`
	ModelType         string   `json:"model_type"`
	Architectures     []string `json:"architectures,omitempty"`
	ProblemType       string   `json:"problem_type,omitempty"`
}

func distilFrom(c Config) distilConfig {
	d := distilConfig{VocabSize: c.VocabSize, Dim: c.HiddenSize, NLayers: c.NumHiddenLayers, NHeads: c.NumAttentionHeads,
		HiddenDim: c.IntermediateSize, Activation: c.HiddenAct, Dropout: c.HiddenDropoutProb,
		AttentionDropout: c.AttentionProbsDropoutProb, MaxPos: c.MaxPositionEmbeddings,
		InitializerRange: c.InitializerRange, PadTokenID: c.PadTokenID, ModelType: c.ModelType,
		Architectures: c.Architectures, ProblemType: c.ProblemType, SeqClassifDropout: 0.2}
	if c.ClassifierDropout != nil {
		d.SeqClassifDropout = *c.ClassifierDropout
	}
	return d
}

func (d distilConfig) apply(c *Config) {
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads = d.VocabSize, d.Dim, d.NLayers, d.NHeads
	c.IntermediateSize, c.HiddenAct, c.HiddenDropoutProb = d.HiddenDim, d.Activation, d.Dropout
	c.AttentionProbsDropoutProb, c.MaxPositionEmbeddings = d.AttentionDropout, d.MaxPos
	c.InitializerRange, c.PadTokenID, c.ModelType = d.InitializerRange, d.PadTokenID, d.ModelType
	c.Architectures, c.ProblemType = d.Architectures, d.ProblemType
	p := d.SeqClassifDropout
	c.ClassifierDropout = &p
}

// Family is an encoder family: BERT's encoder layer with the family's
// embeddings, classification head and state-dict names.
type Family int

// The supported families.
const (
	// BERT: word + position + token type embeddings, pooler (dense, tanh)
	// and classifier.
	BERT Family = iota
	// RoBERTa (also XLM-RoBERTa): position ids counted from the input,
	// head dropout, dense, tanh, dropout, out_proj.
	RoBERTa
	// ELECTRA (discriminator): embeddings of embedding_size projected to
	// hidden_size, head dropout, dense, GELU, dropout, out_proj.
	ELECTRA
	// DistilBERT: no token types, head pre_classifier, ReLU, dropout,
	// classifier.
	DistilBERT
	// ALBERT: embeddings of embedding_size projected to hidden_size
	// (embedding_hidden_mapping_in), one encoder layer whose weights every
	// application shares, no dropout on the feed-forward output, BERT's
	// pooler and classifier.
	ALBERT
	// DeBERTa: DeBERTa-v2/v3 (model_type deberta-v2): no position
	// embeddings, padding tokens' embeddings zeroed, disentangled attention
	// over LayerNorm'd relative position embeddings shared by every layer,
	// head (ContextPooler) dense, GELU, dropout, classifier.
	DeBERTa
	// ModernBERT: pre-LayerNorm layers with a fused Wqkv, rotary position
	// embeddings, sliding-window (local) and global attention layers, a
	// GeGLU feed-forward, a final norm, and a head (dense, activation,
	// norm) over the first token or the mean of the real tokens.
	ModernBERT
)

// ModelTypes lists the model_type values config.json may name.
var ModelTypes = []string{"bert", "roberta", "xlm-roberta", "electra", "distilbert", "albert", "deberta-v2", "modernbert"}

// Family is the family model_type names (BERT when empty).
func (c *Config) Family() Family {
	switch c.ModelType {
	case "roberta", "xlm-roberta":
		return RoBERTa
	case "electra":
		return ELECTRA
	case "distilbert":
		return DistilBERT
	case "albert":
		return ALBERT
	case "deberta-v2":
		return DeBERTa
	case "modernbert":
		return ModernBERT
	}
	return BERT
}

// FamilyDefaults returns the defaults of the config class of a model_type
// (BertConfig's for "" and "bert"), with two labels.
func FamilyDefaults(modelType string) (Config, error) {
	c := DefaultConfig()
	switch modelType {
	case "", "bert":
	case "roberta", "xlm-roberta":
		c.PadTokenID = 1
	case "electra":
		c.EmbeddingSize, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize = 128, 256, 4, 1024
	case "distilbert":
		c.NumHiddenLayers, c.TypeVocabSize = 6, 0
		p := 0.2
		c.ClassifierDropout = &p
	case "albert": // AlbertConfig's defaults (albert-xxlarge sizes)
		c.VocabSize, c.EmbeddingSize, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize = 30000, 128, 4096, 64, 16384
		c.HiddenAct, c.HiddenDropoutProb, c.AttentionProbsDropoutProb, c.PadTokenID = "gelu_new", 0, 0, 0
		p := 0.1
		c.ClassifierDropout = &p
	case "deberta-v2": // DebertaV2Config's defaults (deberta-v2-xlarge sizes)
		c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 128100, 1536, 24, 24, 6144
		c.TypeVocabSize, c.LayerNormEps, c.PadTokenID = 0, 1e-7, 0
	case "modernbert":
		modernDefaults(&c)
	default:
		return Config{}, fmt.Errorf("key \"model_type\": %q is not supported (expected one of %s)", modelType, strings.Join(ModelTypes, ", "))
	}
	if modelType != "" {
		c.ModelType = modelType
	}
	return c, nil
}

// EmbedDim is the width of the embedding tables: embedding_size for
// ELECTRA and ALBERT, else hidden_size.
func (c *Config) EmbedDim() int {
	if f := c.Family(); f == ELECTRA || f == ALBERT {
		return c.EmbeddingSize
	}
	return c.HiddenSize
}

// key is the config.json name of a BertConfig key in this family's config.
func (c *Config) key(bertKey string) string {
	if c.Family() == ModernBERT {
		if k, ok := modernKeys[bertKey]; ok {
			return k
		}
		return bertKey
	}
	if c.Family() != DistilBERT {
		return bertKey
	}
	switch bertKey {
	case "hidden_size":
		return "dim"
	case "num_hidden_layers":
		return "n_layers"
	case "num_attention_heads":
		return "n_heads"
	case "intermediate_size":
		return "hidden_dim"
	case "hidden_act":
		return "activation"
	case "hidden_dropout_prob":
		return "dropout"
	case "attention_probs_dropout_prob":
		return "attention_dropout"
	}
	return bertKey
}

// jsonKeyError turns a decoding error into "key "x": expected T, got V".
func jsonKeyError(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Sprintf("key %q: expected %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}

// Validate checks that the configuration describes a model this package
// can run. Error messages name the keys of the family's config.json.
func (c *Config) Validate() error {
	if _, err := FamilyDefaults(c.ModelType); err != nil {
		return err
	}
	pos := []struct {
		key string
		v   int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"intermediate_size", c.IntermediateSize}, {"max_position_embeddings", c.MaxPositionEmbeddings},
	}
	if f := c.Family(); f != DistilBERT && f != DeBERTa && f != ModernBERT {
		pos = append(pos, struct {
			key string
			v   int
		}{"type_vocab_size", c.TypeVocabSize})
	}
	if f := c.Family(); f == ELECTRA || f == ALBERT {
		pos = append(pos, struct {
			key string
			v   int
		}{"embedding_size", c.EmbeddingSize})
	}
	for _, p := range pos {
		if p.v < 1 || p.v > 1<<24 {
			return fmt.Errorf("key %q: %d is not a positive size", c.key(p.key), p.v)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("key %q: %d is not a multiple of %s %d", c.key("hidden_size"), c.HiddenSize, c.key("num_attention_heads"), c.NumAttentionHeads)
	}
	if _, err := c.Activation(); err != nil {
		return err
	}
	if c.Family() == ModernBERT {
		if err := c.validateModern(); err != nil {
			return err
		}
	}
	if c.PositionEmbeddingType != "" && c.PositionEmbeddingType != "absolute" {
		return fmt.Errorf("key \"position_embedding_type\": %q is not supported (expected \"absolute\")", c.PositionEmbeddingType)
	}
	if c.Family() == RoBERTa {
		if c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize {
			return fmt.Errorf("key \"pad_token_id\": %d is not a token id below vocab_size %d (RoBERTa counts positions from it)", c.PadTokenID, c.VocabSize)
		}
		if c.MaxPositionEmbeddings < c.PadTokenID+2 {
			return fmt.Errorf("key \"max_position_embeddings\": %d leaves no position after padding_idx %d", c.MaxPositionEmbeddings, c.PadTokenID)
		}
	}
	if c.Family() == ALBERT {
		for _, k := range []string{"num_hidden_groups", "inner_group_num"} {
			if v, ok := c.extra[k]; ok && string(v) != "1" && string(v) != "null" {
				return fmt.Errorf("key %q: %s is not supported (expected 1: one layer shared by every application)", k, v)
			}
		}
	}
	if c.Family() == DeBERTa {
		if c.TypeVocabSize < 0 || c.TypeVocabSize > 1<<24 {
			return fmt.Errorf("key \"type_vocab_size\": %d is not 0 or a positive size", c.TypeVocabSize)
		}
		if c.EmbeddingSize != 0 && c.EmbeddingSize != c.HiddenSize {
			return fmt.Errorf("key \"embedding_size\": %d is not supported (expected hidden_size %d: no embed_proj)", c.EmbeddingSize, c.HiddenSize)
		}
		if _, err := c.deberta(); err != nil {
			return err
		}
	}
	if !(c.LayerNormEps > 0) {
		return fmt.Errorf("key %q: %g is not positive", c.key("layer_norm_eps"), c.LayerNormEps)
	}
	if !(c.InitializerRange >= 0) {
		return fmt.Errorf("key \"initializer_range\": %g is negative", c.InitializerRange)
	}
	for _, d := range []struct {
		key string
		v   float64
	}{{"hidden_dropout_prob", c.HiddenDropoutProb}, {"attention_probs_dropout_prob", c.AttentionProbsDropoutProb}} {
		if !(d.v >= 0 && d.v < 1) {
			return fmt.Errorf("key %q: %g is not a probability in [0, 1)", c.key(d.key), d.v)
		}
	}
	switch c.ProblemType {
	case "", "single_label_classification", "regression":
	default:
		return fmt.Errorf("key \"problem_type\": %q is not supported (expected \"single_label_classification\" or \"regression\")", c.ProblemType)
	}
	if c.ProblemType == "regression" && c.NumLabels != 1 {
		return fmt.Errorf("key \"problem_type\": regression needs num_labels 1, not %d", c.NumLabels)
	}
	return nil
}

// Activation maps hidden_act to the backend's activation.
func (c *Config) Activation() (backend.Activation, error) {
	switch c.HiddenAct {
	case "gelu":
		return backend.GeluErf, nil
	case "gelu_new", "gelu_pytorch_tanh":
		return backend.GeluTanh, nil
	case "relu":
		return backend.ReLU, nil
	}
	return 0, fmt.Errorf("key %q: %q is not supported (expected \"gelu\", \"gelu_new\", \"gelu_pytorch_tanh\" or \"relu\")", c.key("hidden_act"), c.HiddenAct)
}

// Regression reports whether the head is a single-output regressor trained
// with MSE (num_labels 1), as transformers decides it.
func (c *Config) Regression() bool { return c.NumLabels == 1 }

// HeadDim is hidden_size / num_attention_heads.
func (c *Config) HeadDim() int { return c.HiddenSize / c.NumAttentionHeads }

// SetLabels replaces the label set (classification: names in id order;
// regression: nil), as finetuning on a task does.
func (c *Config) SetLabels(names []string) {
	if len(names) == 0 {
		c.NumLabels, c.ID2Label, c.ProblemType = 1, []string{"LABEL_0"}, "regression"
		return
	}
	c.NumLabels, c.ID2Label, c.ProblemType = len(names), append([]string(nil), names...), "single_label_classification"
}

// MarshalJSON writes the configuration as transformers does, with
// num_labels implied by id2label/label2id and unknown keys preserved.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	var b []byte
	var err error
	if c.Family() == DistilBERT {
		b, err = json.Marshal(distilFrom(c))
	} else if c.Family() == ModernBERT {
		b, err = json.Marshal(modernFrom(c))
	} else {
		b, err = json.Marshal(plain(c))
	}
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if k := c.classifierDropoutKey(); k != "classifier_dropout" {
		m[k] = m["classifier_dropout"]
		delete(m, "classifier_dropout")
		if string(m[k]) == "null" {
			delete(m, k)
		}
	}
	for k, v := range c.extra {
		m[k] = v
	}
	id2label, label2id := map[string]string{}, map[string]int{}
	for i, name := range c.ID2Label {
		id2label[strconv.Itoa(i)] = name
		label2id[name] = i
	}
	m["id2label"], _ = json.Marshal(id2label)
	m["label2id"], _ = json.Marshal(label2id)
	return json.Marshal(m)
}

// FinetunedMaxSeqKey is the config.json key in which a model saved by
// mixft finetune records the max_seq_length it was finetuned with (eval
// and predict default to it). transformers keeps such a key as a config
// attribute and ignores it otherwise.
const FinetunedMaxSeqKey = "mixft_max_seq_length"

// FinetunedMaxSeqLen is the max_seq_length the model was finetuned with
// (FinetunedMaxSeqKey); 0 when config.json does not record a positive one.
func (c *Config) FinetunedMaxSeqLen() int {
	var n int
	if raw, ok := c.extra[FinetunedMaxSeqKey]; !ok || json.Unmarshal(raw, &n) != nil || n < 0 {
		return 0
	}
	return n
}

// SetFinetunedMaxSeqLen records n as FinetunedMaxSeqKey.
func (c *Config) SetFinetunedMaxSeqLen(n int) {
	extra := maps.Clone(c.extra)
	if extra == nil {
		extra = map[string]json.RawMessage{}
	}
	extra[FinetunedMaxSeqKey] = json.RawMessage(strconv.Itoa(n))
	c.extra = extra
}
