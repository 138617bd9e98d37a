package model

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// preset sizes Google's BERT miniatures and the two original BERTs:
// layers, hidden, heads, intermediate.
var presets = map[string][4]int{
	"tiny":   {2, 128, 2, 512},
	"mini":   {4, 256, 4, 1024},
	"small":  {4, 512, 8, 2048},
	"medium": {8, 512, 8, 2048},
	"base":   {12, 768, 12, 3072},
	"large":  {24, 1024, 16, 4096},
}

// PresetNames lists the model presets in size order.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := presets[names[i]], presets[names[j]]
		return a[0]*a[1] < b[0]*b[1]
	})
	return names
}

// Preset returns the configuration of a named preset (BertConfig defaults
// otherwise: vocab 30522, 512 positions, erf GELU).
func Preset(name string) (Config, error) { return FamilyPreset("bert", name) }

// FamilyPreset returns a preset's sizes in a model_type's configuration:
// its config class defaults, and what its released checkpoints share
// (RoBERTa: padding_idx 1, positions for 512 tokens after it, one token
// type, LayerNorm eps 1e-5; ELECTRA: embedding_size = hidden_size;
// DeBERTa: the v3 attention, SetDeBERTaV3Attention(256); the other
// defaults as BertConfig's; ModernBERT: base and large are
// ModernBERT-base and -large, the other presets get intermediate_size
// 1.5 × hidden as they have).
func FamilyPreset(modelType, name string) (Config, error) {
	p, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("unknown model preset %q (expected one of %v)", name, PresetNames())
	}
	c, err := FamilyDefaults(modelType)
	if err != nil {
		return Config{}, err
	}
	c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize = p[0], p[1], p[2], p[3]
	switch c.Family() {
	case ModernBERT:
		// ModernBERT-base and -large; the smaller presets with its GeGLU
		// width, 1.5 × hidden.
		switch name {
		case "base":
			c.NumHiddenLayers, c.IntermediateSize = 22, 1152
		case "large":
			c.NumHiddenLayers, c.IntermediateSize = 28, 2624
		default:
			c.IntermediateSize = c.HiddenSize * 3 / 2
		}
	case RoBERTa:
		c.MaxPositionEmbeddings, c.TypeVocabSize, c.LayerNormEps = 512+c.PadTokenID+1, 1, 1e-5
	case ELECTRA:
		c.EmbeddingSize = c.HiddenSize
	case DeBERTa:
		c.SetDeBERTaV3Attention(256)
	}
	return c, nil
}

// InitWeights initialises every parameter as Hugging Face's
// PreTrainedModel._init_weights of the family does: dense weights and
// embeddings N(0, initializer_range), the padding row of the word
// embeddings (and of RoBERTa's position embeddings) zero, biases zero,
// LayerNorm weight 1 and bias 0. Draws are keyed by seed and parameter
// name.
func InitWeights(c Config, seed uint64) Weights {
	w := Weights{}
	var lay Params
	for _, t := range c.Layout(&lay) {
		p := t.ParamSpec
		v := make([]float32, p.Size())
		switch p.Kind {
		case Embedding, LinearWeight:
			rng := rand.New(rand.NewPCG(seed, nameHash(p.Name)))
			for i := range v {
				v[i] = float32(rng.NormFloat64() * c.InitializerRange)
			}
			padded := t.Buf == &lay.WordEmb || (t.Buf == &lay.PosEmb && c.Family() == RoBERTa)
			if rows := p.Shape[0]; padded && c.PadTokenID >= 0 && c.PadTokenID < rows {
				e := p.Shape[1]
				clear(v[c.PadTokenID*e : (c.PadTokenID+1)*e])
			}
		case NormWeight:
			for i := range v {
				v[i] = 1
			}
		}
		w[p.Name] = v
	}
	return w
}
