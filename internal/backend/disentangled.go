package backend

import "github.com/mixft/mixft/internal/philox"

// Disentangled is implemented by backends that run DeBERTa-v2/v3's
// disentangled self-attention (the CPU and CUDA backends; a backend
// without it cannot run a deberta-v2 model, and model.New says so).
//
// With q, k, v a (batch, head) pair's projections (qkv in AttentionQKV's
// packed layout), posQ and posK the head's projections of the relative
// position embeddings (pos [2·span, 3·hidden], packed as qkv: the query
// projection in columns 0..hidden, the key projection in hidden..2·hidden;
// the rest is not read) and r = rel[i·seq+j] ∈ [0, 2·span) the relative
// position bucket of query i and key j:
//
//	S[i,j] = scale·(q_i·k_j + q_i·posK_r + k_j·posQ_r)   (content, c2p, p2c)
//	P = softmax over the real keys of row i; rows of padding queries are 0
//	ctx = dropout(P)·v
//
// (transformers' DisentangledSelfAttention with share_att_key and
// pos_att_type [c2p, p2c]; its XSoftmax masks keys and queries.)
type Disentangled interface {
	// DisentangledAttention writes ctx [batch, seq, hidden] and probs
	// [batch, heads, seq, seq] (before dropout), as AttentionQKV does.
	DisentangledAttention(ctx, probs, qkv, pos, keyMask Buffer, rel []int32, batch, seq, heads, headDim, span int, scale, dropP float32, drop philox.Stream)
	// DisentangledAttentionBackward writes dqkv (packed as qkv) and
	// accumulates into dpos (packed as pos; the value columns untouched)
	// from dctx, for the DisentangledAttention call with the same arguments.
	DisentangledAttentionBackward(dqkv, dpos, dctx, qkv, pos, probs, keyMask Buffer, rel []int32, batch, seq, heads, headDim, span int, scale, dropP float32, drop philox.Stream)
}
