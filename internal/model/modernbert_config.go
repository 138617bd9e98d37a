package model

import (
	"fmt"

	"github.com/mixft/mixft/internal/backend"
)

// ModernConfig holds the settings of transformers' ModernBertConfig that
// the other families do not have. The shared ones live in Config:
// hidden_activation in HiddenAct, norm_eps in LayerNormEps, mlp_dropout in
// HiddenDropoutProb, attention_dropout in AttentionProbsDropoutProb,
// classifier_dropout in ClassifierDropout.
type ModernConfig struct {
	// GlobalRopeTheta and LocalRopeTheta are the rotary bases of the global
	// and the sliding-window layers (LocalRopeTheta nil: the global one).
	GlobalRopeTheta float64
	LocalRopeTheta  *float64
	// GlobalAttnEveryNLayers makes layer i global when i % n == 0, else
	// local, attending to keys within LocalAttention/2 positions.
	GlobalAttnEveryNLayers int
	LocalAttention         int
	// NormBias, AttentionBias, MLPBias and ClassifierBias say whether the
	// LayerNorms, Wqkv/Wo, Wi/Wo and the head's dense layer have biases
	// (the classifier always has one).
	NormBias, AttentionBias, MLPBias, ClassifierBias bool
	// ClassifierPooling is "cls" (the first token) or "mean" (the mean of
	// the real tokens' final hidden states).
	ClassifierPooling string
	// ClassifierActivation is the head's activation after its dense layer.
	ClassifierActivation string
	// EmbeddingDropout applies after the embeddings' norm.
	EmbeddingDropout float64
	// DecoderBias, SparsePrediction and SparsePredIgnoreIndex configure the
	// masked-LM head; sequence classification does not use them, and they
	// are written back as read.
	DecoderBias           bool
	SparsePrediction      bool
	SparsePredIgnoreIndex int
}

// modernConfig is ModernBertConfig's view of config.json: the keys it
// shares with Config under ModernBERT's names, and its own.
type modernConfig struct {
	VocabSize              int      `json:"vocab_size"`
	HiddenSize             int      `json:"hidden_size"`
	IntermediateSize       int      `json:"intermediate_size"`
	NumHiddenLayers        int      `json:"num_hidden_layers"`
	NumAttentionHeads      int      `json:"num_attention_heads"`
	HiddenActivation       string   `json:"hidden_activation"`
	MaxPositionEmbeddings  int      `json:"max_position_embeddings"`
	InitializerRange       float64  `json:"initializer_range"`
	NormEps                float64  `json:"norm_eps"`
	NormBias               bool     `json:"norm_bias"`
	PadTokenID             int      `json:"pad_token_id"`
	GlobalRopeTheta        float64  `json:"global_rope_theta"`
	AttentionBias          bool     `json:"attention_bias"`
	AttentionDropout       float64  `json:"attention_dropout"`
	GlobalAttnEveryNLayers int      `json:"global_attn_every_n_layers"`
	LocalAttention         int      `json:"local_attention"`
	LocalRopeTheta         *float64 `json:"local_rope_theta"`
	EmbeddingDropout       float64  `json:"embedding_dropout"`
	MLPBias                bool     `json:"mlp_bias"`
	MLPDropout             float64  `json:"mlp_dropout"`
	DecoderBias            bool     `json:"decoder_bias"`
	ClassifierPooling      string   `json:"classifier_pooling"`
	ClassifierDropout      float64  `json:"classifier_dropout"`
	ClassifierBias         bool     `json:"classifier_bias"`
	ClassifierActivation   string   `json:"classifier_activation"`
	SparsePrediction       bool     `json:"sparse_prediction"`
	SparsePredIgnoreIndex  int      `json:"sparse_pred_ignore_index"`
	ModelType              string   `json:"model_type"`
	Architectures          []string `json:"architectures,omitempty"`
	ProblemType            string   `json:"problem_type,omitempty"`
}

// modernKnownKey lists the config.json keys of ModernBertConfig that
// Config models (the others, token ids included, are kept as read).
var modernKnownKey = map[string]bool{
	"vocab_size": true, "hidden_size": true, "intermediate_size": true, "num_hidden_layers": true,
	"num_attention_heads": true, "hidden_activation": true, "max_position_embeddings": true,
	"initializer_range": true, "norm_eps": true, "norm_bias": true, "pad_token_id": true,
	"global_rope_theta": true, "attention_bias": true, "attention_dropout": true,
	"global_attn_every_n_layers": true, "local_attention": true, "local_rope_theta": true,
	"embedding_dropout": true, "mlp_bias": true, "mlp_dropout": true, "decoder_bias": true,
	"classifier_pooling": true, "classifier_dropout": true, "classifier_bias": true,
	"classifier_activation": true, "sparse_prediction": true, "sparse_pred_ignore_index": true,
	"model_type": true, "architectures": true, "problem_type": true,
	"num_labels": true, "id2label": true, "label2id": true,
}

