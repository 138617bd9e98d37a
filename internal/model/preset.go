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
func Preset(name string) (Config, error) {
	p, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("unknown model preset %q (expected one of %v)", name, PresetNames())
	}
	c := DefaultConfig()
	c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize = p[0], p[1], p[2], p[3]
	return c, nil
}

// InitWeights initialises every parameter as Hugging Face's
// BertPreTrainedModel._init_weights does: dense weights and embeddings
// N(0, initializer_range), the padding row of the word embeddings zero,
// biases zero, LayerNorm weight 1 and bias 0. Draws are keyed by seed and
// parameter name.
func InitWeights(c Config, seed uint64) Weights {
	w := Weights{}
	for _, p := range c.ParamSpecs() {
		v := make([]float32, p.Size())
		switch p.Kind {
		case Embedding, LinearWeight:
			rng := rand.New(rand.NewPCG(seed, nameHash(p.Name)))
			for i := range v {
				v[i] = float32(rng.NormFloat64() * c.InitializerRange)
			}
			if p.Name == "bert.embeddings.word_embeddings.weight" && c.PadTokenID >= 0 && c.PadTokenID < c.VocabSize {
				clear(v[c.PadTokenID*c.HiddenSize : (c.PadTokenID+1)*c.HiddenSize])
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
