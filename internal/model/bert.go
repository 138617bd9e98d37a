package model

import (
	"fmt"
	"math"

	"github.com/mixft/mixft/internal/backend"
)

// Linear is a dense layer y = x Wᵀ + b with W [Out, In] on a backend.
type Linear struct {
	W, B    backend.Buffer
	In, Out int
}

// Norm is a LayerNorm's gain and shift on a backend.
type Norm struct {
	W, B backend.Buffer
}

// Layer is one transformer encoder layer (post-LayerNorm, as BERT).
type Layer struct {
	Query, Key, Value, AttnOut Linear
	AttnNorm                   Norm
	Inter, Output              Linear
	OutNorm                    Norm
}

// Model is BertForSequenceClassification with its parameters on a backend.
type Model struct {
	Config  Config
	Backend backend.Backend

	WordEmb, PosEmb, TypeEmb backend.Buffer
	EmbNorm                  Norm
	Layers                   []Layer
	Pooler, Classifier       Linear

	act    backend.Activation
	params map[string]backend.Buffer
}

// New uploads w to the backend as a model of configuration cfg. w must hold
// every parameter of cfg.ParamSpecs() with its exact size.
func New(be backend.Backend, cfg Config, w Weights) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	act, _ := cfg.Activation()
	m := &Model{Config: cfg, Backend: be, act: act, params: map[string]backend.Buffer{}}
	for _, p := range cfg.ParamSpecs() {
		v, ok := w[p.Name]
		if !ok {
			return nil, fmt.Errorf("parameter %q is missing", p.Name)
		}
		if len(v) != p.Size() {
			return nil, fmt.Errorf("parameter %q has %d elements, shape %v needs %d", p.Name, len(v), p.Shape, p.Size())
		}
		buf := be.Alloc(len(v))
		be.Upload(buf, v)
		m.params[p.Name] = buf
	}
	h, inter := cfg.HiddenSize, cfg.IntermediateSize
	lin := func(prefix string, out, in int) Linear {
		return Linear{W: m.params[prefix+".weight"], B: m.params[prefix+".bias"], In: in, Out: out}
	}
	norm := func(prefix string) Norm {
		return Norm{W: m.params[prefix+".weight"], B: m.params[prefix+".bias"]}
	}
	m.WordEmb = m.params["bert.embeddings.word_embeddings.weight"]
	m.PosEmb = m.params["bert.embeddings.position_embeddings.weight"]
	m.TypeEmb = m.params["bert.embeddings.token_type_embeddings.weight"]
	m.EmbNorm = norm("bert.embeddings.LayerNorm")
	for i := 0; i < cfg.NumHiddenLayers; i++ {
		p := fmt.Sprintf("bert.encoder.layer.%d.", i)
		m.Layers = append(m.Layers, Layer{
			Query:    lin(p+"attention.self.query", h, h),
			Key:      lin(p+"attention.self.key", h, h),
			Value:    lin(p+"attention.self.value", h, h),
			AttnOut:  lin(p+"attention.output.dense", h, h),
			AttnNorm: norm(p + "attention.output.LayerNorm"),
			Inter:    lin(p+"intermediate.dense", inter, h),
			Output:   lin(p+"output.dense", h, inter),
			OutNorm:  norm(p + "output.LayerNorm"),
		})
	}
	m.Pooler = lin("bert.pooler.dense", h, h)
	m.Classifier = lin("classifier", cfg.NumLabels, h)
	return m, nil
}

// Param returns the backend buffer of a parameter by state-dict name.
func (m *Model) Param(name string) (backend.Buffer, bool) {
	b, ok := m.params[name]
	return b, ok
}

// Weights copies every parameter back to host memory.
func (m *Model) Weights() Weights {
	w := Weights{}
	for _, p := range m.Config.ParamSpecs() {
		v := make([]float32, p.Size())
		m.Backend.Download(v, m.params[p.Name])
		w[p.Name] = v
	}
	return w
}

// Free releases every parameter buffer.
func (m *Model) Free() {
	for _, b := range m.params {
		m.Backend.Free(b)
	}
	m.params = nil
}

// Batch is a padded batch of encoded examples, row-major [Size, Seq].
type Batch struct {
	Size, Seq     int
	InputIDs      []int32
	TokenTypeIDs  []int32
	AttentionMask []int32
}

