package model

import (
	"fmt"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// Linears returns every dense layer in state-dict order: ELECTRA's
// embeddings_project when the model has it; per encoder layer query, key,
// value (ModernBERT: the fused Wqkv), attention output, intermediate,
// output; then the pooler (the head's dense) and the classifier.
func (m *Model) Linears() []*Linear {
	var ls []*Linear
	if m.Config.HasEmbProject() {
		ls = append(ls, &m.EmbProject)
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		if m.Config.Family() == ModernBERT {
			ls = append(ls, &l.Wqkv, &l.AttnOut, &l.Inter, &l.Output)
			continue
		}
		ls = append(ls, &l.Query, &l.Key, &l.Value, &l.AttnOut, &l.Inter, &l.Output)
	}
	return append(ls, &m.Pooler, &m.Classifier)
}

// MixoutOptions configures mixout on one Linear.
type MixoutOptions struct {
	// P is the mix probability in [0, 1].
	P float64
	// PerElement draws one decision per weight instead of per input column.
	PerElement bool
	// Reference uses the mixout authors' backward (gradient M ⊙ dL/dW~),
	// which omits the exact derivative's 1/(1−p).
	Reference bool
}

// SetMixout makes training passes of l use W~ = U + M ⊙ (W − U)/(1 − p)
// with U = target (the pretrained weight, or for a new layer its own
// initialisation). A Linear of ALBERT's shared layer has one W~, one mask,
// per pass, which every application of the layer uses; the backward sums
// the applications' gradients of W~ before the mask.
func (m *Model) SetMixout(l *Linear, target []float32, opt MixoutOptions) error {
	if !(opt.P >= 0 && opt.P <= 1) {
		return fmt.Errorf("mixout probability %g of %s is outside [0, 1]", opt.P, l.Name)
	}
	if len(target) != l.Out*l.In {
		return fmt.Errorf("mixout target of %s has %d elements, want %d", l.Name, len(target), l.Out*l.In)
	}
	be := m.Backend
	if l.Mix != nil {
		m.freeMix(l)
	}
	mx := &Mix{P: float32(opt.P), PerElement: opt.PerElement, GradScale: backend.MixoutGradScale(opt.P, opt.Reference)}
	maskLen := l.In
	if opt.PerElement {
		maskLen = l.In * l.Out
	}
	mx.Mask = be.Alloc(maskLen)
	if layer, k := m.qkvPart(l); layer != nil {
		// W~ and U are views of the layer's concatenations.
		q, n := &layer.QKV, l.Out*l.In
		if q.Mixed == nil {
			q.Mixed, q.Target = be.Alloc(3*n), be.Alloc(3*n)
		}
		mx.Weight, mx.Target = be.View(q.Mixed, k*n, n), be.View(q.Target, k*n, n)
	} else {
		mx.Weight, mx.Target = be.Alloc(l.Out*l.In), be.Alloc(len(target))
	}
	be.Upload(mx.Target, target)
	for i, t := range m.Tensors() {
		if t.Buf == &l.W {
			mx.ID = philox.ParamID(i)
		}
	}
	l.Mix = mx
	return nil
}

// freeMix drops l's mixout state (the concatenated buffers of a query, key
// or value Linear stay with its layer's QKV).
func (m *Model) freeMix(l *Linear) {
	m.Backend.Free(l.Mix.Mask)
	if layer, _ := m.qkvPart(l); layer == nil {
		m.Backend.Free(l.Mix.Target)
		m.Backend.Free(l.Mix.Weight)
	}
	l.Mix = nil
}

// qkvPart returns the layer whose query (k 0), key (1) or value (2) l is,
// or nil.
func (m *Model) qkvPart(l *Linear) (*Layer, int) {
	for i := range m.Layers {
		for k, part := range m.Layers[i].parts() {
			if part == l {
				return &m.Layers[i], k
			}
		}
	}
	return nil, 0
}

// hasMix reports whether any Linear uses mixout.
func (m *Model) hasMix() bool {
	for _, l := range m.Linears() {
		if l.Mix != nil {
			return true
		}
	}
	return false
}

// MaskLen is the number of mask entries of a mixed Linear.
func (l *Linear) MaskLen() int {
	if l.Mix != nil && l.Mix.PerElement {
		return l.In * l.Out
	}
	return l.In
}

// DrawMixout draws every mixed Linear's mask for one training step from
// philox.Stream{seed, step, mask ID} and writes W~. Call it before each
// ForwardTrain; Backward uses the same masks.
func (m *Model) DrawMixout(seed, step uint64) {
	for _, l := range m.Linears() {
		if l.Mix == nil || backend.MixoutModeOf(l.Mix.P) != backend.MixoutMixed {
			continue
		}
		m.Backend.KeepMask(l.Mix.Mask, l.MaskLen(), l.Mix.P, philox.Stream{Seed: seed, Step: step, ID: l.Mix.ID})
	}
	m.MixWeights()
}

// MixWeights writes W~ for every mixed Linear from its current mask (after
// DrawMixout, or after masks were set directly, as tests replaying the
// reference implementation's masks do).
func (m *Model) MixWeights() {
	for _, l := range m.Linears() {
		if l.Mix == nil || backend.MixoutModeOf(l.Mix.P) != backend.MixoutMixed {
			continue
		}
		m.Backend.Mixout(l.Mix.Weight, l.W, l.Mix.Target, l.Mix.Mask, l.Out, l.In, l.Mix.P, l.Mix.PerElement)
	}
}
