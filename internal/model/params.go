package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/mixft/mixft/internal/backend"
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

// Block is the part of the model a parameter belongs to.
type Block int

// Blocks, in the order of the forward pass.
const (
	// Embeddings are the token, position and type tables, their LayerNorm
	// and ELECTRA's embeddings_project.
	Embeddings Block = iota
	// Encoder is the transformer layers (ParamSpec.Layer says which).
	Encoder
	// Pooler is the dense layer over the first token: BERT's pooler, the
	// head's dense layer of the other families (RoBERTa's and ELECTRA's
	// classifier.dense, DistilBERT's pre_classifier).
	Pooler
	// Classifier is the task head's output layer, which a pretrained
	// checkpoint does not have.
	Classifier
)

// ParamSpec describes one parameter by its Hugging Face state-dict name
// (of BertForSequenceClassification or the family's ForSequenceClassification).
type ParamSpec struct {
	Name  string
	Shape []int
	Kind  ParamKind
	// Block is the part of the model the parameter belongs to; Layer is its
	// encoder layer (0 outside the encoder).
	Block Block
	Layer int
}

// Size is the number of elements.
func (p ParamSpec) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Names of BERT's head parameters, which a BertModel or BertForPreTraining
// checkpoint does not have (Config.ClassifierName gives any family's).
const (
	ClassifierWeight = "classifier.weight"
	ClassifierBias   = "classifier.bias"
)

// Params is the parameter layout, as llm.c's ParameterTensors: a Model's
// weights and, in the same shape, their gradients (Grads), so that code
// reaches a parameter's gradient through the same field as its weight.
// Every family has BERT's encoder layers; the fields a family lacks stay
// nil (TypeEmb for DistilBERT, EmbProject for all but ELECTRA with
// embedding_size ≠ hidden_size).
type Params struct {
	WordEmb, PosEmb, TypeEmb backend.Buffer
	EmbNorm                  Norm
	// EmbProject is ELECTRA's embeddings_project and ALBERT's
	// embedding_hidden_mapping_in (embedding_size → hidden_size).
	EmbProject Linear
	// RelEmb and RelNorm are DeBERTa's relative position embeddings
	// [2·span, hidden] and their LayerNorm, shared by every layer.
	RelEmb  backend.Buffer
	RelNorm Norm
	Layers  []Layer
	// Pooler is the dense layer over the first token (BERT's pooler, the
	// other families' head dense; ModernBERT's head.dense over the pooled
	// sequence); Classifier is the output layer.
	Pooler, Classifier Linear
	// FinalNorm and HeadNorm are ModernBERT's final_norm and head.norm.
	FinalNorm, HeadNorm Norm
}

// Linear is a dense layer y = x Wᵀ + b with W [Out, In] on a backend (in
// Grads: the gradients of W and b).
type Linear struct {
	// Name is the state-dict prefix ("bert.pooler.dense").
	Name    string
	W, B    backend.Buffer
	In, Out int
	// Mix, when not nil, makes training passes use mixout's W~ instead of
	// W (set by Model.SetMixout; always nil in Grads).
	Mix *Mix
}

// Norm is a LayerNorm's gain and shift on a backend (B nil: a LayerNorm
// without bias, ModernBERT's norm_bias false; W nil too: no norm, as
// ModernBERT's first attn_norm).
type Norm struct {
	W, B backend.Buffer
}

// Layer is one transformer encoder layer (post-LayerNorm, as BERT).
type Layer struct {
	Query, Key, Value, AttnOut Linear
	AttnNorm                   Norm
	Inter, Output              Linear
	OutNorm                    Norm
	// QKV holds the query, key and value weights and biases concatenated;
	// theirs are views of it (see Config.alloc).
	QKV QKV
	// Wqkv is ModernBERT's fused projection [3·hidden, hidden] as its
	// checkpoints store it (one weight, mixed per input column as one
	// Linear). ModernBERT's layer uses AttnNorm (attn_norm), Wqkv,
	// AttnOut (attn.Wo), OutNorm (mlp_norm), Inter (mlp.Wi, [2·intermediate,
	// hidden]) and Output (mlp.Wo); Query, Key, Value and QKV stay empty.
	Wqkv Linear
}

// QKV is a layer's [Wq; Wk; Wv] ([3·hidden, hidden]) and [bq; bk; bv]
// ([3·hidden]) in one buffer each, so that one GEMM computes the three
// projections into [tokens, 3·hidden] (backend.AttentionQKV's layout) and,
// in Grads, accumulates the three weight gradients. With mixout, Mixed and
// Target concatenate the three Linears' W~ and U the same way (their Mix
// buffers are views of them); they are nil until SetMixout mixes one of
// the three, and always nil in Grads.
type QKV struct {
	W, B          backend.Buffer
	Mixed, Target backend.Buffer
}

// parts are the three Linears of the concatenation, in its order.
func (l *Layer) parts() [3]*Linear { return [3]*Linear{&l.Query, &l.Key, &l.Value} }

