package model

import (
	"fmt"
	"math"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// LayerActs is what one encoder layer's forward leaves for its backward.
type LayerActs struct {
	// In is the layer input [tokens, hidden] (the previous layer's Out).
	In backend.Buffer
	// QKV holds the query, key and value projections [tokens, 3·hidden]
	// (backend.AttentionQKV's layout).
	QKV backend.Buffer
	// Probs are the attention probabilities before dropout [batch, heads, seq, seq].
	Probs backend.Buffer
	// Ctx is probs·V with heads concatenated [tokens, hidden].
	Ctx backend.Buffer
	// AttnSum is dropout(dense(Ctx)) + In before LayerNorm (formed in place
	// of the dense output); AttnOut is after it.
	AttnSum, AttnOut   backend.Buffer
	AttnMean, AttnRstd backend.Buffer
	// InterPre and Inter are the intermediate dense (with its bias) before
	// and after the activation.
	InterPre, Inter backend.Buffer
	// OutSum is dropout(dense(Inter)) + AttnOut before LayerNorm (formed in
	// place of the dense output); Out is after it.
	OutSum, Out      backend.Buffer
	OutMean, OutRstd backend.Buffer
	// Pos is DeBERTa's projections of the relative embeddings through the
	// layer's query and key (and value) weights [2·span, 3·hidden], and
	// RelDrop the relative embeddings after the layer's dropout of them
	// (transformers' pos_dropout, hidden_dropout_prob; training only).
	Pos, RelDrop backend.Buffer
}

// Activations holds every intermediate of a forward pass, sized for up to
// batch rows of up to seq tokens, and the backward pass's scratch buffers;
// it is reused across batches that fit.
type Activations struct {
	be                 backend.Backend
	seq, batch         int
	KeyMask            backend.Buffer // [batch, seq], 1 real / 0 padding
	EmbSum, EmbNorm    backend.Buffer // word+pos+type, and its LayerNorm [tokens, embedding size]
	EmbMean, EmbRstd   backend.Buffer
	Emb                backend.Buffer // dropout(EmbNorm), the first layer's input (or the projection's)
	Proj               backend.Buffer // ELECTRA's embeddings_project(Emb), the first layer's input [tokens, hidden]
	Layers             []LayerActs
	CLS                backend.Buffer // [batch, hidden] first-token hidden states
	CLSDrop            backend.Buffer // dropout(CLS), the head dense's input (RoBERTa, ELECTRA)
	PoolPre, Pooled    backend.Buffer // pooler (head) dense before and after its activation
	PooledDrop         backend.Buffer // dropout(Pooled), the classifier's input
	Logits             backend.Buffer // [batch, num_labels]
	host               []float32
	pos                []int32 // position ids of the last batch
	grad               *gradScratch
	lastBatch, lastSeq int
	train              *TrainStep
	modern             *modernActs // ModernBERT's own activations
	// DeBERTa: the LayerNorm'd relative embeddings and their statistics,
	// a zero position table (DeBERTa adds no position embeddings, Embed
	// reads one), and the relative bucket of each (query, key) for
	// sequences of relSeq.
	Rel, RelMean, RelRstd backend.Buffer
	zeroPos               backend.Buffer
	rel                   []int32
	relSeq                int
	// forwardOnly: every layer shares Layers[0]'s buffers (NewForwardActivations).
	forwardOnly bool
}

// gradScratch holds the backward pass's temporaries.
type gradScratch struct {
	dX, dY, dZ, dQKV, dCtx, dInter backend.Buffer
	dLogits, dPooled, dCLS         backend.Buffer
	dEmb, dEmbSum                  backend.Buffer // [tokens, embedding size] when the embeddings are projected
	gMix                           backend.Buffer
	dPos, dRel, dRelSum, dZeroPos  backend.Buffer // DeBERTa
	modern                         *modernScratch
}

// NewActivations allocates activations for batches of up to batch rows of
// up to seq tokens.
func (m *Model) NewActivations(batch, seq int) *Activations {
	return m.newActivations(batch, seq, false)
}

// NewForwardActivations allocates activations for forward passes alone
// (Forward or ForwardTrain, never Backward) of up to batch rows of up to
// seq tokens: every encoder layer writes the same buffers (a layer reads
// its input for the last time before it writes its output), so their size
// does not grow with the depth: what evaluation and prediction need.
func (m *Model) NewForwardActivations(batch, seq int) *Activations {
	return m.newActivations(batch, seq, true)
}

func (m *Model) newActivations(batch, seq int, forwardOnly bool) *Activations {
	be, c := m.Backend, m.Config
	t, h, e := batch*seq, c.HiddenSize, c.EmbedDim()
	a := &Activations{be: be, seq: seq, batch: batch, forwardOnly: forwardOnly}
	if c.Family() == ModernBERT {
		m.newModernActs(a, batch, seq)
		return a
	}
	a.KeyMask = be.Alloc(t)
	a.EmbSum, a.EmbNorm, a.Emb = be.Alloc(t*e), be.Alloc(t*e), be.Alloc(t*e)
	a.EmbMean, a.EmbRstd = be.Alloc(t), be.Alloc(t)
	if c.HasEmbProject() {
		a.Proj = be.Alloc(t * h)
	}
	var span int
	if c.Family() == DeBERTa {
		s, _ := c.deberta()
		span = s.Span
		a.Rel, a.RelMean, a.RelRstd = be.Alloc(2*span*h), be.Alloc(2*span), be.Alloc(2*span)
		a.zeroPos = be.Alloc(e)
		a.rel = make([]int32, seq*seq)
	}
	for i := range c.NumHiddenLayers {
		if forwardOnly && i > 0 {
			a.Layers = append(a.Layers, a.Layers[0])
			continue
		}
		var pos, relDrop backend.Buffer
		if span > 0 {
			pos, relDrop = be.Alloc(2*span*3*h), be.Alloc(2*span*h)
		}
		a.Layers = append(a.Layers, LayerActs{Pos: pos, RelDrop: relDrop,
			QKV:   be.Alloc(3 * t * h),
			Probs: be.Alloc(batch * c.NumAttentionHeads * seq * seq), Ctx: be.Alloc(t * h),
			AttnSum: be.Alloc(t * h), AttnOut: be.Alloc(t * h), AttnMean: be.Alloc(t), AttnRstd: be.Alloc(t),
			InterPre: be.Alloc(t * c.IntermediateSize), Inter: be.Alloc(t * c.IntermediateSize),
			OutSum: be.Alloc(t * h), Out: be.Alloc(t * h), OutMean: be.Alloc(t), OutRstd: be.Alloc(t),
		})
	}
	a.CLS, a.PoolPre, a.Pooled, a.PooledDrop = be.Alloc(batch*h), be.Alloc(batch*h), be.Alloc(batch*h), be.Alloc(batch*h)
	if c.headDropsInput() {
		a.CLSDrop = be.Alloc(batch * h)
	}
	a.Logits = be.Alloc(batch * c.NumLabels)
	a.host = make([]float32, t)
	a.pos = make([]int32, t)
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
			if b != nil {
				a.be.Free(b)
			}
		}
	}
	free(a.KeyMask, a.EmbSum, a.EmbNorm, a.Emb, a.EmbMean, a.EmbRstd, a.Proj, a.CLS, a.CLSDrop, a.PoolPre, a.Pooled, a.PooledDrop, a.Logits,
		a.Rel, a.RelMean, a.RelRstd, a.zeroPos)
	layers := a.Layers
	if a.forwardOnly {
		layers = layers[:min(1, len(layers))]
	}
	for _, l := range layers {
		free(l.QKV, l.Probs, l.Ctx, l.AttnSum, l.AttnOut, l.AttnMean, l.AttnRstd,
			l.InterPre, l.Inter, l.OutSum, l.Out, l.OutMean, l.OutRstd, l.Pos, l.RelDrop)
	}
	if g := a.grad; g != nil {
		free(g.dX, g.dY, g.dZ, g.dQKV, g.dCtx, g.dInter, g.dLogits, g.dPooled, g.dCLS, g.dEmb, g.dEmbSum, g.gMix,
			g.dPos, g.dRel, g.dRelSum, g.dZeroPos)
		if ms := g.modern; ms != nil {
			free(ms.dInterPre, ms.dFinal, ms.dN)
		}
	}
	if a.modern != nil {
		a.modern.free(a.be, a.forwardOnly)
	}
}