// Check validates the batch against the model: shapes, and every id inside
// its embedding table (an out-of-range id would otherwise read out of bounds).
func (m *Model) Check(b *Batch) error {
	n := b.Size * b.Seq
	if b.Size < 1 || b.Seq < 1 {
		return fmt.Errorf("batch: empty (size %d, seq %d)", b.Size, b.Seq)
	}
	if len(b.InputIDs) != n || len(b.TokenTypeIDs) != n || len(b.AttentionMask) != n {
		return fmt.Errorf("batch: input_ids/token_type_ids/attention_mask must have %d×%d elements, have %d/%d/%d",
			b.Size, b.Seq, len(b.InputIDs), len(b.TokenTypeIDs), len(b.AttentionMask))
	}
	if b.Seq > m.Config.MaxPositionEmbeddings {
		return fmt.Errorf("batch: sequence length %d exceeds max_position_embeddings %d", b.Seq, m.Config.MaxPositionEmbeddings)
	}
	for i := 0; i < n; i++ {
		if id := b.InputIDs[i]; id < 0 || int(id) >= m.Config.VocabSize {
			return fmt.Errorf("batch: token id %d at row %d position %d is outside the vocabulary of %d", id, i/b.Seq, i%b.Seq, m.Config.VocabSize)
		}
		if t := b.TokenTypeIDs[i]; t < 0 || int(t) >= m.Config.TypeVocabSize {
			return fmt.Errorf("batch: token type %d at row %d position %d is outside type_vocab_size %d", t, i/b.Seq, i%b.Seq, m.Config.TypeVocabSize)
		}
	}
	return nil
}

// LayerActs is what one encoder layer's forward leaves for its backward.
type LayerActs struct {
	// In is the layer input [tokens, hidden] (the previous layer's Out).
	In backend.Buffer
	// Q, K, V are the projections [tokens, hidden].
	Q, K, V backend.Buffer
	// Probs are the attention probabilities [batch, heads, seq, seq].
	Probs backend.Buffer
	// Ctx is probs·V with heads concatenated [tokens, hidden].
	Ctx backend.Buffer
	// AttnSum is dense(Ctx) + In before LayerNorm; AttnOut is after it.
	AttnSum, AttnOut   backend.Buffer
	AttnMean, AttnRstd backend.Buffer
	InterPre, Inter    backend.Buffer // intermediate dense before and after the activation
	OutSum, Out        backend.Buffer // dense(Inter) + AttnOut before and after LayerNorm
	OutMean, OutRstd   backend.Buffer
}

// Activations holds every intermediate of a forward pass, sized for a
// capacity of tokens and a maximum sequence length; it is reused across
// batches that fit.
type Activations struct {
	be               backend.Backend
	tokens, seq      int
	batch            int
	KeyMask          backend.Buffer // [batch, seq], 1 real / 0 padding
	EmbSum, Emb      backend.Buffer // word+pos+type before and after LayerNorm
	EmbMean, EmbRstd backend.Buffer
	Layers           []LayerActs
	CLS              backend.Buffer // [batch, hidden] first-token hidden states
	PoolPre, Pooled  backend.Buffer // pooler dense before and after tanh
	Logits           backend.Buffer // [batch, num_labels]
	host             []float32
}

// NewActivations allocates activations for batches of up to batch rows of
// up to seq tokens.
func (m *Model) NewActivations(batch, seq int) *Activations {
	be, c := m.Backend, m.Config
	t, h := batch*seq, c.HiddenSize
	a := &Activations{be: be, tokens: t, seq: seq, batch: batch}
	a.KeyMask = be.Alloc(t)
	a.EmbSum, a.Emb = be.Alloc(t*h), be.Alloc(t*h)
	a.EmbMean, a.EmbRstd = be.Alloc(t), be.Alloc(t)
	for range c.NumHiddenLayers {
		a.Layers = append(a.Layers, LayerActs{
			Q: be.Alloc(t * h), K: be.Alloc(t * h), V: be.Alloc(t * h),
			Probs: be.Alloc(batch * c.NumAttentionHeads * seq * seq), Ctx: be.Alloc(t * h),
			AttnSum: be.Alloc(t * h), AttnOut: be.Alloc(t * h), AttnMean: be.Alloc(t), AttnRstd: be.Alloc(t),
			InterPre: be.Alloc(t * c.IntermediateSize), Inter: be.Alloc(t * c.IntermediateSize),
			OutSum: be.Alloc(t * h), Out: be.Alloc(t * h), OutMean: be.Alloc(t), OutRstd: be.Alloc(t),
		})
	}
	a.CLS, a.PoolPre, a.Pooled = be.Alloc(batch*h), be.Alloc(batch*h), be.Alloc(batch*h)
	a.Logits = be.Alloc(batch * c.NumLabels)
	a.host = make([]float32, t)
	return a
}