// alloc lays p out (Layout) with a zeroed buffer for every tensor, each
// layer's query, key and value weights and biases being views of its QKV
// buffers, and returns the tensors.
func (c *Config) alloc(be backend.Backend, p *Params) []Tensor {
	ts := c.Layout(p)
	h := c.HiddenSize
	for i := range p.Layers {
		if c.Family() == ModernBERT {
			break
		}
		l := &p.Layers[i]
		l.QKV.W, l.QKV.B = be.Alloc(3*h*h), be.Alloc(3*h)
		for k, part := range l.parts() {
			part.W, part.B = be.View(l.QKV.W, k*h*h, h*h), be.View(l.QKV.B, k*h, h)
		}
	}
	for _, t := range ts {
		if *t.Buf == nil {
			*t.Buf = be.Alloc(t.Size())
		}
	}
	return ts
}

// free releases the buffers alloc allocated (and the concatenated mixout
// buffers) and clears every field.
func (c *Config) free(be backend.Backend, p *Params) {
	for i := range p.Layers {
		l := &p.Layers[i]
		for _, part := range l.parts() {
			part.W, part.B = nil, nil
		}
		for _, b := range []*backend.Buffer{&l.QKV.W, &l.QKV.B, &l.QKV.Mixed, &l.QKV.Target} {
			if *b != nil {
				be.Free(*b)
				*b = nil
			}
		}
	}
	for _, t := range c.Layout(p) {
		if *t.Buf != nil {
			be.Free(*t.Buf)
			*t.Buf = nil
		}
	}
}

// Tensor is one parameter of a Params: its description and the field that
// holds its buffer.
type Tensor struct {
	ParamSpec
	Buf *backend.Buffer
}

// names are a family's state-dict names around BERT's layout.
type names struct {
	emb, layer                                   string // prefixes of the embeddings and of layer i (%d)
	query, key, value, attnOut, attnNorm         string
	inter, output, outNorm, project, pooler, cls string
}

var familyNames = map[Family]names{
	BERT: {emb: "bert.embeddings.", layer: "bert.encoder.layer.%d.",
		query: "attention.self.query", key: "attention.self.key", value: "attention.self.value",
		attnOut: "attention.output.dense", attnNorm: "attention.output.LayerNorm", inter: "intermediate.dense",
		output: "output.dense", outNorm: "output.LayerNorm", pooler: "bert.pooler.dense", cls: "classifier"},
	RoBERTa: {emb: "roberta.embeddings.", layer: "roberta.encoder.layer.%d.",
		query: "attention.self.query", key: "attention.self.key", value: "attention.self.value",
		attnOut: "attention.output.dense", attnNorm: "attention.output.LayerNorm", inter: "intermediate.dense",
		output: "output.dense", outNorm: "output.LayerNorm", pooler: "classifier.dense", cls: "classifier.out_proj"},
	ELECTRA: {emb: "electra.embeddings.", layer: "electra.encoder.layer.%d.",
		query: "attention.self.query", key: "attention.self.key", value: "attention.self.value",
		attnOut: "attention.output.dense", attnNorm: "attention.output.LayerNorm", inter: "intermediate.dense",
		output: "output.dense", outNorm: "output.LayerNorm", project: "electra.embeddings_project",
		pooler: "classifier.dense", cls: "classifier.out_proj"},
	ALBERT: {emb: "albert.embeddings.", layer: "albert.encoder.albert_layer_groups.0.albert_layers.%d.",
		query: "attention.query", key: "attention.key", value: "attention.value",
		attnOut: "attention.dense", attnNorm: "attention.LayerNorm", inter: "ffn",
		output: "ffn_output", outNorm: "full_layer_layer_norm", project: "albert.encoder.embedding_hidden_mapping_in",
		pooler: "albert.pooler", cls: "classifier"},
	DeBERTa: {emb: "deberta.embeddings.", layer: "deberta.encoder.layer.%d.",
		query: "attention.self.query_proj", key: "attention.self.key_proj", value: "attention.self.value_proj",
		attnOut: "attention.output.dense", attnNorm: "attention.output.LayerNorm", inter: "intermediate.dense",
		output: "output.dense", outNorm: "output.LayerNorm", pooler: "pooler.dense", cls: "classifier"},
	DistilBERT: {emb: "distilbert.embeddings.", layer: "distilbert.transformer.layer.%d.",
		query: "attention.q_lin", key: "attention.k_lin", value: "attention.v_lin",
		attnOut: "attention.out_lin", attnNorm: "sa_layer_norm", inter: "ffn.lin1",
		output: "ffn.lin2", outNorm: "output_layer_norm", pooler: "pre_classifier", cls: "classifier"},
	// ModernBERT's layout is modernLayout's; these name its head.
	ModernBERT: {emb: modernEmb, pooler: "head.dense", cls: "classifier"},
}

