//go:build cuda || kernelhost

package gpu

import (
	"fmt"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// The forward ops. Each checks its buffers' lengths (a kernel has no bounds
// checks), binds the device to the thread and queues its kernels; nothing
// waits for the device except ops that return a host value.

// AddBias implements backend.Backend.
func (be *Backend) AddBias(x, bias backend.Buffer, rows, cols int) {
	defer be.op()()
	px, pb := be.needLen("AddBias x", x, rows*cols), be.needLen("AddBias bias", bias, cols)
	be.launch1(kEwAddBias, rows*cols, px, pb, i64(rows), i32(cols))
}

// Add implements backend.Backend.
func (be *Backend) Add(out, a, b backend.Buffer, n int) {
	defer be.op()()
	po, pa, pb := be.needLen("Add out", out, n), be.needLen("Add a", a, n), be.needLen("Add b", b, n)
	be.launch1(kEwAdd, n, po, pa, pb, i64(n))
}

// Activate implements backend.Backend.
func (be *Backend) Activate(out, x backend.Buffer, n int, act backend.Activation) {
	defer be.op()()
	po, px := be.needLen("Activate out", out, n), be.needLen("Activate x", x, n)
	be.launch1(kEwActivate, n, po, px, i64(n), i32(actCode(act)))
}

// actCode checks an activation (the kernels' ACT_* follow backend.Activation).
func actCode(act backend.Activation) int {
	switch act {
	case backend.GeluErf, backend.GeluTanh, backend.ReLU:
		return int(act)
	}
	panic(fmt.Sprintf("gpu: unknown activation %d", act))
}

// Tanh implements backend.Backend.
func (be *Backend) Tanh(out, x backend.Buffer, n int) {
	defer be.op()()
	po, px := be.needLen("Tanh out", out, n), be.needLen("Tanh x", x, n)
	be.launch1(kEwTanh, n, po, px, i64(n))
}

// rowThreads is the block size of one-block-per-row kernels: a multiple of
// 32 (the block reductions need whole warps), at most 256.
func rowThreads(cols int) int { return clampInt(roundUp(cols, 32), 32, 256) }

// LayerNorm implements backend.Backend: one block per row, statistics in
// float64 as the CPU backend.
func (be *Backend) LayerNorm(out, mean, rstd, x, gamma, beta backend.Buffer, rows, cols int, eps float32) {
	if rows == 0 {
		return
	}
	defer be.op()()
	po, px := be.needLen("LayerNorm out", out, rows*cols), be.needLen("LayerNorm x", x, rows*cols)
	pm, pr := be.needLen("LayerNorm mean", mean, rows), be.needLen("LayerNorm rstd", rstd, rows)
	pg, pb := be.needLen("LayerNorm gamma", gamma, cols), be.needLen("LayerNorm beta", beta, cols)
	be.launch(kLayerNormFwd, d1(rows), d1(rowThreads(cols)), 0, po, pm, pr, px, pg, pb, i32(rows), i32(cols), f32(eps))
}

// Embed implements backend.Backend. ids, positions and types go to the
// device first (the only host-to-device copies of a forward pass, with the
// key mask).
func (be *Backend) Embed(out, word, pos, typ backend.Buffer, ids, positions, types []int32, batch, seq, hidden int) {
	tokens := batch * seq
	if tokens == 0 {
		return
	}
	hasTyp := typ != nil
	if len(ids) < tokens || len(positions) < tokens || (hasTyp && len(types) < tokens) {
		panic(fmt.Sprintf("%s: Embed: %d ids, %d positions and %d types for %d tokens", be.Name(), len(ids), len(positions), len(types), tokens))
	}
	defer be.op()()
	po := be.needLen("Embed out", out, tokens*hidden)
	pw, pp := be.ptr(word), be.ptr(pos)
	all := make([]int32, 3*tokens)
	copy(all, ids[:tokens])
	copy(all[tokens:], positions[:tokens])
	pt, withTyp := uint64(0), 0
	if hasTyp {
		pt, withTyp = be.ptr(typ), 1
		copy(all[2*tokens:], types[:tokens])
	}
	pi := be.uploadInts(&be.sc.ints, all)
	be.launch1(kEmbedFwd, tokens*hidden, po, pw, pp, pt, pi, pi+uint64(4*tokens), pi+uint64(8*tokens), i32(withTyp), i32(tokens), i32(hidden))
}

// attention buffers: the per-head copies of q, k, v ([batch, heads, seq,
// headDim] each) and of ctx or of the gradients.
const (
	hQ = iota
	hK
	hV
	hC
	hDQ
	hDK
	hDV
)

// splitHeads copies x [batch, seq, heads·hd] (rows of ld elements) to
// [batch, heads, seq, hd].
func (be *Backend) splitHeads(dst, src uint64, batch, seq, heads, hd, ld int) {
	be.launch1(kAttnSplitHeads, batch*seq*heads*hd, dst, src, i32(batch), i32(seq), i32(heads), i32(hd), i32(ld))
}

// mergeHeads is the inverse of splitHeads.
func (be *Backend) mergeHeads(dst, src uint64, batch, seq, heads, hd, ld int) {
	be.launch1(kAttnMergeHeads, batch*seq*heads*hd, dst, src, i32(batch), i32(seq), i32(heads), i32(hd), i32(ld))
}

// streamArgs are a philox.Stream's kernel arguments (seed, step, id).
func streamArgs(s philox.Stream) []uint64 { return []uint64{u64(s.Seed), u64(s.Step), u32(s.ID)} }

// warpRowsLaunch launches a one-warp-per-row kernel over rows rows.
func (be *Backend) warpRowsLaunch(k kernel, rows int, args ...uint64) {
	const warpsPerBlock = 4
	be.launch(k, d1(ceilDiv(rows, warpsPerBlock)), d1(32*warpsPerBlock), 0, args...)
}

// AttentionQKV implements backend.Backend: the heads split out of the
// packed rows, S = scale·Q·Kᵀ by a strided-batched GEMM over the
// batch·heads pairs straight into probs, the masked softmax (and dropout
// into P') in place, ctx = P'·V by a second batched GEMM.
func (be *Backend) AttentionQKV(ctx, probs, qkv, keyMask backend.Buffer, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	if batch*seq*hidden == 0 {
		return
	}
	defer be.op()()
	p := be.needLen("AttentionQKV qkv", qkv, batch*seq*3*hidden)
	col := uint64(4 * hidden)
	be.attention(ctx, probs, keyMask, p, p+col, p+2*col, 3*hidden, batch, seq, heads, headDim, scale, dropP, drop)
}

// attention runs AttentionQKV on q, k and v at device addresses pq, pk,
// pv, in rows of ld elements.
func (be *Backend) attention(ctx, probs, keyMask backend.Buffer, pq, pk, pv uint64, ld, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	n, np := batch*seq*hidden, batch*heads*seq*seq
	pctx, pprobs := be.needLen("AttentionQKV ctx", ctx, n), be.needLen("AttentionQKV probs", probs, np)
	pmask := be.needLen("AttentionQKV keyMask", keyMask, batch*seq)
	h := &be.sc.heads
	qh, kh, vh, ch := be.need(&h[hQ], 4*n), be.need(&h[hK], 4*n), be.need(&h[hV], 4*n), be.need(&h[hC], 4*n)
	be.splitHeads(qh, pq, batch, seq, heads, headDim, ld)
	be.splitHeads(kh, pk, batch, seq, heads, headDim, ld)
	be.splitHeads(vh, pv, batch, seq, heads, headDim, ld)
	bh := batch * heads
	sqd, ss := int64(seq*headDim), int64(seq*seq)
	// probs_i = scale · Q_i · K_iᵀ (seq×seq), i over the batch·heads pairs.
	be.gemmRM(false, true, seq, seq, headDim, scale, qh, headDim, sqd, kh, headDim, sqd, 0, pprobs, seq, ss, bh)
	pd := pprobs
	if dropP > 0 {
		pd = be.need(&be.sc.probsD, 4*np)
	}
	args := []uint64{pprobs, pd, pmask, i32(batch), i32(heads), i32(seq), f32(dropP), f32(backend.KeepScale(dropP))}
	be.warpRowsLaunch(kAttnSoftmax, bh*seq, append(args, streamArgs(drop)...)...)
	// ctx_i = P'_i · V_i (seq×headDim).
	be.gemmRM(false, false, seq, headDim, seq, 1, pd, seq, ss, vh, headDim, sqd, 0, ch, headDim, sqd, bh)
	be.mergeHeads(pctx, ch, batch, seq, heads, headDim, hidden)
}

// BiasActivate implements backend.Backend: one pass, as AddBias then
// Activate.
func (be *Backend) BiasActivate(out, x, bias backend.Buffer, rows, cols int, act backend.Activation) {
	defer be.op()()
	po, px := be.needLen("BiasActivate out", out, rows*cols), be.needLen("BiasActivate x", x, rows*cols)
	pb := be.needLen("BiasActivate bias", bias, cols)
	be.launch1(kBiasActivate, rows*cols, po, px, pb, i64(rows), i32(cols), i32(actCode(act)))
}

// BiasDropoutAddLayerNorm implements backend.Backend: one block per row
// forms the sum and normalises it.
func (be *Backend) BiasDropoutAddLayerNorm(out, sum, mean, rstd, x, bias, residual, gamma, beta backend.Buffer, rows, cols int, eps, p float32, s philox.Stream) {
	if rows == 0 {
		return
	}
	n := rows * cols
	if p > 0 {
		checkStreamRange(n)
	}
	defer be.op()()
	po, ps := be.needLen("BiasDropoutAddLayerNorm out", out, n), be.needLen("BiasDropoutAddLayerNorm sum", sum, n)
	pm, pr := be.needLen("BiasDropoutAddLayerNorm mean", mean, rows), be.needLen("BiasDropoutAddLayerNorm rstd", rstd, rows)
	px, pres := be.needLen("BiasDropoutAddLayerNorm x", x, n), be.needLen("BiasDropoutAddLayerNorm residual", residual, n)
	pb := be.needLen("BiasDropoutAddLayerNorm bias", bias, cols)
	pg, pbeta := be.needLen("BiasDropoutAddLayerNorm gamma", gamma, cols), be.needLen("BiasDropoutAddLayerNorm beta", beta, cols)
	args := []uint64{po, ps, pm, pr, px, pb, pres, pg, pbeta, i32(rows), i32(cols), f32(eps), f32(p), f32(backend.KeepScale(p))}
	be.launch(kBiasDropoutAddLNFwd, d1(rows), d1(rowThreads(cols)), 0, append(args, streamArgs(s)...)...)
}

// FirstToken implements backend.Backend.
func (be *Backend) FirstToken(out, x backend.Buffer, batch, seq, hidden int) {
	defer be.op()()
	po, px := be.needLen("FirstToken out", out, batch*hidden), be.needLen("FirstToken x", x, batch*seq*hidden)
	be.launch1(kFirstToken, batch*hidden, po, px, i32(batch), i32(seq), i32(hidden))
}
