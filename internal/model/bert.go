package model

import (
	"fmt"

	"github.com/mixft/mixft/internal/backend"
)

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

// Model is a ForSequenceClassification model of one Family (BERT, RoBERTa,
// ELECTRA, DistilBERT) with its parameters on a backend.
type Model struct {
	Config  Config
	Backend backend.Backend
	// Params are the weights.
	Params

	act backend.Activation
}

// New uploads w to the backend as a model of configuration cfg. w must hold
// every parameter of cfg.ParamSpecs() with its exact size.
func New(be backend.Backend, cfg Config, w Weights) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	act, _ := cfg.Activation()
	if _, ok := be.(backend.Disentangled); cfg.Family() == DeBERTa && !ok {
		return nil, fmt.Errorf("backend %s cannot run model_type deberta-v2: it has no disentangled attention (use the CPU backend)", be.Name())
	}
	m := &Model{Config: cfg, Backend: be, act: act}
	ts := m.Tensors()
	for _, t := range ts {
		v, ok := w[t.Name]
		if !ok {
			return nil, fmt.Errorf("parameter %q is missing", t.Name)
		}
		if len(v) != t.Size() {
			return nil, fmt.Errorf("parameter %q has %d elements, shape %v needs %d", t.Name, len(v), t.Shape, t.Size())
		}
	}
	for _, t := range m.Config.alloc(be, &m.Params) {
		be.Upload(*t.Buf, w[t.Name])
	}
	return m, nil
}

// Tensors lists the model's weights in state-dict order (Config.Layout).
func (m *Model) Tensors() []Tensor { return m.Config.Layout(&m.Params) }

// Weights copies every parameter back to host memory.
func (m *Model) Weights() Weights {
	w := Weights{}
	for _, t := range m.Tensors() {
		v := make([]float32, t.Size())
		m.Backend.Download(v, *t.Buf)
		w[t.Name] = v
	}
	return w
}

// Free releases every parameter buffer and the mixout state.
func (m *Model) Free() {
	for _, l := range m.Linears() {
		if l.Mix != nil {
			m.freeMix(l)
		}
	}
	m.Config.free(m.Backend, &m.Params)
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
	types := m.Config.HasTokenTypes() // DistilBERT, ModernBERT and DeBERTa with type_vocab_size 0 have none and ignore them
	if len(b.InputIDs) != n || (types && len(b.TokenTypeIDs) != n) || len(b.AttentionMask) != n {
		return fmt.Errorf("batch: input_ids/token_type_ids/attention_mask must have %d×%d elements, have %d/%d/%d",
			b.Size, b.Seq, len(b.InputIDs), len(b.TokenTypeIDs), len(b.AttentionMask))
	}
	if maxSeq := m.Config.MaxSeqLen(); b.Seq > maxSeq {
		return fmt.Errorf("batch: sequence length %d exceeds the model's %d (max_position_embeddings %d)", b.Seq, maxSeq, m.Config.MaxPositionEmbeddings)
	}
	for i := 0; i < n; i++ {
		if id := b.InputIDs[i]; id < 0 || int(id) >= m.Config.VocabSize {
			return fmt.Errorf("batch: token id %d at row %d position %d is outside the vocabulary of %d", id, i/b.Seq, i%b.Seq, m.Config.VocabSize)
		}
		if !types {
			continue
		}
		if t := b.TokenTypeIDs[i]; t < 0 || int(t) >= m.Config.TypeVocabSize {
			return fmt.Errorf("batch: token type %d at row %d position %d is outside type_vocab_size %d", t, i/b.Seq, i%b.Seq, m.Config.TypeVocabSize)
		}
	}
	return nil
}

// MaxSeqLen is the longest sequence the position embeddings allow:
// max_position_embeddings, less padding_idx + 1 for RoBERTa, whose
// positions start after padding_idx (roberta-base: 514 → 512).
func (c *Config) MaxSeqLen() int {
	if c.Family() == RoBERTa {
		return c.MaxPositionEmbeddings - c.PadTokenID - 1
	}
	return c.MaxPositionEmbeddings
}

// PositionIDs writes each token's position id into pos (len Size×Seq):
// 0..Seq-1 in every row, or for RoBERTa padding_idx + 1 + the count of
// non-padding tokens before it, and padding_idx on padding tokens (those
// whose id is pad_token_id), as transformers'
// create_position_ids_from_input_ids.
func (c *Config) PositionIDs(pos []int32, b *Batch) {
	if c.Family() != RoBERTa {
		for i := range pos {
			pos[i] = int32(i % b.Seq)
		}
		return
	}
	pad := int32(c.PadTokenID)
	for r := 0; r < b.Size; r++ {
		n := int32(0)
		for s := 0; s < b.Seq; s++ {
			k := r*b.Seq + s
			if b.InputIDs[k] == pad {
				pos[k] = pad
				continue
			}
			n++
			pos[k] = pad + n
		}
	}
}