// modernKeys maps BertConfig key names to ModernBertConfig's.
var modernKeys = map[string]string{
	"hidden_act": "hidden_activation", "layer_norm_eps": "norm_eps",
	"hidden_dropout_prob": "mlp_dropout", "attention_probs_dropout_prob": "attention_dropout",
}

// modernDefaults sets ModernBertConfig's defaults (ModernBERT-base).
func modernDefaults(c *Config) {
	local := 10000.0
	zero := 0.0
	c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads = 50368, 768, 1152, 22, 12
	c.HiddenAct, c.MaxPositionEmbeddings, c.InitializerRange, c.LayerNormEps = "gelu", 8192, 0.02, 1e-5
	c.PadTokenID, c.HiddenDropoutProb, c.AttentionProbsDropoutProb, c.ClassifierDropout = 50283, 0, 0, &zero
	c.TypeVocabSize, c.PositionEmbeddingType = 0, ""
	c.Modern = &ModernConfig{
		GlobalRopeTheta: 160000, LocalRopeTheta: &local, GlobalAttnEveryNLayers: 3, LocalAttention: 128,
		ClassifierPooling: "cls", ClassifierActivation: "gelu", DecoderBias: true, SparsePredIgnoreIndex: -100,
	}
}

func modernFrom(c Config) modernConfig {
	m := c.Modern
	if m == nil {
		var d Config
		modernDefaults(&d)
		m = d.Modern
	}
	mc := modernConfig{
		VocabSize: c.VocabSize, HiddenSize: c.HiddenSize, IntermediateSize: c.IntermediateSize,
		NumHiddenLayers: c.NumHiddenLayers, NumAttentionHeads: c.NumAttentionHeads, HiddenActivation: c.HiddenAct,
		MaxPositionEmbeddings: c.MaxPositionEmbeddings, InitializerRange: c.InitializerRange, NormEps: c.LayerNormEps,
		PadTokenID: c.PadTokenID, AttentionDropout: c.AttentionProbsDropoutProb, MLPDropout: c.HiddenDropoutProb,
		ModelType: c.ModelType, Architectures: c.Architectures, ProblemType: c.ProblemType,
		NormBias: m.NormBias, GlobalRopeTheta: m.GlobalRopeTheta, AttentionBias: m.AttentionBias,
		GlobalAttnEveryNLayers: m.GlobalAttnEveryNLayers, LocalAttention: m.LocalAttention,
		LocalRopeTheta: m.LocalRopeTheta, EmbeddingDropout: m.EmbeddingDropout, MLPBias: m.MLPBias,
		DecoderBias: m.DecoderBias, ClassifierPooling: m.ClassifierPooling, ClassifierBias: m.ClassifierBias,
		ClassifierActivation: m.ClassifierActivation, SparsePrediction: m.SparsePrediction,
		SparsePredIgnoreIndex: m.SparsePredIgnoreIndex,
	}
	if c.ClassifierDropout != nil {
		mc.ClassifierDropout = *c.ClassifierDropout
	}
	return mc
}

func (mc modernConfig) apply(c *Config) {
	c.VocabSize, c.HiddenSize, c.IntermediateSize = mc.VocabSize, mc.HiddenSize, mc.IntermediateSize
	c.NumHiddenLayers, c.NumAttentionHeads, c.HiddenAct = mc.NumHiddenLayers, mc.NumAttentionHeads, mc.HiddenActivation
	c.MaxPositionEmbeddings, c.InitializerRange, c.LayerNormEps = mc.MaxPositionEmbeddings, mc.InitializerRange, mc.NormEps
	c.PadTokenID, c.AttentionProbsDropoutProb, c.HiddenDropoutProb = mc.PadTokenID, mc.AttentionDropout, mc.MLPDropout
	c.ModelType, c.Architectures, c.ProblemType = mc.ModelType, mc.Architectures, mc.ProblemType
	p := mc.ClassifierDropout
	c.ClassifierDropout = &p
	c.Modern = &ModernConfig{
		GlobalRopeTheta: mc.GlobalRopeTheta, LocalRopeTheta: mc.LocalRopeTheta,
		GlobalAttnEveryNLayers: mc.GlobalAttnEveryNLayers, LocalAttention: mc.LocalAttention,
		NormBias: mc.NormBias, AttentionBias: mc.AttentionBias, MLPBias: mc.MLPBias, ClassifierBias: mc.ClassifierBias,
		ClassifierPooling: mc.ClassifierPooling, ClassifierActivation: mc.ClassifierActivation,
		EmbeddingDropout: mc.EmbeddingDropout, DecoderBias: mc.DecoderBias, SparsePrediction: mc.SparsePrediction,
		SparsePredIgnoreIndex: mc.SparsePredIgnoreIndex,
	}
}