// ClassifierName is the state-dict prefix of the head's output layer
// ("classifier", RoBERTa's and ELECTRA's "classifier.out_proj").
func (c *Config) ClassifierName() string { return familyNames[c.Family()].cls }

// HasEmbProject reports whether the model projects its embeddings to
// hidden_size (ELECTRA with embedding_size ≠ hidden_size, ALBERT always).
func (c *Config) HasEmbProject() bool { return c.Family() == ALBERT || c.EmbedDim() != c.HiddenSize }

// ParamLayers is the number of encoder layers with weights of their own:
// num_hidden_layers, or 1 for ALBERT, whose one layer every application
// shares.
func (c *Config) ParamLayers() int {
	if c.Family() == ALBERT {
		return 1
	}
	return c.NumHiddenLayers
}

// LayerOf is the index in Params.Layers of the weights that application i
// of the encoder (0 ≤ i < num_hidden_layers) uses.
func (c *Config) LayerOf(i int) int {
	if c.Family() == ALBERT {
		return 0
	}
	return i
}

// Layout lays p out as c says (one Layer per encoder layer with weights of
// its own, ParamLayers, every Linear
// named and shaped) and lists its parameters in the order of the family's
// ForSequenceClassification state dict. It is the one mapping from the
// typed layout to state-dict names: ParamSpecs, checkpoint IO, the
// optimizer's parameters and gradient lookups all derive from it. The
// buffers are left as they are.
func (c *Config) Layout(p *Params) []Tensor {
	if c.Family() == ModernBERT {
		return c.modernLayout(p)
	}
	h, e, inter := c.HiddenSize, c.EmbedDim(), c.IntermediateSize
	nm := familyNames[c.Family()]
	if len(p.Layers) != c.ParamLayers() {
		p.Layers = make([]Layer, c.ParamLayers())
	}
	var ts []Tensor
	add := func(buf *backend.Buffer, name string, kind ParamKind, blk Block, layer int, shape ...int) {
		ts = append(ts, Tensor{ParamSpec: ParamSpec{Name: name, Shape: shape, Kind: kind, Block: blk, Layer: layer}, Buf: buf})
	}
	linear := func(l *Linear, name string, blk Block, layer, out, in int) {
		l.Name, l.Out, l.In = name, out, in
		add(&l.W, name+".weight", LinearWeight, blk, layer, out, in)
		add(&l.B, name+".bias", Bias, blk, layer, out)
	}
	norm := func(n *Norm, name string, blk Block, layer, size int) {
		add(&n.W, name+".weight", NormWeight, blk, layer, size)
		add(&n.B, name+".bias", NormBias, blk, layer, size)
	}
	add(&p.WordEmb, nm.emb+"word_embeddings.weight", Embedding, Embeddings, 0, c.VocabSize, e)
	if c.Family() != DeBERTa {
		add(&p.PosEmb, nm.emb+"position_embeddings.weight", Embedding, Embeddings, 0, c.MaxPositionEmbeddings, e)
	}
	if c.HasTokenTypes() {
		add(&p.TypeEmb, nm.emb+"token_type_embeddings.weight", Embedding, Embeddings, 0, c.TypeVocabSize, e)
	}
	norm(&p.EmbNorm, nm.emb+"LayerNorm", Embeddings, 0, e)
	if c.HasEmbProject() {
		linear(&p.EmbProject, nm.project, Embeddings, 0, h, e)
	}
	for i := range p.Layers {
		l, pre := &p.Layers[i], fmt.Sprintf(nm.layer, i)
		linear(&l.Query, pre+nm.query, Encoder, i, h, h)
		linear(&l.Key, pre+nm.key, Encoder, i, h, h)
		linear(&l.Value, pre+nm.value, Encoder, i, h, h)
		linear(&l.AttnOut, pre+nm.attnOut, Encoder, i, h, h)
		norm(&l.AttnNorm, pre+nm.attnNorm, Encoder, i, h)
		linear(&l.Inter, pre+nm.inter, Encoder, i, inter, h)
		linear(&l.Output, pre+nm.output, Encoder, i, h, inter)
		norm(&l.OutNorm, pre+nm.outNorm, Encoder, i, h)
	}
	if c.Family() == DeBERTa {
		s, _ := c.deberta() // Validate has checked it
		add(&p.RelEmb, "deberta.encoder.rel_embeddings.weight", Embedding, Embeddings, 0, 2*s.Span, h)
		norm(&p.RelNorm, "deberta.encoder.LayerNorm", Embeddings, 0, h)
	}
	linear(&p.Pooler, nm.pooler, Pooler, 0, h, h)
	linear(&p.Classifier, nm.cls, Classifier, 0, c.NumLabels, h)
	return ts
}

// ParamSpecs lists every parameter of the family's ForSequenceClassification
// model in the order of its state dict.
func (c *Config) ParamSpecs() []ParamSpec {
	ts := c.Layout(&Params{})
	ps := make([]ParamSpec, len(ts))
	for i, t := range ts {
		ps[i] = t.ParamSpec
	}
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
