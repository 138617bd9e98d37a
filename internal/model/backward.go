package model

import (
	"fmt"

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
	g.cfg.alloc(m.Backend, &g.Params)
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
func (g *Grads) Free() { g.cfg.free(g.be, &g.Params) }

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
		dQKV: be.Alloc(3 * t * h), dCtx: be.Alloc(t * h),
		dInter:  be.Alloc(t * c.IntermediateSize),
		dLogits: be.Alloc(a.batch * c.NumLabels), dPooled: be.Alloc(a.batch * h), dCLS: be.Alloc(a.batch * h),
	}
	if e := c.EmbedDim(); c.HasEmbProject() {
		g.dEmb, g.dEmbSum = be.Alloc(t*e), be.Alloc(t*e)
	}
	if s, err := c.deberta(); c.Family() == DeBERTa && err == nil {
		r := 2 * s.Span
		g.dPos, g.dRel, g.dRelSum, g.dZeroPos = be.Alloc(r*3*h), be.Alloc(r*h), be.Alloc(r*h), be.Alloc(c.EmbedDim())
	}
	if m.hasMix() {
		g.gMix = be.Alloc(max(2*h*c.IntermediateSize, 3*h*h, c.NumLabels*h, h*c.EmbedDim()))
	}
	if c.Family() == ModernBERT {
		g.modern = m.newModernScratch(a)
	}
	a.grad = g
}

// linearBackward accumulates into gl the gradients of l's weight and bias
// from dy (rows×Out) and its input x (rows×In), and writes dx = dy·W (or
// adds it, when addDx) unless dx is nil.
func (m *Model) linearBackward(a *Activations, l, gl *Linear, dx, dy, x backend.Buffer, rows int, addDx bool) {
	m.denseBackward(a, l, gl, dx, dy, x, rows, addDx)
	m.Backend.BiasGrad(gl.B, dy, rows, l.Out)
}

// denseBackward is linearBackward without the bias gradient, which a fused
// op computes.
func (m *Model) denseBackward(a *Activations, l, gl *Linear, dx, dy, x backend.Buffer, rows int, addDx bool) {
	m.weightGrad(a, l.use(true), gl.W, []*Linear{l}, []*Linear{gl}, dy, x, rows)
	if dx != nil {
		beta := float32(0)
		if addDx {
			beta = 1
		}
		m.Backend.MatMul(dx, dy, l.weight(true), rows, l.In, l.Out, false, false, 1, beta)
	}
}

// weightGrad accumulates into gw the gradient of the weight whose rows are
// the weights of ls (one Linear, or a layer's query, key and value, used as
// u says) from dy (rows × their outputs) and x (rows×In): dyᵀ·x for W
// itself; through W~ for mixout, each Linear's rows with its own mask into
// its gradient in gls; nothing for U.
func (m *Model) weightGrad(a *Activations, u backend.MixoutMode, gw backend.Buffer, ls, gls []*Linear, dy, x backend.Buffer, rows int) {
	be := m.Backend
	out, in := 0, ls[0].In
	for _, l := range ls {
		out += l.Out
	}
	switch u {
	case useW:
		be.MatMul(gw, dy, x, out, in, rows, true, false, 1, 1)
	case useMixed:
		be.MatMul(a.grad.gMix, dy, x, out, in, rows, true, false, 1, 0)
		off := 0
		for k, l := range ls {
			n := l.Out * l.In
			be.MixoutBackward(gls[k].W, be.View(a.grad.gMix, off, n), l.Mix.Mask, l.Out, l.In, l.Mix.GradScale, l.Mix.PerElement)
			off += n
		}
	}
	// useTarget: W~ = U, W gets no gradient.
}