// validateModern checks ModernBERT's own keys.
func (c *Config) validateModern() error {
	m := c.Modern
	if m == nil {
		return fmt.Errorf("model_type \"modernbert\": the ModernBERT settings are missing")
	}
	if c.HeadDim()%2 != 0 {
		return fmt.Errorf("key \"hidden_size\": %d / num_attention_heads %d = %d is odd; rotary embeddings need an even head size", c.HiddenSize, c.NumAttentionHeads, c.HeadDim())
	}
	if m.GlobalAttnEveryNLayers < 1 {
		return fmt.Errorf("key \"global_attn_every_n_layers\": %d is not a positive layer count", m.GlobalAttnEveryNLayers)
	}
	if m.LocalAttention < 0 || m.LocalAttention > 1<<24 {
		return fmt.Errorf("key \"local_attention\": %d is not a window size in [0, 2^24]", m.LocalAttention)
	}
	if !(m.GlobalRopeTheta > 0) {
		return fmt.Errorf("key \"global_rope_theta\": %g is not positive", m.GlobalRopeTheta)
	}
	if m.LocalRopeTheta != nil && !(*m.LocalRopeTheta > 0) {
		return fmt.Errorf("key \"local_rope_theta\": %g is not positive", *m.LocalRopeTheta)
	}
	if m.ClassifierPooling != "cls" && m.ClassifierPooling != "mean" {
		return fmt.Errorf("key \"classifier_pooling\": %q is not supported (expected \"cls\" or \"mean\")", m.ClassifierPooling)
	}
	if _, _, err := c.modernHeadActivation(); err != nil {
		return err
	}
	cd := 0.0
	if c.ClassifierDropout != nil {
		cd = *c.ClassifierDropout
	}
	for _, d := range []struct {
		key string
		v   float64
	}{{"embedding_dropout", m.EmbeddingDropout}, {"classifier_dropout", cd}} {
		if !(d.v >= 0 && d.v < 1) {
			return fmt.Errorf("key %q: %g is not a probability in [0, 1)", d.key, d.v)
		}
	}
	return nil
}

// modernHeadActivation maps classifier_activation to the backend's
// activation (tanh: the Tanh op).
func (c *Config) modernHeadActivation() (act backend.Activation, tanh bool, err error) {
	switch c.Modern.ClassifierActivation {
	case "gelu":
		return backend.GeluErf, false, nil
	case "gelu_new", "gelu_pytorch_tanh":
		return backend.GeluTanh, false, nil
	case "relu":
		return backend.ReLU, false, nil
	case "tanh":
		return 0, true, nil
	}
	return 0, false, fmt.Errorf("key \"classifier_activation\": %q is not supported (expected \"gelu\", \"gelu_new\", \"gelu_pytorch_tanh\", \"relu\" or \"tanh\")", c.Modern.ClassifierActivation)
}

// IsGlobalLayer reports whether ModernBERT layer i attends to every key
// (i % global_attn_every_n_layers == 0) rather than a sliding window.
func (c *Config) IsGlobalLayer(i int) bool { return i%c.Modern.GlobalAttnEveryNLayers == 0 }

// AttnWindow is layer i's attention window as backend.RotaryAttention
// takes it: keys j with |i − j| <= window, or −1 for every key.
func (c *Config) AttnWindow(i int) int {
	if c.IsGlobalLayer(i) {
		return -1
	}
	return c.Modern.LocalAttention / 2
}

// RopeTheta is layer i's rotary base.
func (c *Config) RopeTheta(i int) float64 {
	if !c.IsGlobalLayer(i) && c.Modern.LocalRopeTheta != nil {
		return *c.Modern.LocalRopeTheta
	}
	return c.Modern.GlobalRopeTheta
}
