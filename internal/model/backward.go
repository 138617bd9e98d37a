package model

import (
	"fmt"
	"math"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// Grads holds the gradient of every parameter, laid out as the weights
// (Params): the gradient of m.Layers[i].OutNorm.W is g.Layers[i].OutNorm.W.
type Grads struct {
	Params
	cfg Config
	be  backend.Backend
}

// NewGrads allocates zeroed gradient buffers for every parameter.
func (m *Model) NewGrads() *Grads {
	g := &Grads{cfg: m.Config, be: m.Backend}
	for _, t := range g.Tensors() {
		*t.Buf = m.Backend.Alloc(t.Size())
	}
	return g
}

// Tensors lists the gradients in state-dict order, as Model.Tensors lists
// the weights.
func (g *Grads) Tensors() []Tensor { return g.cfg.Layout(&g.Params) }

// Zero clears every gradient.
func (g *Grads) Zero() {
	for _, t := range g.Tensors() {
		g.be.Zero(*t.Buf, t.Size())
	}
}

// Free releases every buffer.
func (g *Grads) Free() {
	for _, t := range g.Tensors() {
		g.be.Free(*t.Buf)
		*t.Buf = nil
	}
}

// Loss computes the training loss of the last forward pass (mean
// cross-entropy over the batch; mean squared error for regression, as
// transformers' BertForSequenceClassification) and its gradient with
// respect to the logits, scaled by gradScale (1/accumulation steps).
// labels are class ids; targets are regression scores.
func (m *Model) Loss(a *Activations, labels []int32, targets []float32, gradScale float32) (float64, error) {
	a.ensureGradScratch(m)
	n := a.lastBatch
	if m.Config.Regression() {
		if len(targets) != n {
			return 0, fmt.Errorf("model: %d regression targets for a batch of %d", len(targets), n)
		}
		return m.Backend.MSE(a.grad.dLogits, a.Logits, targets, n, gradScale), nil
	}
	if len(labels) != n {
		return 0, fmt.Errorf("model: %d labels for a batch of %d", len(labels), n)
	}
	for i, y := range labels {
		if y < 0 || int(y) >= m.Config.NumLabels {
			return 0, fmt.Errorf("model: label %d of example %d is outside [0, %d)", y, i, m.Config.NumLabels)
		}
	}
	return m.Backend.CrossEntropy(a.grad.dLogits, a.Logits, labels, n, m.Config.NumLabels, gradScale), nil
}

func (a *Activations) ensureGradScratch(m *Model) {
	if a.grad != nil {
		return
	}
	be, c := m.Backend, m.Config
	t, h := a.batch*a.seq, c.HiddenSize
	g := &gradScratch{
		dX: be.Alloc(t * h), dY: be.Alloc(t * h), dZ: be.Alloc(t * h),
		dQ: be.Alloc(t * h), dK: be.Alloc(t * h), dV: be.Alloc(t * h), dCtx: be.Alloc(t * h),
		dInter:  be.Alloc(t * c.IntermediateSize),
		dLogits: be.Alloc(a.batch * c.NumLabels), dPooled: be.Alloc(a.batch * h), dCLS: be.Alloc(a.batch * h),
	}
	if m.hasMix() {
		g.gMix = be.Alloc(max(h*c.IntermediateSize, h*h, c.NumLabels*h))
	}
	a.grad = g
}

// linearBackward accumulates into gl the gradients of l's weight and bias
// from dy (rows×Out) and its input x (rows×In), and writes dx = dy·W (or
// adds it, when addDx) unless dx is nil.
func (m *Model) linearBackward(a *Activations, l, gl *Linear, dx, dy, x backend.Buffer, rows int, addDx bool) {
	be := m.Backend
	gw, gb := gl.W, gl.B
	switch {
	case l.Mix == nil || l.Mix.P == 0:
		be.MatMul(gw, dy, x, l.Out, l.In, rows, true, false, 1, 1)
	case l.Mix.P >= 1:
		// W~ = U: W gets no gradient.
	default:
		be.MatMul(a.grad.gMix, dy, x, l.Out, l.In, rows, true, false, 1, 0)
		be.MixoutBackward(gw, a.grad.gMix, l.Mix.Mask, l.Out, l.In, l.Mix.GradScale, l.Mix.PerElement)
	}
	be.BiasGrad(gb, dy, rows, l.Out)
	if dx != nil {
		beta := float32(0)
		if addDx {
			beta = 1
		}
		be.MatMul(dx, dy, l.weight(true), rows, l.In, l.Out, false, false, 1, beta)
	}
}

// Backward accumulates into g the gradient of the loss Loss computed for
// the last forward pass on b (ForwardTrain or Forward). The padding row of
// the word embeddings gets no gradient (padding_idx = pad_token_id).
func (m *Model) Backward(b *Batch, a *Activations, g *Grads) {
	be, c := m.Backend, m.Config
	a.ensureGradScratch(m)
	s := a.grad
	ts := a.train
	train := ts != nil
	t, h, inter := b.Size*b.Seq, c.HiddenSize, c.IntermediateSize
	var hid, att float32
	var drop philox.Stream
	if train {
		hid, att = ts.HiddenDropout, ts.AttentionDropout
	}

	// Head: classifier, dropout, pooler, tanh, first token.
	pooled := a.Pooled
	if train && ts.ClassifierDropout > 0 {
		pooled = a.PooledDrop
	}
	m.linearBackward(a, &m.Classifier, &g.Classifier, s.dPooled, s.dLogits, pooled, b.Size, false)
	m.dropout(s.dPooled, b.Size*h, classifierP(ts), ts, siteClassifier(len(m.Layers)))
	be.TanhBackward(s.dPooled, s.dPooled, a.Pooled, b.Size*h)
	m.linearBackward(a, &m.Pooler, &g.Pooler, s.dCLS, s.dPooled, a.CLS, b.Size, false)
	dOut := s.dX
	be.FirstTokenBackward(dOut, s.dCLS, b.Size, b.Seq, h)

	for i := len(m.Layers) - 1; i >= 0; i-- {
		l, gl, la := &m.Layers[i], &g.Layers[i], &a.Layers[i]
		// Output LayerNorm; its input was dropout(dense(Inter)) + AttnOut.
		dSum := s.dY
		be.LayerNormBackward(dSum, gl.OutNorm.W, gl.OutNorm.B,
			dOut, la.OutSum, la.OutMean, la.OutRstd, l.OutNorm.W, t, h)
		// dZ = dropout(dSum) is the dense output's gradient; dSum also flows to AttnOut.
		be.Dropout(s.dZ, dSum, t*h, hid, dropStream(ts, siteLayerOutput(i)))
		m.linearBackward(a, &l.Output, &gl.Output, s.dInter, s.dZ, la.Inter, t, false)
		be.ActivateBackward(s.dInter, s.dInter, la.InterPre, t*inter, m.act)
		// dAttnOut = dSum + dInter·W_inter (accumulated into dSum).
		m.linearBackward(a, &l.Inter, &gl.Inter, dSum, s.dInter, la.AttnOut, t, true)
		// Attention LayerNorm; its input was dropout(dense(Ctx)) + In.
		dIn := s.dZ
		be.LayerNormBackward(dIn, gl.AttnNorm.W, gl.AttnNorm.B,
			dSum, la.AttnSum, la.AttnMean, la.AttnRstd, l.AttnNorm.W, t, h)
		be.Dropout(s.dY, dIn, t*h, hid, dropStream(ts, siteAttnOutput(i)))
		m.linearBackward(a, &l.AttnOut, &gl.AttnOut, s.dCtx, s.dY, la.Ctx, t, false)
		if train && att > 0 {
			drop = ts.stream(siteAttnProbs(i))
		}
		be.AttentionBackward(s.dQ, s.dK, s.dV, s.dCtx, la.Q, la.K, la.V, la.Probs, b.Size, b.Seq,
			c.NumAttentionHeads, c.HeadDim(), float32(1/math.Sqrt(float64(c.HeadDim()))), att, drop)
		// dIn (the residual path) += dQ·Wq + dK·Wk + dV·Wv.
		m.linearBackward(a, &l.Query, &gl.Query, dIn, s.dQ, la.In, t, true)
		m.linearBackward(a, &l.Key, &gl.Key, dIn, s.dK, la.In, t, true)
		m.linearBackward(a, &l.Value, &gl.Value, dIn, s.dV, la.In, t, true)
		// The next (lower) layer's output gradient.
		s.dX, s.dZ = s.dZ, s.dX
		dOut = s.dX
	}
	// Embeddings: dropout, LayerNorm, gather.
	be.Dropout(dOut, dOut, t*h, hid, dropStream(ts, siteEmbeddings()))
	be.LayerNormBackward(s.dY, g.EmbNorm.W, g.EmbNorm.B,
		dOut, a.EmbSum, a.EmbMean, a.EmbRstd, m.EmbNorm.W, t, h)
	be.EmbedBackward(g.WordEmb, g.PosEmb, g.TypeEmb, s.dY, b.InputIDs, b.TokenTypeIDs, b.Size, b.Seq, h, c.PadTokenID)
}

// classifierP is the classifier's dropout of a pass (0 outside training).
func classifierP(ts *TrainStep) float32 {
	if ts == nil {
		return 0
	}
	return ts.ClassifierDropout
}

// dropStream is the stream of a site; outside training the probability is
// 0 and Dropout is a plain copy.
func dropStream(ts *TrainStep, site int) philox.Stream {
	if ts == nil {
		return philox.Stream{}
	}
	return ts.stream(site)
}