// TrainStep describes one training-mode forward pass: the dropout
// probabilities and the keys of their random streams.
type TrainStep struct {
	// HiddenDropout applies to the embeddings and to each dense output
	// before its residual sum (hidden_dropout_prob).
	HiddenDropout float32
	// AttentionDropout applies to the attention probabilities.
	AttentionDropout float32
	// ClassifierDropout applies to the pooled output before the classifier
	// and, for RoBERTa and ELECTRA, to the first token before the head's dense.
	ClassifierDropout float32
	// EmbeddingDropout is ModernBERT's embedding_dropout (the other
	// families drop their embeddings with HiddenDropout). ModernBERT's
	// HiddenDropout is mlp_dropout and its AttentionDropout applies to the
	// attention probabilities and to the attention output.
	EmbeddingDropout float32
	// Seed and Step key every mask: site s of step Step draws from
	// philox.Stream{Seed, Step, philox.DropoutID(s)}.
	Seed, Step uint64
}

// Dropout sites: the embeddings, then per layer the attention
// probabilities, the attention output and the layer output, then the
// classifier input and the head dense's input (RoBERTa, ELECTRA), then per
// layer DeBERTa's relative embeddings.
func siteEmbeddings() int                     { return 0 }
func siteAttnProbs(layer int) int             { return 1 + 3*layer }
func siteAttnOutput(layer int) int            { return 2 + 3*layer }
func siteLayerOutput(layer int) int           { return 3 + 3*layer }
func siteClassifier(layers int) int           { return 1 + 3*layers }
func siteHeadInput(layers int) int            { return 2 + 3*layers }
func siteRelEmbeddings(layers, layer int) int { return 3 + 3*layers + layer }

