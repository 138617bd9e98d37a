// Package model is BERT for sequence classification and regression as Hugging
// Face transformers computes it: the configuration, the parameters, the
// forward pass layer by layer on a backend, and checkpoint IO in the Hugging
// Face layout (config.json, model.safetensors, vocab.txt).
package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/fsutil"
)

// Config is a BERT configuration as Hugging Face's BertConfig writes it in
// config.json. Missing keys take BertConfig's defaults (those of
// bert-base-uncased), as transformers does.
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
	ModelType             string   `json:"model_type"`
	Architectures         []string `json:"architectures,omitempty"`
	// ProblemType is "single_label_classification", "regression" or empty.
	ProblemType string `json:"problem_type,omitempty"`
	// NumLabels is the classifier's output size (1 for regression).
	NumLabels int `json:"-"`
	// ID2Label names the classes in id order (len NumLabels).
	ID2Label []string `json:"-"`

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
	c := DefaultConfig()
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return Config{}, fmt.Errorf("%s: not a JSON object: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%s: %v", path, jsonKeyError(err))
	}
	c.extra = map[string]json.RawMessage{}
	for k, v := range keys {
		if !knownKey[k] {
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
	"num_labels": true, "id2label": true, "label2id": true,
}

// jsonKeyError turns a decoding error into "key "x": expected T, got V".
func jsonKeyError(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Sprintf("key %q: expected %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}

// Validate checks that the configuration describes a BERT this package can run.
func (c *Config) Validate() error {
	pos := []struct {
		key string
		v   int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"intermediate_size", c.IntermediateSize}, {"max_position_embeddings", c.MaxPositionEmbeddings},
		{"type_vocab_size", c.TypeVocabSize},
	}
	for _, p := range pos {
		if p.v < 1 || p.v > 1<<24 {
			return fmt.Errorf("key %q: %d is not a positive size", p.key, p.v)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("key \"hidden_size\": %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if _, err := c.Activation(); err != nil {
		return err
	}
	if c.ModelType != "" && c.ModelType != "bert" {
		return fmt.Errorf("key \"model_type\": %q is not supported (expected \"bert\")", c.ModelType)
	}
	if c.PositionEmbeddingType != "" && c.PositionEmbeddingType != "absolute" {
		return fmt.Errorf("key \"position_embedding_type\": %q is not supported (expected \"absolute\")", c.PositionEmbeddingType)
	}
	if !(c.LayerNormEps > 0) {
		return fmt.Errorf("key \"layer_norm_eps\": %g is not positive", c.LayerNormEps)
	}
	if !(c.InitializerRange >= 0) {
		return fmt.Errorf("key \"initializer_range\": %g is negative", c.InitializerRange)
	}
	for _, d := range []struct {
		key string
		v   float64
	}{{"hidden_dropout_prob", c.HiddenDropoutProb}, {"attention_probs_dropout_prob", c.AttentionProbsDropoutProb}} {
		if !(d.v >= 0 && d.v < 1) {
			return fmt.Errorf("key %q: %g is not a probability in [0, 1)", d.key, d.v)
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
	return 0, fmt.Errorf("key \"hidden_act\": %q is not supported (expected \"gelu\", \"gelu_new\", \"gelu_pytorch_tanh\" or \"relu\")", c.HiddenAct)
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
	b, err := json.Marshal(plain(c))
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
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