// Backward accumulates into g the gradient of the loss Loss computed for
// the last forward pass on b (ForwardTrain or Forward). The padding row of
// the word embeddings gets no gradient (padding_idx = pad_token_id).
// RoBERTa's position row padding_idx, read only by padding tokens, gets
// none either as long as the attention mask marks exactly the tokens whose
// id is pad_token_id (as the tokenizer pads): their gradient is then 0.
func (m *Model) Backward(b *Batch, a *Activations, g *Grads) {
	be, c := m.Backend, m.Config
	if a.forwardOnly {
		panic("model: Backward on activations from NewForwardActivations")
	}
	a.ensureGradScratch(m)
	if c.Family() == ModernBERT {
		m.backwardModern(b, a, g)
		return
	}
	s := a.grad
	ts := a.train
	train := ts != nil
	t, h, inter := b.Size*b.Seq, c.HiddenSize, c.IntermediateSize
	var hid, att float32
	var drop, hidDrop philox.Stream
	if train {
		hid, att = ts.HiddenDropout, ts.AttentionDropout
	}

	// Head: classifier, dropout, activation, dense (pooler), [dropout,] first token.
	pooled := a.Pooled
	if train && ts.ClassifierDropout > 0 {
		pooled = a.PooledDrop
	}
	m.linearBackward(a, &m.Classifier, &g.Classifier, s.dPooled, s.dLogits, pooled, b.Size, false)
	m.dropout(s.dPooled, b.Size*h, classifierP(ts), ts, siteClassifier(c.NumHiddenLayers))
	if act, tanh := c.headActivation(); tanh {
		be.TanhBackward(s.dPooled, s.dPooled, a.Pooled, b.Size*h)
	} else {
		be.ActivateBackward(s.dPooled, s.dPooled, a.PoolPre, b.Size*h, act)
	}
	cls := a.CLS
	dropsCLS := c.headDropsInput() && train && ts.ClassifierDropout > 0
	if dropsCLS {
		cls = a.CLSDrop
	}
	m.linearBackward(a, &m.Pooler, &g.Pooler, s.dCLS, s.dPooled, cls, b.Size, false)
	if dropsCLS {
		m.dropout(s.dCLS, b.Size*h, ts.ClassifierDropout, ts, siteHeadInput(c.NumHiddenLayers))
	}
	dOut := s.dX
	be.FirstTokenBackward(dOut, s.dCLS, b.Size, b.Seq, h)

	// ALBERT's applications share one layer's weights (LayerOf): each
	// accumulates its gradients into the same buffers.
	var span int
	if c.Family() == DeBERTa {
		st, _ := c.deberta()
		span = st.Span
		be.Zero(s.dRel, 2*span*h)
	}
	for i := c.NumHiddenLayers - 1; i >= 0; i-- {
		l, gl, la := &m.Layers[c.LayerOf(i)], &g.Layers[c.LayerOf(i)], &a.Layers[i]
		// Output LayerNorm, residual, dropout and bias: dSum flows to
		// AttnOut, dZ = dropout(dSum) to the dense output.
		dSum := s.dY
		outHid := hid // ALBERT has no feed-forward output dropout
		if !c.dropsLayerOutput() {
			outHid = 0
		}
		hidDrop = dropStream(ts, siteLayerOutput(i))
		be.BiasDropoutAddLayerNormBackward(dSum, s.dZ, gl.OutNorm.W, gl.OutNorm.B, gl.Output.B,
			dOut, la.OutSum, la.OutMean, la.OutRstd, l.OutNorm.W, t, h, outHid, hidDrop)
		m.denseBackward(a, &l.Output, &gl.Output, s.dInter, s.dZ, la.Inter, t, false)
		be.BiasActivateBackward(s.dInter, gl.Inter.B, s.dInter, la.InterPre, t, inter, m.act)
		// dAttnOut = dSum + dInter·W_inter (accumulated into dSum).
		m.denseBackward(a, &l.Inter, &gl.Inter, dSum, s.dInter, la.AttnOut, t, true)
		// Attention LayerNorm; its input was dropout(dense(Ctx) + b) + In.
		// dOut is spent: its buffer takes the dense output's gradient.
		dIn := s.dZ
		attnHid := hid // DistilBERT has no attention-output dropout
		if !c.dropsAttnOutput() {
			attnHid = 0
		}
		hidDrop = dropStream(ts, siteAttnOutput(i))
		be.BiasDropoutAddLayerNormBackward(dIn, dOut, gl.AttnNorm.W, gl.AttnNorm.B, gl.AttnOut.B,
			dSum, la.AttnSum, la.AttnMean, la.AttnRstd, l.AttnNorm.W, t, h, attnHid, hidDrop)
		m.denseBackward(a, &l.AttnOut, &gl.AttnOut, s.dCtx, dOut, la.Ctx, t, false)
		if train && att > 0 {
			drop = ts.stream(siteAttnProbs(i))
		}
		wqkv, u := l.qkvWeight(true)
		ls, gls := l.parts(), gl.parts()
		if span > 0 {
			be.Zero(s.dPos, 2*span*3*h)
			be.(backend.Disentangled).DisentangledAttentionBackward(s.dQKV, s.dPos, s.dCtx, la.QKV, la.Pos, la.Probs, a.KeyMask,
				a.rel[:b.Seq*b.Seq], b.Size, b.Seq, c.NumAttentionHeads, c.HeadDim(), span, c.attentionScale(), att, drop)
			// The relative embeddings' projections: their share of the
			// projection gradients, and dRel += dropout(dPos·[Wq; Wk; Wv])
			// (dRelSum is free until the LayerNorm below).
			rel := a.Rel
			if train && hid > 0 {
				rel = la.RelDrop
			}
			m.weightGrad(a, u, gl.QKV.W, ls[:], gls[:], s.dPos, rel, 2*span)
			be.BiasGrad(gl.QKV.B, s.dPos, 2*span, 3*h)
			if train && hid > 0 {
				be.MatMul(s.dRelSum, s.dPos, wqkv, 2*span, h, 3*h, false, false, 1, 0)
				be.Dropout(s.dRelSum, s.dRelSum, 2*span*h, hid, ts.stream(siteRelEmbeddings(c.NumHiddenLayers, i)))
				be.Add(s.dRel, s.dRel, s.dRelSum, 2*span*h)
			} else {
				be.MatMul(s.dRel, s.dPos, wqkv, 2*span, h, 3*h, false, false, 1, 1)
			}
		} else {
			be.AttentionQKVBackward(s.dQKV, s.dCtx, la.QKV, la.Probs, b.Size, b.Seq,
				c.NumAttentionHeads, c.HeadDim(), c.attentionScale(), att, drop)
		}
		// The projections' gradients, and dIn (the residual path) += dQKV·[Wq; Wk; Wv].
		m.weightGrad(a, u, gl.QKV.W, ls[:], gls[:], s.dQKV, la.In, t)
		be.BiasGrad(gl.QKV.B, s.dQKV, t, 3*h)
		be.MatMul(dIn, s.dQKV, wqkv, t, h, 3*h, false, false, 1, 1)
		// The next (lower) layer's output gradient.
		s.dX, s.dZ = s.dZ, s.dX
		dOut = s.dX
	}
	// Embeddings: [projection,] dropout, LayerNorm, gather.
	e, dEmb, dSum := c.EmbedDim(), dOut, s.dY
	if c.HasEmbProject() {
		embOut := a.EmbNorm
		if train && hid > 0 {
			embOut = a.Emb
		}
		m.linearBackward(a, &m.EmbProject, &g.EmbProject, s.dEmb, dOut, embOut, t, false)
		dEmb, dSum = s.dEmb, s.dEmbSum
	}
	be.Dropout(dEmb, dEmb, t*e, hid, dropStream(ts, siteEmbeddings()))
	dPosEmb := g.PosEmb
	if span > 0 {
		m.zeroPadding(dEmb, b, e)
		dPosEmb = s.dZeroPos // the zero table's gradient, discarded
		be.LayerNormBackward(s.dRelSum, g.RelNorm.W, g.RelNorm.B, s.dRel, m.RelEmb, a.RelMean, a.RelRstd, m.RelNorm.W, 2*span, h)
		be.Add(g.RelEmb, g.RelEmb, s.dRelSum, 2*span*h)
	}
	be.LayerNormBackward(dSum, g.EmbNorm.W, g.EmbNorm.B,
		dEmb, a.EmbSum, a.EmbMean, a.EmbRstd, m.EmbNorm.W, t, e)
	be.EmbedBackward(g.WordEmb, dPosEmb, g.TypeEmb, dSum, b.InputIDs, a.pos[:t], b.TokenTypeIDs, b.Size, b.Seq, e, c.PadTokenID)
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