// headDropsInput reports whether the head applies dropout to the first
// token before its dense layer (RobertaClassificationHead,
// ElectraClassificationHead).
func (c *Config) headDropsInput() bool { f := c.Family(); return f == RoBERTa || f == ELECTRA }

// dropsAttnOutput reports whether the attention output is dropped out
// before its residual sum (not in DistilBERT's layer).
func (c *Config) dropsAttnOutput() bool { return c.Family() != DistilBERT }

// dropsLayerOutput reports whether the feed-forward output is dropped out
// before its residual sum (not in ALBERT's layer).
func (c *Config) dropsLayerOutput() bool { return c.Family() != ALBERT }

// headActivation is the activation after the head's dense layer: tanh
// (BERT's pooler, RoBERTa, ALBERT), erf GELU (ELECTRA, whatever hidden_act
// says; DeBERTa's pooler_hidden_act), ReLU (DistilBERT).
func (c *Config) headActivation() (act backend.Activation, tanh bool) {
	switch c.Family() {
	case ELECTRA:
		return backend.GeluErf, false
	case DistilBERT:
		return backend.ReLU, false
	case DeBERTa:
		return backend.GeluErf, false
	}
	return 0, true
}

func (ts *TrainStep) stream(site int) philox.Stream {
	return philox.Stream{Seed: ts.Seed, Step: ts.Step, ID: philox.DropoutID(site)}
}

// dropout applies dropout at a site in place (a no-op outside training or at p 0).
func (m *Model) dropout(x backend.Buffer, n int, p float32, ts *TrainStep, site int) {
	if ts == nil || p == 0 {
		return
	}
	m.Backend.Dropout(x, x, n, p, ts.stream(site))
}

// The weights a pass of a Linear can use: W itself, mixout's W~, or at
// p ≥ 1 its target U (backend.MixoutModeOf).
const (
	useW      = backend.MixoutOff
	useMixed  = backend.MixoutMixed
	useTarget = backend.MixoutTarget
)

// use says which weight a pass uses: in training with mixout, the mode of
// its p (W~, or U at p ≥ 1), else W.
func (l *Linear) use(train bool) backend.MixoutMode {
	if !train || l.Mix == nil {
		return useW
	}
	return backend.MixoutModeOf(l.Mix.P)
}

// weight is the weight a pass uses (see use).
func (l *Linear) weight(train bool) backend.Buffer {
	switch l.use(train) {
	case useMixed:
		return l.Mix.Weight
	case useTarget:
		return l.Mix.Target
	}
	return l.W
}

// qkvWeight is the concatenated weight [3·hidden, hidden] a pass of the
// layer's projections uses, and which one it is (see use): the query, key
// and value Linears must use the same kind (mixft mixes all of them or
// none), since the one GEMM reads one concatenation.
func (l *Layer) qkvWeight(train bool) (backend.Buffer, backend.MixoutMode) {
	u := l.Query.use(train)
	if l.Key.use(train) != u || l.Value.use(train) != u {
		panic(fmt.Sprintf("model: %s, key and value mix differently: the fused projection needs all three mixed alike", l.Query.Name))
	}
	switch u {
	case useMixed:
		return l.QKV.Mixed, u
	case useTarget:
		return l.QKV.Target, u
	}
	return l.QKV.W, u
}

