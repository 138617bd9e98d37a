// Package backend defines the operations the BERT model needs from a compute
// device. The model calls only these; it never knows which backend runs them.
//
// Every operation exists on the pure-Go CPU backend (internal/cpu) first; that
// implementation is the reference every other backend is tested against with
// the conformance suite in this package.
//
// Conventions: buffers hold float32 values in row-major order; dimensions are
// given explicitly on every call; out-of-place results are written, never
// accumulated, unless the doc comment says so.
//
// # Fused ops
//
// A transformer layer's memory-bound steps come in fused form as well, each
// giving the results of the unfused ops it replaces (and, for dropout,
// drawing the same mask from the same stream element by element):
// BiasActivate (bias + GELU/ReLU), BiasDropoutAddLayerNorm (bias, dropout,
// residual sum and LayerNorm) and their backwards, which also produce the
// bias gradient. The query, key and value projections are one GEMM over the
// concatenated weight [Wq; Wk; Wv] into a [tokens, 3·hidden] buffer that
// AttentionQKV and AttentionQKVBackward read and write in place (the packed
// layout is attention's only one, rather than three buffers with a
// leading-dimension argument: buffers have no strides or offsets, and the
// model needs no other layout). Mixout
// stays exact: the three weights keep their own masks, per input column of
// each, drawn from their own stream IDs; Mixout writes each W~ into its view
// (View) of the concatenated W~, and MixoutBackward reads each weight's rows
// of the concatenated gradient.
package backend

import "github.com/mixft/mixft/internal/philox"

// Buffer is a one-dimensional float32 array in a backend's memory.
type Buffer interface {
	// Len is the number of float32 elements.
	Len() int
}

// Activation selects the nonlinearity of BERT's intermediate layer.
type Activation int

// The activations of Hugging Face's ACT2FN that BERT checkpoints use.
const (
	// GeluErf is x * 0.5 * (1 + erf(x / sqrt(2))) ("gelu").
	GeluErf Activation = iota
	// GeluTanh is the tanh approximation ("gelu_new", "gelu_pytorch_tanh").
	GeluTanh
	// ReLU is max(x, 0) ("relu").
	ReLU
)

