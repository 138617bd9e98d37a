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

// Backend is the op set of the BERT forward pass.
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
	// Embed writes out[t,:] = word[ids[t],:] + pos[t mod seq,:] + typ[types[t],:]
	// for the batch*seq tokens t; ids and types are host slices of length
	// batch*seq whose values the caller has range-checked.
	Embed(out, word, pos, typ Buffer, ids, types []int32, batch, seq, hidden int)
	// Attention computes multi-head scaled dot-product attention. q, k, v and
	// ctx are [batch, seq, heads*headDim] with head h in columns
	// h*headDim..(h+1)*headDim; keyMask is [batch, seq] with 1 for real tokens
	// and 0 for padding. It writes probs [batch, heads, seq, seq] =
	// softmax(scale*Q·Kᵀ over real keys) (padding keys get probability
	// exactly 0, as with Hugging Face's additive mask; a row with no real key
	// is uniform) and ctx = probs·V.
	Attention(ctx, probs, q, k, v, keyMask Buffer, batch, seq, heads, headDim int, scale float32)
	// FirstToken writes out[b,:] = x[b,0,:] for x of shape [batch, seq, hidden].
	FirstToken(out, x Buffer, batch, seq, hidden int)
}
