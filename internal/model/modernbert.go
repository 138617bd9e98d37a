package model

import (
	"fmt"
	"math"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// ModernBERT (transformers' ModernBertForSequenceClassification), layer by
// layer:
//
//	embeddings: x = dropout(norm(tok_embeddings[ids]))         (no positions)
//	layer i:    n = attn_norm(x)                               (identity on layer 0)
//	            h = x + dropout(Wo(attention(rope(Wqkv n))))   (window on local layers)
//	            y = h + Wo(dropout(act(a) ⊙ g)), [a | g] = Wi(mlp_norm(h))
//	final:      s = final_norm(y)
//	head:       p = pool(s) (first token, or mean of the real tokens)
//	            logits = classifier(dropout(norm(act(dense(p)))))
//
// Dropout probabilities: embedding_dropout (TrainStep.EmbeddingDropout),
// attention_dropout on the probabilities and on Wo's output
// (AttentionDropout), mlp_dropout (HiddenDropout), classifier_dropout.

// modernNames are ModernBERT's state-dict names.
const (
	modernEmb   = "model.embeddings."
	modernLayer = "model.layers.%d."
)

func (c *Config) modernLayout(p *Params) []Tensor {
	m, h, inter := c.Modern, c.HiddenSize, c.IntermediateSize
	if m == nil { // model_type set on another family's configuration: ModernBertConfig's defaults
		var d Config
		modernDefaults(&d)
		m = d.Modern
	}
	if len(p.Layers) != c.NumHiddenLayers {
		p.Layers = make([]Layer, c.NumHiddenLayers)
	}
	var ts []Tensor
	add := func(buf *backend.Buffer, name string, kind ParamKind, blk Block, layer int, shape ...int) {
		ts = append(ts, Tensor{ParamSpec: ParamSpec{Name: name, Shape: shape, Kind: kind, Block: blk, Layer: layer}, Buf: buf})
	}
	linear := func(l *Linear, name string, bias bool, blk Block, layer, out, in int) {
		l.Name, l.Out, l.In = name, out, in
		add(&l.W, name+".weight", LinearWeight, blk, layer, out, in)
		if bias {
			add(&l.B, name+".bias", Bias, blk, layer, out)
		}
	}
	norm := func(n *Norm, name string, blk Block, layer int) {
		add(&n.W, name+".weight", NormWeight, blk, layer, h)
		if m.NormBias {
			add(&n.B, name+".bias", NormBias, blk, layer, h)
		}
	}
	add(&p.WordEmb, modernEmb+"tok_embeddings.weight", Embedding, Embeddings, 0, c.VocabSize, h)
	norm(&p.EmbNorm, modernEmb+"norm", Embeddings, 0)
	for i := range p.Layers {
		l, pre := &p.Layers[i], fmt.Sprintf(modernLayer, i)
		if i > 0 {
			norm(&l.AttnNorm, pre+"attn_norm", Encoder, i)
		}
		linear(&l.Wqkv, pre+"attn.Wqkv", m.AttentionBias, Encoder, i, 3*h, h)
		linear(&l.AttnOut, pre+"attn.Wo", m.AttentionBias, Encoder, i, h, h)
		norm(&l.OutNorm, pre+"mlp_norm", Encoder, i)
		linear(&l.Inter, pre+"mlp.Wi", m.MLPBias, Encoder, i, 2*inter, h)
		linear(&l.Output, pre+"mlp.Wo", m.MLPBias, Encoder, i, h, inter)
	}
	norm(&p.FinalNorm, "model.final_norm", Encoder, c.NumHiddenLayers-1)
	linear(&p.Pooler, "head.dense", m.ClassifierBias, Pooler, 0, h, h)
	norm(&p.HeadNorm, "head.norm", Pooler, 0)
	linear(&p.Classifier, "classifier", true, Classifier, 0, c.NumLabels, h)
	return ts
}

// modernActs are the activations only ModernBERT has.
type modernActs struct {
	// Normed is each layer's attn_norm output (nil on layer 0, which
	// reads its input); LSE the attention's log-sum-exp rows.
	Normed, NormMean, NormRstd, LSE []backend.Buffer
	// Final is final_norm's output.
	Final, FinalMean, FinalRstd backend.Buffer
	// HeadNorm is head.norm's output (its input is Activations.Pooled).
	HeadNorm, HeadMean, HeadRstd backend.Buffer
	// zero is a buffer of zeros standing in for missing biases; sink takes
	// their (discarded) gradients.
	zero, sink backend.Buffer
}

func (m *Model) newModernActs(a *Activations, batch, seq int) {
	be, c := m.Backend, m.Config
	t, h, inter := batch*seq, c.HiddenSize, c.IntermediateSize
	a.KeyMask = be.Alloc(t)
	a.EmbSum, a.EmbNorm, a.Emb = be.Alloc(t*h), be.Alloc(t*h), be.Alloc(t*h)
	a.EmbMean, a.EmbRstd = be.Alloc(t), be.Alloc(t)
	ma := &modernActs{}
	for i := range c.NumHiddenLayers {
		if a.forwardOnly && i > 0 { // NewForwardActivations: layer 0's buffers
			a.Layers, ma.LSE = append(a.Layers, a.Layers[0]), append(ma.LSE, ma.LSE[0])
		} else {
			a.Layers = append(a.Layers, LayerActs{
				QKV: be.Alloc(3 * t * h), Ctx: be.Alloc(t * h),
				AttnSum: be.Alloc(t * h), AttnOut: be.Alloc(t * h), AttnMean: be.Alloc(t), AttnRstd: be.Alloc(t),
				InterPre: be.Alloc(2 * t * inter), Inter: be.Alloc(t * inter), Out: be.Alloc(t * h),
			})
			ma.LSE = append(ma.LSE, be.Alloc(batch*c.NumAttentionHeads*seq))
		}
		var n, mean, rstd backend.Buffer
		switch {
		case i == 0: // layer 0 has no attn_norm
		case a.forwardOnly && i > 1: // layer 1's
			n, mean, rstd = ma.Normed[1], ma.NormMean[1], ma.NormRstd[1]
		default:
			n, mean, rstd = be.Alloc(t*h), be.Alloc(t), be.Alloc(t)
		}
		ma.Normed, ma.NormMean, ma.NormRstd = append(ma.Normed, n), append(ma.NormMean, mean), append(ma.NormRstd, rstd)
	}
	ma.Final, ma.FinalMean, ma.FinalRstd = be.Alloc(t*h), be.Alloc(t), be.Alloc(t)
	ma.HeadNorm, ma.HeadMean, ma.HeadRstd = be.Alloc(batch*h), be.Alloc(batch), be.Alloc(batch)
	n := max(3*h, 2*inter, c.NumLabels)
	ma.zero, ma.sink = be.Alloc(n), be.Alloc(n)
	a.modern = ma
	a.CLS, a.PoolPre, a.Pooled, a.PooledDrop = be.Alloc(batch*h), be.Alloc(batch*h), be.Alloc(batch*h), be.Alloc(batch*h)
	a.Logits = be.Alloc(batch * c.NumLabels)
	a.host = make([]float32, t)
	a.pos = make([]int32, t)
}

// free releases the buffers; forwardOnly: the layers' are shared (layer
// 0's LSE, layer 1's attn_norm output).
func (ma *modernActs) free(be backend.Backend, forwardOnly bool) {
	normed, mean, rstd, lse := ma.Normed, ma.NormMean, ma.NormRstd, ma.LSE
	if forwardOnly {
		normed, mean, rstd, lse = normed[:min(2, len(normed))], mean[:min(2, len(mean))], rstd[:min(2, len(rstd))], lse[:min(1, len(lse))]
	}
	for _, bs := range [][]backend.Buffer{normed, mean, rstd, lse,
		{ma.Final, ma.FinalMean, ma.FinalRstd, ma.HeadNorm, ma.HeadMean, ma.HeadRstd, ma.zero, ma.sink}} {
		for _, b := range bs {
			if b != nil {
				be.Free(b)
			}
		}
	}
}

// or returns b, or the zero buffer when b is nil (a missing bias).
func (ma *modernActs) or(b backend.Buffer) backend.Buffer {
	if b == nil {
		return ma.zero
	}
	return b
}

// orSink returns b, or the sink when b is nil (a missing bias's gradient).
func (ma *modernActs) orSink(b backend.Buffer) backend.Buffer {
	if b == nil {
		return ma.sink
	}
	return b
}

// modernDense writes out = x Wᵀ (+ b when the Linear has a bias).
func (m *Model) modernDense(out, x backend.Buffer, l *Linear, rows int, train bool) {
	m.dense(out, x, l, rows, train)
	if l.B != nil {
		m.Backend.AddBias(out, l.B, rows, l.Out)
	}
}

// realCounts returns each row's count of real tokens (at least 1).
func realCounts(b *Batch) []int {
	n := make([]int, b.Size)
	for r := range n {
		for s := 0; s < b.Seq; s++ {
			if b.AttentionMask[r*b.Seq+s] != 0 {
				n[r]++
			}
		}
		n[r] = max(n[r], 1)
	}
	return n
}

func (m *Model) forwardModern(b *Batch, a *Activations, ts *TrainStep) {
	be, c, ma := m.Backend, m.Config, a.modern
	train := ts != nil
	t, h, inter := b.Size*b.Seq, c.HiddenSize, c.IntermediateSize
	eps := float32(c.LayerNormEps)
	mask := a.host[:t]
	for i, v := range b.AttentionMask {
		mask[i] = float32(v)
	}
	be.Upload(a.KeyMask, mask)
	var embP, attP, mlpP float32
	var drop, hidDrop philox.Stream
	if train {
		embP, attP, mlpP = ts.EmbeddingDropout, ts.AttentionDropout, ts.HiddenDropout
	}
	// Embeddings: the token rows alone (Embed's position term reads the
	// zero row 0 of a one-row table: ModernBERT has no position table).
	pos := a.pos[:t]
	clear(pos)
	be.Embed(a.EmbSum, m.WordEmb, ma.zero, nil, b.InputIDs, pos, nil, b.Size, b.Seq, h)
	be.LayerNorm(a.EmbNorm, a.EmbMean, a.EmbRstd, a.EmbSum, m.EmbNorm.W, ma.or(m.EmbNorm.B), t, h, eps)
	x := a.EmbNorm
	if embP > 0 {
		be.Dropout(a.Emb, a.EmbNorm, t*h, embP, ts.stream(siteEmbeddings()))
		x = a.Emb
	}
	scale := float32(1 / math.Sqrt(float64(c.HeadDim())))
	for i := range m.Layers {
		l, la := &m.Layers[i], &a.Layers[i]
		la.In = x
		n := x
		if i > 0 {
			n = ma.Normed[i]
			be.LayerNorm(n, ma.NormMean[i], ma.NormRstd[i], x, l.AttnNorm.W, ma.or(l.AttnNorm.B), t, h, eps)
		}
		m.modernDense(la.QKV, n, &l.Wqkv, t, train)
		drop = philox.Stream{}
		if attP > 0 {
			drop = ts.stream(siteAttnProbs(i))
		}
		be.RotaryAttention(la.Ctx, ma.LSE[i], la.QKV, a.KeyMask, b.Size, b.Seq, c.NumAttentionHeads, c.HeadDim(),
			c.AttnWindow(i), float32(c.RopeTheta(i)), scale, attP, drop)
		// h = x + dropout(Wo ctx + b) in AttnSum, and mlp_norm(h) in AttnOut.
		m.dense(la.AttnSum, la.Ctx, &l.AttnOut, t, train)
		if train {
			hidDrop = ts.stream(siteAttnOutput(i))
		}
		be.BiasDropoutAddLayerNorm(la.AttnOut, la.AttnSum, la.AttnMean, la.AttnRstd, la.AttnSum, ma.or(l.AttnOut.B), x,
			l.OutNorm.W, ma.or(l.OutNorm.B), t, h, eps, attP, hidDrop)
		// GeGLU: act(a) ⊙ g for [a | g] = Wi(mlp_norm(h)), dropout in place.
		m.modernDense(la.InterPre, la.AttnOut, &l.Inter, t, train)
		be.GatedActivate(la.Inter, la.InterPre, t, inter, m.act)
		if mlpP > 0 {
			be.Dropout(la.Inter, la.Inter, t*inter, mlpP, ts.stream(siteLayerOutput(i)))
		}
		m.modernDense(la.Out, la.Inter, &l.Output, t, train)
		be.Add(la.Out, la.Out, la.AttnSum, t*h)
		x = la.Out
	}
	be.LayerNorm(ma.Final, ma.FinalMean, ma.FinalRstd, x, m.FinalNorm.W, ma.or(m.FinalNorm.B), t, h, eps)
	// Pooling.
	if c.Modern.ClassifierPooling == "mean" {
		for r, n := range realCounts(b) {
			be.MatMul(be.View(a.CLS, r*h, h), be.View(a.KeyMask, r*b.Seq, b.Seq), be.View(ma.Final, r*b.Seq*h, b.Seq*h),
				1, h, b.Seq, false, false, 1/float32(n), 0)
		}
	} else {
		be.FirstToken(a.CLS, ma.Final, b.Size, b.Seq, h)
	}
	// Head: dense, activation, norm, dropout, classifier.
	m.modernDense(a.PoolPre, a.CLS, &m.Pooler, b.Size, train)
	if act, tanh, _ := c.modernHeadActivation(); tanh {
		be.Tanh(a.Pooled, a.PoolPre, b.Size*h)
	} else {
		be.Activate(a.Pooled, a.PoolPre, b.Size*h, act)
	}
	be.LayerNorm(ma.HeadNorm, ma.HeadMean, ma.HeadRstd, a.Pooled, m.HeadNorm.W, ma.or(m.HeadNorm.B), b.Size, h, eps)
	pooled := ma.HeadNorm
	if train && ts.ClassifierDropout > 0 {
		be.Dropout(a.PooledDrop, ma.HeadNorm, b.Size*h, ts.ClassifierDropout, ts.stream(siteClassifier(len(m.Layers))))
		pooled = a.PooledDrop
	}
	m.linear(a.Logits, pooled, &m.Classifier, b.Size, train)
}

// modernScratch holds ModernBERT's backward temporaries besides gradScratch's.
type modernScratch struct {
	dInterPre, dFinal, dN backend.Buffer
}

func (m *Model) backwardModern(b *Batch, a *Activations, g *Grads) {
	be, c, ma := m.Backend, m.Config, a.modern
	s := a.grad
	ms := s.modern
	ts := a.train
	train := ts != nil
	t, h, inter := b.Size*b.Seq, c.HiddenSize, c.IntermediateSize
	var embP, attP, mlpP float32
	var drop philox.Stream
	if train {
		embP, attP, mlpP = ts.EmbeddingDropout, ts.AttentionDropout, ts.HiddenDropout
	}
	bgrad := func(gb, dy backend.Buffer, rows, cols int) {
		if gb != nil {
			be.BiasGrad(gb, dy, rows, cols)
		}
	}
	// Head.
	pooled := ma.HeadNorm
	if train && ts.ClassifierDropout > 0 {
		pooled = a.PooledDrop
	}
	m.linearBackward(a, &m.Classifier, &g.Classifier, s.dPooled, s.dLogits, pooled, b.Size, false)
	m.dropout(s.dPooled, b.Size*h, classifierP(ts), ts, siteClassifier(len(m.Layers)))
	be.LayerNormBackward(s.dCLS, g.HeadNorm.W, ma.orSink(g.HeadNorm.B), s.dPooled, a.Pooled, ma.HeadMean, ma.HeadRstd, m.HeadNorm.W, b.Size, h)
	if act, tanh, _ := c.modernHeadActivation(); tanh {
		be.TanhBackward(s.dCLS, s.dCLS, a.Pooled, b.Size*h)
	} else {
		be.ActivateBackward(s.dCLS, s.dCLS, a.PoolPre, b.Size*h, act)
	}
	m.denseBackward(a, &m.Pooler, &g.Pooler, s.dPooled, s.dCLS, a.CLS, b.Size, false)
	bgrad(g.Pooler.B, s.dCLS, b.Size, h)
	// Pooling, then final_norm.
	if c.Modern.ClassifierPooling == "mean" {
		for r, n := range realCounts(b) {
			be.MatMul(be.View(ms.dFinal, r*b.Seq*h, b.Seq*h), be.View(a.KeyMask, r*b.Seq, b.Seq), be.View(s.dPooled, r*h, h),
				b.Seq, h, 1, false, false, 1/float32(n), 0)
		}
	} else {
		be.FirstTokenBackward(ms.dFinal, s.dPooled, b.Size, b.Seq, h)
	}
	x := a.Layers[len(a.Layers)-1].Out
	dOut := s.dX
	be.LayerNormBackward(dOut, g.FinalNorm.W, ma.orSink(g.FinalNorm.B), ms.dFinal, x, ma.FinalMean, ma.FinalRstd, m.FinalNorm.W, t, h)

	for i := len(m.Layers) - 1; i >= 0; i-- {
		l, gl, la := &m.Layers[i], &g.Layers[i], &a.Layers[i]
		// y = h + Wo(dropout(GeGLU(Wi(mlp_norm(h))))): dOut reaches h directly
		// and through the MLP.
		bgrad(gl.Output.B, dOut, t, h)
		m.denseBackward(a, &l.Output, &gl.Output, s.dInter, dOut, la.Inter, t, false)
		if mlpP > 0 {
			be.Dropout(s.dInter, s.dInter, t*inter, mlpP, ts.stream(siteLayerOutput(i)))
		}
		be.GatedActivateBackward(ms.dInterPre, s.dInter, la.InterPre, t, inter, m.act)
		bgrad(gl.Inter.B, ms.dInterPre, t, 2*inter)
		dN := ms.dN // d mlp_norm(h)
		m.denseBackward(a, &l.Inter, &gl.Inter, dN, ms.dInterPre, la.AttnOut, t, false)
		dH := s.dY
		be.LayerNormBackward(dH, gl.OutNorm.W, ma.orSink(gl.OutNorm.B), dN, la.AttnSum, la.AttnMean, la.AttnRstd, l.OutNorm.W, t, h)
		be.Add(dH, dH, dOut, t*h)
		// h = x + dropout(Wo ctx + b): dZ = dropout(dH) to Wo's output.
		dZ := s.dZ
		be.Dropout(dZ, dH, t*h, attP, dropStream(ts, siteAttnOutput(i)))
		bgrad(gl.AttnOut.B, dZ, t, h)
		m.denseBackward(a, &l.AttnOut, &gl.AttnOut, s.dCtx, dZ, la.Ctx, t, false)
		drop = philox.Stream{}
		if attP > 0 {
			drop = ts.stream(siteAttnProbs(i))
		}
		be.RotaryAttentionBackward(s.dQKV, s.dCtx, la.Ctx, ma.LSE[i], la.QKV, a.KeyMask, b.Size, b.Seq, c.NumAttentionHeads, c.HeadDim(),
			c.AttnWindow(i), float32(c.RopeTheta(i)), float32(1/math.Sqrt(float64(c.HeadDim()))), attP, drop)
		// Wqkv reads n = attn_norm(x) (x itself on layer 0).
		n := la.In
		if i > 0 {
			n = ma.Normed[i]
		}
		bgrad(gl.Wqkv.B, s.dQKV, t, 3*h)
		m.weightGrad(a, l.Wqkv.use(true), gl.Wqkv.W, []*Linear{&l.Wqkv}, []*Linear{&gl.Wqkv}, s.dQKV, n, t)
		dX := dOut // dOut is spent; it takes the layer input's gradient
		if i > 0 {
			be.MatMul(dN, s.dQKV, l.Wqkv.weight(true), t, h, 3*h, false, false, 1, 0)
			be.LayerNormBackward(dX, gl.AttnNorm.W, ma.orSink(gl.AttnNorm.B), dN, la.In, ma.NormMean[i], ma.NormRstd[i], l.AttnNorm.W, t, h)
			be.Add(dX, dX, dH, t*h)
		} else {
			be.Dropout(dX, dH, t*h, 0, philox.Stream{}) // a copy
			be.MatMul(dX, s.dQKV, l.Wqkv.weight(true), t, h, 3*h, false, false, 1, 1)
		}
		dOut = dX
	}
	// Embeddings: dropout, norm, gather.
	be.Dropout(dOut, dOut, t*h, embP, dropStream(ts, siteEmbeddings()))
	be.LayerNormBackward(s.dY, g.EmbNorm.W, ma.orSink(g.EmbNorm.B), dOut, a.EmbSum, a.EmbMean, a.EmbRstd, m.EmbNorm.W, t, h)
	be.EmbedBackward(g.WordEmb, ma.sink, nil, s.dY, b.InputIDs, a.pos[:t], nil, b.Size, b.Seq, h, c.PadTokenID)
}

func (m *Model) newModernScratch(a *Activations) *modernScratch {
	be, c := m.Backend, m.Config
	t := a.batch * a.seq
	return &modernScratch{dInterPre: be.Alloc(2 * t * c.IntermediateSize), dFinal: be.Alloc(t * c.HiddenSize), dN: be.Alloc(t * c.HiddenSize)}
}

// initModernHeadNorm initialises head.norm (gain 1, shift 0, as
// transformers) when the files lack it: a bare ModernBertModel checkpoint.
func (ck *Checkpoint) initModernHeadNorm(want map[string]ParamSpec) {
	for _, name := range []string{"head.norm.weight", "head.norm.bias"} {
		spec, ok := want[name]
		if _, have := ck.Weights[name]; !ok || have {
			continue
		}
		v := make([]float32, spec.Size())
		if spec.Kind == NormWeight {
			for i := range v {
				v[i] = 1
			}
		}
		ck.Weights[name] = v
		ck.Initialized = append(ck.Initialized, name)
	}
}
