//go:build cuda || kernelhost

package gpu

import (
	"fmt"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

var _ backend.Disentangled = (*Backend)(nil)

// disentangled attention scratch (scratch.dis): the per-head relative
// projections [heads, R, headDim], the position scores C and D (their
// gradients in the backward) [batch·heads, seq, R], and the per-head
// gradients of the projections.
const (
	dPQ = iota
	dPK
	dC
	dD
	dDPQ
	dDPK
)

// disBuffers checks the shared arguments of the disentangled ops and
// returns the device addresses of qkv, pos, probs and keyMask, and of rel
// uploaded.
func (be *Backend) disBuffers(op string, qkv, pos, probs, keyMask backend.Buffer, rel []int32, batch, seq, heads, headDim, span int) (px, ppos, pprobs, pmask, prel uint64) {
	hidden, r := heads*headDim, 2*span
	if len(rel) < seq*seq {
		panic(fmt.Sprintf("%s: %s: %d relative buckets for %d×%d (query, key) pairs", be.Name(), op, len(rel), seq, seq))
	}
	for _, x := range rel[:seq*seq] {
		if x < 0 || int(x) >= r {
			panic(fmt.Sprintf("%s: %s: relative bucket %d outside [0, %d)", be.Name(), op, x, r))
		}
	}
	px = be.needLen(op+" qkv", qkv, batch*seq*3*hidden)
	ppos = be.needLen(op+" pos", pos, r*3*hidden)
	pprobs = be.needLen(op+" probs", probs, batch*heads*seq*seq)
	pmask = be.needLen(op+" keyMask", keyMask, batch*seq)
	prel = be.uploadInts(&be.sc.ints, rel[:seq*seq])
	return px, ppos, pprobs, pmask, prel
}

// disPositionScores computes, for every batch entry b, a heads-batched
// GEMM out_b,h = x_b,h · p_hᵀ (beta 0): x [batch, heads, seq, headDim], p
// [heads, R, headDim], out [batch, heads, seq, R]. The position tables are
// shared by the batch, which one strided batch cannot express.
func (be *Backend) disPositionScores(out, x, p uint64, batch, seq, heads, headDim, r int) {
	sqd, sr, rd := int64(seq*headDim), int64(seq*r), int64(r*headDim)
	for b := 0; b < batch; b++ {
		off := uint64(b * heads)
		be.gemmRM(false, true, seq, r, headDim, 1, x+4*off*uint64(sqd), headDim, sqd, p, headDim, rd, 0, out+4*off*uint64(sr), r, sr, heads)
	}
}

// DisentangledAttention implements backend.Disentangled: the heads of q,
// k, v and of the relative projections split out of their packed rows,
// S = Q·Kᵀ straight into probs, C = Q·posKᵀ and D = K·posQᵀ, dis_softmax
// (scores, masked softmax, dropout into P'), ctx = P'·V.
func (be *Backend) DisentangledAttention(ctx, probs, qkv, pos, keyMask backend.Buffer, rel []int32, batch, seq, heads, headDim, span int, scale, dropP float32, drop philox.Stream) {
	hidden, r := heads*headDim, 2*span
	n, np := batch*seq*hidden, batch*heads*seq*seq
	if n == 0 {
		return
	}
	if dropP > 0 {
		checkStreamRange(np)
	}
	defer be.op()()
	px, ppos, pprobs, pmask, prel := be.disBuffers("DisentangledAttention", qkv, pos, probs, keyMask, rel, batch, seq, heads, headDim, span)
	pctx := be.needLen("DisentangledAttention ctx", ctx, n)
	ld, col := 3*hidden, uint64(4*hidden)
	h, d := &be.sc.heads, &be.sc.dis
	qh, kh, vh, ch := be.need(&h[hQ], 4*n), be.need(&h[hK], 4*n), be.need(&h[hV], 4*n), be.need(&h[hC], 4*n)
	pqh, pkh := be.need(&d[dPQ], 4*r*hidden), be.need(&d[dPK], 4*r*hidden)
	bh := batch * heads
	cs, ds := be.need(&d[dC], 4*bh*seq*r), be.need(&d[dD], 4*bh*seq*r)
	be.splitHeads(qh, px, batch, seq, heads, headDim, ld)
	be.splitHeads(kh, px+col, batch, seq, heads, headDim, ld)
	be.splitHeads(vh, px+2*col, batch, seq, heads, headDim, ld)
	be.splitHeads(pqh, ppos, 1, r, heads, headDim, ld)
	be.splitHeads(pkh, ppos+col, 1, r, heads, headDim, ld)
	sqd, ss := int64(seq*headDim), int64(seq*seq)
	be.gemmRM(false, true, seq, seq, headDim, 1, qh, headDim, sqd, kh, headDim, sqd, 0, pprobs, seq, ss, bh)
	be.disPositionScores(cs, qh, pkh, batch, seq, heads, headDim, r)
	be.disPositionScores(ds, kh, pqh, batch, seq, heads, headDim, r)
	pd := pprobs
	if dropP > 0 {
		pd = be.need(&be.sc.probsD, 4*np)
	}
	args := []uint64{pprobs, pd, cs, ds, prel, pmask, i32(batch), i32(heads), i32(seq), i32(r), f32(scale), f32(dropP), f32(backend.KeepScale(dropP))}
	be.warpRowsLaunch(kDisSoftmax, bh*seq, append(args, streamArgs(drop)...)...)
	be.gemmRM(false, false, seq, headDim, seq, 1, pd, seq, ss, vh, headDim, sqd, 0, ch, headDim, sqd, bh)
	be.mergeHeads(pctx, ch, batch, seq, heads, headDim, hidden)
}

// DisentangledAttentionBackward implements backend.Disentangled: G =
// dctx·Vᵀ, dS by attn_softmax_backward (padding queries' rows of P are 0,
// so are theirs of dS), dC and dD by dis_rel_grad, then the GEMMs dV =
// P'ᵀ·dctx, dQ = dS·K + dC·posK, dK = dSᵀ·Q + dD·posQ, and dposK += dCᵀ·Q,
// dposQ += dDᵀ·K summed over the batch in order on the heads of dpos.
func (be *Backend) DisentangledAttentionBackward(dqkv, dpos, dctx, qkv, pos, probs, keyMask backend.Buffer, rel []int32, batch, seq, heads, headDim, span int, scale, dropP float32, drop philox.Stream) {
	hidden, r := heads*headDim, 2*span
	n, np := batch*seq*hidden, batch*heads*seq*seq
	if n == 0 {
		return
	}
	if dropP > 0 {
		checkStreamRange(np)
	}
	defer be.op()()
	px, ppos, pprobs, _, prel := be.disBuffers("DisentangledAttentionBackward", qkv, pos, probs, keyMask, rel, batch, seq, heads, headDim, span)
	pdq := be.needLen("DisentangledAttentionBackward dqkv", dqkv, 3*n)
	pdpos := be.needLen("DisentangledAttentionBackward dpos", dpos, r*3*hidden)
	pdctx := be.needLen("DisentangledAttentionBackward dctx", dctx, n)
	ld, col := 3*hidden, uint64(4*hidden)
	h, d := &be.sc.heads, &be.sc.dis
	qh, kh, vh, dch := be.need(&h[hQ], 4*n), be.need(&h[hK], 4*n), be.need(&h[hV], 4*n), be.need(&h[hC], 4*n)
	dqh, dkh, dvh := be.need(&h[hDQ], 4*n), be.need(&h[hDK], 4*n), be.need(&h[hDV], 4*n)
	rh := 4 * r * hidden
	pqh, pkh, dpqh, dpkh := be.need(&d[dPQ], rh), be.need(&d[dPK], rh), be.need(&d[dDPQ], rh), be.need(&d[dDPK], rh)
	bh := batch * heads
	dcs, dds := be.need(&d[dC], 4*bh*seq*r), be.need(&d[dD], 4*bh*seq*r)
	be.splitHeads(qh, px, batch, seq, heads, headDim, ld)
	be.splitHeads(kh, px+col, batch, seq, heads, headDim, ld)
	be.splitHeads(vh, px+2*col, batch, seq, heads, headDim, ld)
	be.splitHeads(dch, pdctx, batch, seq, heads, headDim, hidden)
	be.splitHeads(pqh, ppos, 1, r, heads, headDim, ld)
	be.splitHeads(pkh, ppos+col, 1, r, heads, headDim, ld)
	be.splitHeads(dpqh, pdpos, 1, r, heads, headDim, ld) // accumulated into, merged back at the end
	be.splitHeads(dpkh, pdpos+col, 1, r, heads, headDim, ld)
	sqd, ss, sr, rd := int64(seq*headDim), int64(seq*seq), int64(seq*r), int64(r*headDim)
	g := be.need(&be.sc.grad, 4*np)
	be.gemmRM(false, true, seq, seq, headDim, 1, dch, headDim, sqd, vh, headDim, sqd, 0, g, seq, ss, bh)
	pd := pprobs
	if dropP > 0 {
		pd = be.need(&be.sc.probsD, 4*np)
	}
	args := []uint64{g, pd, pprobs, i32(bh * seq), i32(seq), f32(scale), f32(dropP), f32(backend.KeepScale(dropP))}
	be.warpRowsLaunch(kAttnSoftmaxBackward, bh*seq, append(args, streamArgs(drop)...)...)
	be.launch1(kDisRelGrad, bh*seq, dcs, dds, g, prel, i32(bh), i32(seq), i32(r))
	be.gemmRM(true, false, seq, headDim, seq, 1, pd, seq, ss, dch, headDim, sqd, 0, dvh, headDim, sqd, bh)
	be.gemmRM(false, false, seq, headDim, seq, 1, g, seq, ss, kh, headDim, sqd, 0, dqh, headDim, sqd, bh)
	be.gemmRM(true, false, seq, headDim, seq, 1, g, seq, ss, qh, headDim, sqd, 0, dkh, headDim, sqd, bh)
	for b := 0; b < batch; b++ {
		off := uint64(b * heads)
		xo, so := 4*off*uint64(sqd), 4*off*uint64(sr)
		// dQ_b,h += dC_b,h·posK_h, dK_b,h += dD_b,h·posQ_h
		be.gemmRM(false, false, seq, headDim, r, 1, dcs+so, r, sr, pkh, headDim, rd, 1, dqh+xo, headDim, sqd, heads)
		be.gemmRM(false, false, seq, headDim, r, 1, dds+so, r, sr, pqh, headDim, rd, 1, dkh+xo, headDim, sqd, heads)
		// dposK_h += dC_b,hᵀ·Q_b,h, dposQ_h += dD_b,hᵀ·K_b,h
		be.gemmRM(true, false, r, headDim, seq, 1, dcs+so, r, sr, qh+xo, headDim, sqd, 1, dpkh, headDim, rd, heads)
		be.gemmRM(true, false, r, headDim, seq, 1, dds+so, r, sr, kh+xo, headDim, sqd, 1, dpqh, headDim, rd, heads)
	}
	be.mergeHeads(pdq, dqh, batch, seq, heads, headDim, ld)
	be.mergeHeads(pdq+col, dkh, batch, seq, heads, headDim, ld)
	be.mergeHeads(pdq+2*col, dvh, batch, seq, heads, headDim, ld)
	be.mergeHeads(pdpos, dpqh, 1, r, heads, headDim, ld)
	be.mergeHeads(pdpos+col, dpkh, 1, r, heads, headDim, ld)
}