// Backend is the op set of BERT's forward and backward passes and of its
// optimizer. Ops that produce parameter gradients accumulate (+=) into them,
// so that gradient accumulation over micro-batches needs no extra pass; all
// other outputs are overwritten.
type Backend interface {
	// Name identifies the backend in logs and benchmark output ("cpu", "cuda:0").
	Name() string
	// Alloc returns a zeroed buffer of n elements.
	Alloc(n int) Buffer
	// Free releases a buffer; using it afterwards is an error.
	Free(b Buffer)
	// Upload copies src into dst[0:len(src)].
	Upload(dst Buffer, src []float32)
	// Download copies src[0:len(dst)] into dst.
	Download(dst []float32, src Buffer)
	// View returns a buffer of n elements that aliases b[off:off+n]: what
	// an op writes through either is what the other reads. It copies
	// nothing. A view must not be freed, and is valid only while b is. The
	// model keeps the query, key and value weights (their gradients, their
	// mixout W~) as three views of one [3·hidden, hidden] buffer, so that
	// the three projections are one GEMM (see AttentionQKV).
	View(b Buffer, off, n int) Buffer

	// MatMul computes C = alpha*op(A)*op(B) + beta*C for dense row-major
	// matrices, where op(A) is m×k (A is k×m when transA), op(B) is k×n (B
	// is n×k when transB) and C is m×n. With beta 0, C's old contents are
	// ignored (NaNs in it do not propagate).
	MatMul(c, a, b Buffer, m, n, k int, transA, transB bool, alpha, beta float32)
	// AddBias adds bias[j] to x[i*cols+j] in place for i < rows.
	AddBias(x, bias Buffer, rows, cols int)
	// Add writes out[i] = a[i] + b[i] for i < n.
	Add(out, a, b Buffer, n int)
	// Activate writes out[i] = act(x[i]) for i < n.
	Activate(out, x Buffer, n int, act Activation)
	// Tanh writes out[i] = tanh(x[i]) for i < n.
	Tanh(out, x Buffer, n int)
	// LayerNorm normalises each of the rows of x over its cols elements:
	// out = (x - mean) / sqrt(var + eps) * gamma + beta, with the biased
	// variance. It stores each row's mean and 1/sqrt(var+eps) in mean and
	// rstd (rows elements each) for the backward pass.
	LayerNorm(out, mean, rstd, x, gamma, beta Buffer, rows, cols int, eps float32)
	// Embed writes out[t,:] = word[ids[t],:] + pos[positions[t],:] + typ[types[t],:]
	// for the batch*seq tokens t, summed in that order; when typ is nil (a
	// model without token types) the last term is left out and types is not
	// read. ids, positions and types are host slices of length batch*seq
	// whose values the caller has range-checked.
	Embed(out, word, pos, typ Buffer, ids, positions, types []int32, batch, seq, hidden int)
	// AttentionQKV computes multi-head scaled dot-product attention of q, k
	// and v packed in one buffer qkv [batch, seq, 3·hidden], hidden =
	// heads·headDim: token t's row holds q_t, k_t and v_t at columns 0,
	// hidden and 2·hidden, as one GEMM of the tokens with the concatenated
	// weight [Wq; Wk; Wv] ([3·hidden, hidden]) writes them; head h of each
	// is columns h*headDim..(h+1)*headDim of its part. keyMask is [batch,
	// seq] with 1 for real tokens and 0 for padding. It writes probs
	// [batch, heads, seq, seq] = softmax(scale*Q·Kᵀ over real keys)
	// (padding keys get probability exactly 0, as with Hugging Face's
	// additive mask; when a row has no real key at all, the softmax runs
	// over every key's score, as the original BERT's additive -10000 mask
	// gives) and ctx [batch, seq, hidden] = probs·V, heads concatenated.
	// When dropP > 0, ctx uses the probabilities after dropout, with the
	// mask drawn from drop (element ((b*heads+h)*seq+i)*seq+j); probs keeps
	// them before dropout.
	AttentionQKV(ctx, probs, qkv, keyMask Buffer, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream)
	// FirstToken writes out[b,:] = x[b,0,:] for x of shape [batch, seq, hidden].
	FirstToken(out, x Buffer, batch, seq, hidden int)
	// RotaryAttention is ModernBERT's attention: AttentionQKV's layout and
	// key mask, with rotary position embeddings applied to q and k inside
	// the kernel and an optional sliding window, computed blockwise so that
	// no seq×seq matrix is kept. Token i's q and k are rotated by the
	// angles i·θ_c, θ_c = theta^(−2c/headDim) rounded to float32 as
	// transformers computes them (c < headDim/2, pairing columns c and
	// c + headDim/2: q'_c = q_c cos − q_{c+d/2} sin, q'_{c+d/2} = q_{c+d/2}
	// cos + q_c sin). Query i attends to the real keys j with |i − j| <=
	// window (every real key when window < 0): ctx = softmax(scale·q'·k'ᵀ)
	// ·V, heads concatenated. lse [batch, heads, seq] receives each row's
	// log-sum-exp of the scaled scores for the backward (+Inf for a query
	// with no real key in its window, whose ctx row is 0). When dropP > 0
	// ctx uses the probabilities after dropout, the mask element of (b, h,
	// i, j) being ((b*heads+h)*seq+i)*seq+j of drop.
	RotaryAttention(ctx, lse, qkv, keyMask Buffer, batch, seq, heads, headDim, window int, theta, scale, dropP float32, drop philox.Stream)
	// GatedActivate is a gated linear unit (ModernBERT's GeGLU): for x
	// [rows, 2·cols] it writes out[r, j] = act(x[r, j]) · x[r, cols+j].
	GatedActivate(out, x Buffer, rows, cols int, act Activation)

	// BiasActivate is a dense layer's bias and activation in one pass: it
	// adds bias[j] to x[i*cols+j] in place (x keeps the pre-activation,
	// which the backward reads) and writes out = act(x), for i < rows. The
	// results are those of AddBias then Activate.
	BiasActivate(out, x, bias Buffer, rows, cols int, act Activation)
	// BiasDropoutAddLayerNorm is the end of a BERT sublayer in one pass:
	// sum = dropout(x + bias) + residual, out = LayerNorm(sum), for rows×cols
	// x, bias[j] added to column j. Dropout is Dropout's over the rows·cols
	// elements (element i = r*cols+j keeps with philox.Keep(s.Uint32(i), p),
	// scaled by 1/(1−p); p 0 keeps all and ignores s); the LayerNorm is
	// LayerNorm's, with mean and rstd stored likewise. sum, which the
	// backward reads, may be x. The results are those of AddBias, Dropout,
	// Add and LayerNorm in turn.
	BiasDropoutAddLayerNorm(out, sum, mean, rstd, x, bias, residual, gamma, beta Buffer, rows, cols int, eps, p float32, s philox.Stream)

	// Dropout writes out[i] = x[i] * keep(i) / (1 - p) for i < n, where
	// keep(i) = philox.Keep(s.Uint32(i), p). Applied to an upstream gradient
	// with the same stream it is its own backward. out may be x.
	Dropout(out, x Buffer, n int, p float32, s philox.Stream)
	// KeepMask writes mask[i] = 1 if philox.Keep(s.Uint32(i), p) else 0.
	KeepMask(mask Buffer, n int, p float32, s philox.Stream)
	// Mixout writes the mixout weight W~ = U + M ⊙ (W − U) / (1 − p) for a
	// rows×cols weight, where M is mask[j] for column j (perElement false:
	// one decision per input feature, as the mixout authors' code) or
	// mask[i*cols+j] (perElement true, "mixconnect"). p must be below 1.
	Mixout(wmix, w, u, mask Buffer, rows, cols int, p float32, perElement bool)
	// MixoutBackward accumulates gw += gmix ⊙ M ⊙ scale with the mask of
	// Mixout; scale is 1/(1−p) for the exact gradient and 1 for the mixout
	// authors' reference backward.
	MixoutBackward(gw, gmix, mask Buffer, rows, cols int, scale float32, perElement bool)

	// LayerNormBackward writes dx and accumulates dgamma and dbeta for the
	// LayerNorm of x whose statistics LayerNorm stored in mean and rstd.
	LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma Buffer, rows, cols int)
	// BiasActivateBackward is the backward of BiasActivate: it writes
	// dx = dy ⊙ act'(pre), pre being the pre-activation BiasActivate left
	// in x, and accumulates db[j] += Σ_i dx[i*cols+j], in one pass. dx may
	// be dy.
	BiasActivateBackward(dx, db, dy, pre Buffer, rows, cols int, act Activation)
	// BiasDropoutAddLayerNormBackward is the backward of
	// BiasDropoutAddLayerNorm from the gradient dy of out: it writes dsum,
	// the gradient of sum (which is the residual's), and dx = dropout(dsum)
	// with the forward's mask (the gradient of x and of the bias), and
	// accumulates dgamma, dbeta and db[j] += Σ_i dx[i*cols+j]. sum, mean
	// and rstd are what the forward stored. Neither dsum nor dx may be dy.
	// The results are those of LayerNormBackward, Dropout and BiasGrad in
	// turn (db up to the order of its float64 sum).
	BiasDropoutAddLayerNormBackward(dsum, dx, dgamma, dbeta, db, dy, sum, mean, rstd, gamma Buffer, rows, cols int, p float32, s philox.Stream)
	// ActivateBackward writes dx[i] = dy[i] * act'(x[i]) for i < n.
	ActivateBackward(dx, dy, x Buffer, n int, act Activation)
	// TanhBackward writes dx[i] = dy[i] * (1 − y[i]²), y being tanh's output.
	TanhBackward(dx, dy, y Buffer, n int)
	// BiasGrad accumulates db[j] += Σ_i dy[i*cols+j] for i < rows.
	BiasGrad(db, dy Buffer, rows, cols int)
	// AttentionQKVBackward writes dqkv [batch, seq, 3·hidden], the
	// gradients of q, k and v packed as qkv (the upstream gradient of the
	// fused QKV projection), from dctx for the AttentionQKV call with the
	// same arguments (probs as AttentionQKV stored them; the dropout mask is
	// drawn again from drop).
	AttentionQKVBackward(dqkv, dctx, qkv, probs Buffer, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream)
	// RotaryAttentionBackward writes dqkv, the gradient of qkv packed as
	// qkv, from dctx for the RotaryAttention call with the same arguments
	// that wrote ctx and lse (the scores are recomputed blockwise; the
	// dropout mask is drawn again from drop).
	RotaryAttentionBackward(dqkv, dctx, ctx, lse, qkv, keyMask Buffer, batch, seq, heads, headDim, window int, theta, scale, dropP float32, drop philox.Stream)
	// GatedActivateBackward writes dx [rows, 2·cols], the gradient of
	// GatedActivate's x, from dy [rows, cols].
	GatedActivateBackward(dx, dy, x Buffer, rows, cols int, act Activation)
	// EmbedBackward accumulates dy's rows into the rows of dword, dpos and
	// dtyp that Embed read (dtyp nil: no token types); tokens whose id is
	// padID add nothing to dword (nn.Embedding's padding_idx; padID < 0
	// disables it).
	EmbedBackward(dword, dpos, dtyp, dy Buffer, ids, positions, types []int32, batch, seq, hidden, padID int)
	// FirstTokenBackward writes dx [batch, seq, hidden]: dcls in each row's
	// first token, zeros elsewhere.
	FirstTokenBackward(dx, dcls Buffer, batch, seq, hidden int)
	// CrossEntropy returns the mean over the batch of −log softmax(logits)[label]
	// and writes dlogits = (softmax − onehot(label)) · gradScale / batch.
	CrossEntropy(dlogits, logits Buffer, labels []int32, batch, classes int, gradScale float32) float64
	// MSE returns the mean of (logits[i] − targets[i])² over batch single
	// outputs and writes dlogits = 2 (logits − targets) · gradScale / batch.
	MSE(dlogits, logits Buffer, targets []float32, batch int, gradScale float32) float64

	// Zero sets x[0:n] to 0.
	Zero(x Buffer, n int)
	// Scale multiplies x[0:n] by s in place.
	Scale(x Buffer, n int, s float32)
	// SumSquares returns Σ x[i]² for i < n, accumulated in float64.
	SumSquares(x Buffer, n int) float64
	// AdamW applies one AdamW step to the n parameters p with gradient g
	// (multiplied by h.GradScale first) and moments m, v, in the order of
	// torch.optim.AdamW. target is the weight-decay anchor (nil: decay toward
	// zero, w ← w − lr·λ·w; else w ← w − lr·λ·(w − target)).
	AdamW(p, g, m, v, target Buffer, n int, h AdamWParams)
}

// AdamWParams are the scalars of one AdamW step.
type AdamWParams struct {
	// LR is this step's learning rate (after the schedule).
	LR float64
	// Beta1, Beta2 and Eps as torch.optim.AdamW.
	Beta1, Beta2, Eps float64
	// WeightDecay is λ of the decoupled decay.
	WeightDecay float64
	// Step is the 1-based step count for bias correction.
	Step int
	// BiasCorrection false omits Adam's bias correction (BERTAdam).
	BiasCorrection bool
	// GradScale multiplies the gradient first (clipping, accumulation).
	GradScale float32
}
