package model

import (
	"fmt"
	"math/rand/v2"
)

// ParamKind says what role a parameter plays; regularizers and optimizers
// treat the kinds differently (no weight decay on biases and LayerNorm).
type ParamKind int

// Parameter kinds.
const (
	// Embedding is a lookup table [rows, hidden].
	Embedding ParamKind = iota
	// LinearWeight is a dense layer's weight [out, in] (y = x Wᵀ + b).
	LinearWeight
	// Bias is a dense layer's bias [out].
	Bias
	// NormWeight is a LayerNorm gain [hidden].
	NormWeight
	// NormBias is a LayerNorm shift [hidden].
	NormBias
)

// ParamSpec describes one parameter by its Hugging Face
// BertForSequenceClassification state-dict name.
type ParamSpec struct {
	Name  string
	Shape []int
	Kind  ParamKind
}

// Size is the number of elements.
func (p ParamSpec) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Names of the head parameters, which a BertModel or BertForPreTraining
// checkpoint does not have.
const (
	ClassifierWeight = "classifier.weight"
	ClassifierBias   = "classifier.bias"
)

// ParamSpecs lists every parameter of BertForSequenceClassification in the
// order of its state dict.
func (c *Config) ParamSpecs() []ParamSpec {
	h, inter := c.HiddenSize, c.IntermediateSize
	var ps []ParamSpec
	add := func(name string, kind ParamKind, shape ...int) {
		ps = append(ps, ParamSpec{Name: name, Shape: shape, Kind: kind})
	}
	linear := func(prefix string, out, in int) {
		add(prefix+".weight", LinearWeight, out, in)
		add(prefix+".bias", Bias, out)
	}
	norm := func(prefix string) {
		add(prefix+".weight", NormWeight, h)
		add(prefix+".bias", NormBias, h)
	}
	add("bert.embeddings.word_embeddings.weight", Embedding, c.VocabSize, h)
	add("bert.embeddings.position_embeddings.weight", Embedding, c.MaxPositionEmbeddings, h)
	add("bert.embeddings.token_type_embeddings.weight", Embedding, c.TypeVocabSize, h)
	norm("bert.embeddings.LayerNorm")
	for i := 0; i < c.NumHiddenLayers; i++ {
		p := fmt.Sprintf("bert.encoder.layer.%d.", i)
		linear(p+"attention.self.query", h, h)
		linear(p+"attention.self.key", h, h)
		linear(p+"attention.self.value", h, h)
		linear(p+"attention.output.dense", h, h)
		norm(p + "attention.output.LayerNorm")
		linear(p+"intermediate.dense", inter, h)
		linear(p+"output.dense", h, inter)
		norm(p + "output.LayerNorm")
	}
	linear("bert.pooler.dense", h, h)
	linear("classifier", c.NumLabels, h)
	return ps
}

// Weights holds parameter values in host memory by state-dict name.
type Weights map[string][]float32

// InitLinear fills a dense layer as Hugging Face's BertPreTrainedModel
// initialises one: weight ~ N(0, initializer_range), bias 0. The draws come
// from a PCG stream keyed by seed and the parameter name, so the same seed
// gives the same head on every machine (not the same numbers as torch).
func (c *Config) InitLinear(w Weights, prefix string, out, in int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, nameHash(prefix)))
	wv := make([]float32, out*in)
	for i := range wv {
		wv[i] = float32(rng.NormFloat64() * c.InitializerRange)
	}
	w[prefix+".weight"] = wv
	w[prefix+".bias"] = make([]float32, out)
}

// nameHash is FNV-1a of s.
func nameHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