// linear writes out = x Wᵀ + b for rows rows of x.
func (m *Model) linear(out, x backend.Buffer, l *Linear, rows int, train bool) {
	m.dense(out, x, l, rows, train)
	m.Backend.AddBias(out, l.B, rows, l.Out)
}

// dense writes out = x Wᵀ, the bias left to a fused op.
func (m *Model) dense(out, x backend.Buffer, l *Linear, rows int, train bool) {
	m.Backend.MatMul(out, x, l.weight(train), rows, l.Out, l.In, false, true, 1, 0)
}

// Forward runs the model in evaluation mode (no dropout, no mixout) on b,
// leaving every intermediate in a. The batch must have passed Check and fit a.
func (m *Model) Forward(b *Batch, a *Activations) { m.forward(b, a, nil) }

// ForwardTrain runs the model in training mode: dropout as ts says, and
// mixout's W~ for every Linear with a Mix (see MixWeights).
func (m *Model) ForwardTrain(b *Batch, a *Activations, ts TrainStep) { m.forward(b, a, &ts) }

func (m *Model) forward(b *Batch, a *Activations, ts *TrainStep) {
	be, c := m.Backend, m.Config
	if !a.Fits(b.Size, b.Seq) {
		panic(fmt.Sprintf("model: batch %d×%d does not fit activations %d×%d", b.Size, b.Seq, a.batch, a.seq))
	}
	a.lastBatch, a.lastSeq, a.train = b.Size, b.Seq, ts
	if c.Family() == ModernBERT {
		m.forwardModern(b, a, ts)
		return
	}
	train := ts != nil
	t, h := b.Size*b.Seq, c.HiddenSize
	eps := float32(c.LayerNormEps)
	mask := a.host[:t]
	for i, v := range b.AttentionMask {
		mask[i] = float32(v)
	}
	be.Upload(a.KeyMask, mask)
	var hid, att float32
	var drop, hidDrop philox.Stream
	if train {
		hid, att = ts.HiddenDropout, ts.AttentionDropout
	}

	e := c.EmbedDim()
	pos := a.pos[:t]
	c.PositionIDs(pos, b)
	posEmb := m.PosEmb
	if c.Family() == DeBERTa {
		posEmb = a.zeroPos // one zero row, which every token reads
		clear(pos)
	}
	be.Embed(a.EmbSum, m.WordEmb, posEmb, m.TypeEmb, b.InputIDs, pos, b.TokenTypeIDs, b.Size, b.Seq, e)
	be.LayerNorm(a.EmbNorm, a.EmbMean, a.EmbRstd, a.EmbSum, m.EmbNorm.W, m.EmbNorm.B, t, e, eps)
	var span int
	if c.Family() == DeBERTa {
		m.zeroPadding(a.EmbNorm, b, e)
		s, _ := c.deberta()
		span = s.Span
		if a.relSeq != b.Seq { // the buckets depend on the sequence length only
			s.relIndex(a.rel[:b.Seq*b.Seq], b.Seq)
			a.relSeq = b.Seq
		}
		be.LayerNorm(a.Rel, a.RelMean, a.RelRstd, m.RelEmb, m.RelNorm.W, m.RelNorm.B, 2*span, h, eps)
	}
	x := a.EmbNorm
	if train && hid > 0 {
		be.Dropout(a.Emb, a.EmbNorm, t*e, hid, ts.stream(siteEmbeddings()))
		x = a.Emb
	}
	if c.HasEmbProject() {
		m.linear(a.Proj, x, &m.EmbProject, t, train)
		x = a.Proj
	}
	scale := c.attentionScale()
	for i := range c.NumHiddenLayers {
		l, la := &m.Layers[c.LayerOf(i)], &a.Layers[i]
		la.In = x
		// Query, key and value: one GEMM over the concatenated weight.
		wqkv, _ := l.qkvWeight(train)
		be.MatMul(la.QKV, x, wqkv, t, 3*h, h, false, true, 1, 0)
		be.AddBias(la.QKV, l.QKV.B, t, 3*h)
		if train && att > 0 {
			drop = ts.stream(siteAttnProbs(i))
		}
		if span > 0 {
			// The relative embeddings, after the layer's dropout of them,
			// through the same projections (and the same mixout mask).
			rel := a.Rel
			if train && hid > 0 {
				be.Dropout(la.RelDrop, a.Rel, 2*span*h, hid, ts.stream(siteRelEmbeddings(c.NumHiddenLayers, i)))
				rel = la.RelDrop
			}
			be.MatMul(la.Pos, rel, wqkv, 2*span, 3*h, h, false, true, 1, 0)
			be.AddBias(la.Pos, l.QKV.B, 2*span, 3*h)
			be.(backend.Disentangled).DisentangledAttention(la.Ctx, la.Probs, la.QKV, la.Pos, a.KeyMask, a.rel[:b.Seq*b.Seq],
				b.Size, b.Seq, c.NumAttentionHeads, c.HeadDim(), span, scale, att, drop)
		} else {
			be.AttentionQKV(la.Ctx, la.Probs, la.QKV, a.KeyMask, b.Size, b.Seq, c.NumAttentionHeads, c.HeadDim(), scale, att, drop)
		}
		// Dense, then bias, dropout, residual and LayerNorm in one pass.
		m.dense(la.AttnSum, la.Ctx, &l.AttnOut, t, train)
		attnHid := float32(0) // DistilBERT has no attention-output dropout
		if c.dropsAttnOutput() {
			attnHid = hid
		}
		if train {
			hidDrop = ts.stream(siteAttnOutput(i))
		}
		be.BiasDropoutAddLayerNorm(la.AttnOut, la.AttnSum, la.AttnMean, la.AttnRstd, la.AttnSum, l.AttnOut.B, x,
			l.AttnNorm.W, l.AttnNorm.B, t, h, eps, attnHid, hidDrop)
		m.dense(la.InterPre, la.AttnOut, &l.Inter, t, train)
		be.BiasActivate(la.Inter, la.InterPre, l.Inter.B, t, c.IntermediateSize, m.act)
		m.dense(la.OutSum, la.Inter, &l.Output, t, train)
		outHid := float32(0) // ALBERT has no feed-forward output dropout
		if c.dropsLayerOutput() {
			outHid = hid
		}
		if train {
			hidDrop = ts.stream(siteLayerOutput(i))
		}
		be.BiasDropoutAddLayerNorm(la.Out, la.OutSum, la.OutMean, la.OutRstd, la.OutSum, l.Output.B, la.AttnOut,
			l.OutNorm.W, l.OutNorm.B, t, h, eps, outHid, hidDrop)
		x = la.Out
	}
	be.FirstToken(a.CLS, x, b.Size, b.Seq, h)
	cls := a.CLS
	if c.headDropsInput() && train && ts.ClassifierDropout > 0 {
		be.Dropout(a.CLSDrop, a.CLS, b.Size*h, ts.ClassifierDropout, ts.stream(siteHeadInput(c.NumHiddenLayers)))
		cls = a.CLSDrop
	}
	m.linear(a.PoolPre, cls, &m.Pooler, b.Size, train)
	if act, tanh := c.headActivation(); tanh {
		be.Tanh(a.Pooled, a.PoolPre, b.Size*h)
	} else {
		be.Activate(a.Pooled, a.PoolPre, b.Size*h, act)
	}
	pooled := a.Pooled
	if train && ts.ClassifierDropout > 0 {
		be.Dropout(a.PooledDrop, a.Pooled, b.Size*h, ts.ClassifierDropout, ts.stream(siteClassifier(c.NumHiddenLayers)))
		pooled = a.PooledDrop
	}
	m.linear(a.Logits, pooled, &m.Classifier, b.Size, train)
}

// attentionScale is the attention scores' factor: 1/√head_dim, DeBERTa's
// 1/√(3·head_dim) (content, c2p and p2c scores summed).
func (c *Config) attentionScale() float32 {
	d := float64(c.HeadDim())
	if c.Family() == DeBERTa {
		d *= 3
	}
	return float32(1 / math.Sqrt(d))
}

// zeroPadding zeroes the rows [tokens, width] of x of the batch's padding
// tokens (attention mask 0), as DeBERTa multiplies its embeddings (and
// their gradient) by the mask.
func (m *Model) zeroPadding(x backend.Buffer, b *Batch, width int) {
	for k, v := range b.AttentionMask {
		if v == 0 {
			m.Backend.Zero(m.Backend.View(x, k*width, width), width)
		}
	}
}

// Sequence returns the last layer's hidden states of the last forward pass.
func (a *Activations) Sequence() backend.Buffer {
	if a.modern != nil {
		return a.modern.Final
	}
	if len(a.Layers) == 0 {
		return a.EmbNorm
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