// Fits reports whether a batch of that shape fits these activations.
func (a *Activations) Fits(batch, seq int) bool {
	return batch <= a.batch && seq <= a.seq
}

// Free releases every buffer.
func (a *Activations) Free() {
	free := func(bs ...backend.Buffer) {
		for _, b := range bs {
			a.be.Free(b)
		}
	}
	free(a.KeyMask, a.EmbSum, a.Emb, a.EmbMean, a.EmbRstd, a.CLS, a.PoolPre, a.Pooled, a.Logits)
	for _, l := range a.Layers {
		free(l.Q, l.K, l.V, l.Probs, l.Ctx, l.AttnSum, l.AttnOut, l.AttnMean, l.AttnRstd,
			l.InterPre, l.Inter, l.OutSum, l.Out, l.OutMean, l.OutRstd)
	}
}

// linear writes out = x Wᵀ + b for rows rows of x.
func (m *Model) linear(out, x backend.Buffer, l Linear, rows int) {
	m.Backend.MatMul(out, x, l.W, rows, l.Out, l.In, false, true, 1, 0)
	m.Backend.AddBias(out, l.B, rows, l.Out)
}

// Forward runs the model in evaluation mode (no dropout) on b, leaving
// every intermediate in a. The batch must have passed Check and fit a.
func (m *Model) Forward(b *Batch, a *Activations) {
	be, c := m.Backend, m.Config
	if !a.Fits(b.Size, b.Seq) {
		panic(fmt.Sprintf("model: batch %d×%d does not fit activations %d×%d", b.Size, b.Seq, a.batch, a.seq))
	}
	t, h := b.Size*b.Seq, c.HiddenSize
	eps := float32(c.LayerNormEps)
	mask := a.host[:t]
	for i, v := range b.AttentionMask {
		mask[i] = float32(v)
	}
	be.Upload(a.KeyMask, mask)

	be.Embed(a.EmbSum, m.WordEmb, m.PosEmb, m.TypeEmb, b.InputIDs, b.TokenTypeIDs, b.Size, b.Seq, h)
	be.LayerNorm(a.Emb, a.EmbMean, a.EmbRstd, a.EmbSum, m.EmbNorm.W, m.EmbNorm.B, t, h, eps)
	x := a.Emb
	scale := float32(1 / math.Sqrt(float64(c.HeadDim())))
	for i, l := range m.Layers {
		la := &a.Layers[i]
		la.In = x
		m.linear(la.Q, x, l.Query, t)
		m.linear(la.K, x, l.Key, t)
		m.linear(la.V, x, l.Value, t)
		be.Attention(la.Ctx, la.Probs, la.Q, la.K, la.V, a.KeyMask, b.Size, b.Seq, c.NumAttentionHeads, c.HeadDim(), scale)
		m.linear(la.AttnSum, la.Ctx, l.AttnOut, t)
		be.Add(la.AttnSum, la.AttnSum, x, t*h)
		be.LayerNorm(la.AttnOut, la.AttnMean, la.AttnRstd, la.AttnSum, l.AttnNorm.W, l.AttnNorm.B, t, h, eps)
		m.linear(la.InterPre, la.AttnOut, l.Inter, t)
		be.Activate(la.Inter, la.InterPre, t*c.IntermediateSize, m.act)
		m.linear(la.OutSum, la.Inter, l.Output, t)
		be.Add(la.OutSum, la.OutSum, la.AttnOut, t*h)
		be.LayerNorm(la.Out, la.OutMean, la.OutRstd, la.OutSum, l.OutNorm.W, l.OutNorm.B, t, h, eps)
		x = la.Out
	}
	be.FirstToken(a.CLS, x, b.Size, b.Seq, h)
	m.linear(a.PoolPre, a.CLS, m.Pooler, b.Size)
	be.Tanh(a.Pooled, a.PoolPre, b.Size*h)
	m.linear(a.Logits, a.Pooled, m.Classifier, b.Size)
}

// Sequence returns the last layer's hidden states of the last forward pass.
func (a *Activations) Sequence() backend.Buffer {
	if len(a.Layers) == 0 {
		return a.Emb
	}
	return a.Layers[len(a.Layers)-1].Out
}

// Logits copies the logits of the last forward pass of a batch of size rows
// to host memory, [size, num_labels].
func (m *Model) Logits(a *Activations, size int) []float32 {
	out := make([]float32, size*m.Config.NumLabels)
	m.Backend.Download(out, a.Logits)
	return out
}
