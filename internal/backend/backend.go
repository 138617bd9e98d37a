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
	// Attention computes multi-head scaled dot-product attention. q, k, v and
	// ctx are [batch, seq, heads*headDim] with head h in columns
	// h*headDim..(h+1)*headDim; keyMask is [batch, seq] with 1 for real tokens
	// and 0 for padding. It writes probs [batch, heads, seq, seq] =
	// softmax(scale*Q·Kᵀ over real keys) (padding keys get probability
	// exactly 0, as with Hugging Face's additive mask; when a row has no real
	// key at all, the softmax runs over every key's score, as the original
	// BERT's additive -10000 mask gives) and ctx = probs·V.
	// When dropP > 0, ctx uses the probabilities after dropout, with the mask
	// drawn from drop (element ((b*heads+h)*seq+i)*seq+j); probs keeps them
	// before dropout.
	Attention(ctx, probs, q, k, v, keyMask Buffer, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream)
	// FirstToken writes out[b,:] = x[b,0,:] for x of shape [batch, seq, hidden].
	FirstToken(out, x Buffer, batch, seq, hidden int)

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
	// ActivateBackward writes dx[i] = dy[i] * act'(x[i]) for i < n.
	ActivateBackward(dx, dy, x Buffer, n int, act Activation)
	// TanhBackward writes dx[i] = dy[i] * (1 − y[i]²), y being tanh's output.
	TanhBackward(dx, dy, y Buffer, n int)
	// BiasGrad accumulates db[j] += Σ_i dy[i*cols+j] for i < rows.
	BiasGrad(db, dy Buffer, rows, cols int)
	// AttentionBackward writes dq, dk and dv from dctx for the Attention call
	// with the same arguments (probs as Attention stored them; the dropout
	// mask is drawn again from drop).
	AttentionBackward(dq, dk, dv, dctx, q, k, v, probs Buffer, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream)
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
