package model

import (
	"fmt"

	"github.com/mixft/mixft/internal/backend"
)

// Linear is a dense layer y = x Wᵀ + b with W [Out, In] on a backend.
type Linear struct {
	// Name is the state-dict prefix ("bert.pooler.dense").
	Name    string
	W, B    backend.Buffer
	In, Out int
	// Mix, when not nil, makes training passes use mixout's W~ instead of W.
	Mix *Mix
}

// Mix is mixout's state for one Linear.
type Mix struct {
	// P is the mix probability in [0, 1].
	P float32
	// PerElement draws one decision per weight ("mixconnect") instead of one
	// per input column.
	PerElement bool
	// GradScale multiplies the gradient of W~ to give W's: 1/(1−p) is the
	// exact derivative, 1 the mixout authors' backward.
	GradScale float32
	// Target is U, the weight W is mixed with.
	Target backend.Buffer
	// Mask holds the current step's decisions (cols, or rows×cols when
	// PerElement); Weight holds W~.
	Mask, Weight backend.Buffer
	// ID keys the mask's random stream (philox.ParamID of the weight).
	ID uint32
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
		return Linear{Name: prefix, W: m.params[prefix+".weight"], B: m.params[prefix+".bias"], In: in, Out: out}
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
