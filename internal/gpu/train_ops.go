//go:build cuda || kernelhost

package gpu

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// Dropout implements backend.Backend: one Philox block per thread, four
// elements each.
func (be *Backend) Dropout(out, x backend.Buffer, n int, p float32, s philox.Stream) {
	if n <= 0 {
		return
	}
	checkStreamRange(n)
	defer be.op()()
	po, px := be.needLen("Dropout out", out, n), be.needLen("Dropout x", x, n)
	args := append([]uint64{po, px, i64(n), f32(p), f32(backend.KeepScale(p))}, streamArgs(s)...)
	be.launch1(kDropoutFwd, ceilDiv(n, 4), args...)
}

// checkStreamRange panics where the CPU backend's philox would: elements
// past 2^34 have no stream position.
func checkStreamRange(n int) {
	if uint64(n) > philox.MaxIndex {
		panic("philox: stream range out of range (end must be <= 2^34)")
	}
}

// KeepMask implements backend.Backend.
func (be *Backend) KeepMask(mask backend.Buffer, n int, p float32, s philox.Stream) {
	if n <= 0 {
		return
	}
	checkStreamRange(n)
	defer be.op()()
	pm := be.needLen("KeepMask mask", mask, n)
	be.launch1(kKeepMask, ceilDiv(n, 4), append([]uint64{pm, i64(n), f32(p)}, streamArgs(s)...)...)
}

// maskLen is the mask length Mixout and MixoutBackward read.
func maskLen(rows, cols int, perElement bool) int {
	if perElement {
		return rows * cols
	}
	return cols
}

// Mixout implements backend.Backend.
func (be *Backend) Mixout(wmix, w, u, mask backend.Buffer, rows, cols int, p float32, perElement bool) {
	n := rows * cols
	if n == 0 {
		return
	}
	defer be.op()()
	po, pw, pu := be.needLen("Mixout wmix", wmix, n), be.needLen("Mixout w", w, n), be.needLen("Mixout u", u, n)
	pm := be.needLen("Mixout mask", mask, maskLen(rows, cols, perElement))
	be.launch1(kMixoutWeights, n, po, pw, pu, pm, i64(rows), i32(cols), f32(backend.KeepScale(p)), flag(perElement))
}

// MixoutBackward implements backend.Backend.
func (be *Backend) MixoutBackward(gw, gmix, mask backend.Buffer, rows, cols int, scale float32, perElement bool) {
	n := rows * cols
	if n == 0 {
		return
	}
	defer be.op()()
	pg, pgm := be.needLen("MixoutBackward gw", gw, n), be.needLen("MixoutBackward gmix", gmix, n)
	pm := be.needLen("MixoutBackward mask", mask, maskLen(rows, cols, perElement))
	be.launch1(kMixoutBackward, n, pg, pgm, pm, i64(rows), i32(cols), f32(scale), flag(perElement))
}

// colChunk is the rows per partial sum of the column reductions (dgamma,
// dbeta, bias gradients): rows/colChunk partial rows in float64, then one
// pass adds them in order.
const colChunk = 64

// colThreads is the block size of the column-partial kernels.
const colThreads = 128

// LayerNormBackward implements backend.Backend: dx one block per row;
// dgamma and dbeta by per-chunk float64 partial sums, added in order (no
// atomics: the result is the same on every run).
func (be *Backend) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma backend.Buffer, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	defer be.op()()
	n := rows * cols
	pdx, pdy, px := be.needLen("LayerNormBackward dx", dx, n), be.needLen("LayerNormBackward dy", dy, n), be.needLen("LayerNormBackward x", x, n)
	pm, pr := be.needLen("LayerNormBackward mean", mean, rows), be.needLen("LayerNormBackward rstd", rstd, rows)
	pg := be.needLen("LayerNormBackward gamma", gamma, cols)
	pdg, pdb := be.needLen("LayerNormBackward dgamma", dgamma, cols), be.needLen("LayerNormBackward dbeta", dbeta, cols)
	be.launch(kLayerNormBwdDx, d1(rows), d1(rowThreads(cols)), 0, pdx, pdy, px, pm, pr, pg, i32(rows), i32(cols))
	be.lnParams(pdg, pdb, 0, pdy, px, pm, pr, 0, rows, cols)
}

// lnParams accumulates dgamma (at pdg) and dbeta (pdb) of a LayerNorm
// backward from dy and the forward's input x and statistics, and when pdbias
// is not 0 the column sums of dbsrc into it, by per-chunk float64 partial
// sums added in order.
func (be *Backend) lnParams(pdg, pdb, pdbias, pdy, px, pm, pr, dbsrc uint64, rows, cols int) {
	chunks := be.colChunks(rows)
	partG := be.need(&be.sc.doubles, 8*chunks*cols)
	partB := be.need(&be.sc.doubles2, 8*chunks*cols)
	var partD uint64
	if pdbias != 0 {
		partD = be.need(&be.sc.doubles3, 8*chunks*cols)
	}
	be.launch(kLNParamsPartial, d2(ceilDiv(cols, colThreads), chunks), d1(colThreads), 0,
		partG, partB, partD, pdy, px, pm, pr, dbsrc, i32(rows), i32(cols), i32(colChunk))
	be.launch1(kColsumFinish, cols, pdg, partG, i32(chunks), i32(cols))
	be.launch1(kColsumFinish, cols, pdb, partB, i32(chunks), i32(cols))
	if pdbias != 0 {
		be.launch1(kColsumFinish, cols, pdbias, partD, i32(chunks), i32(cols))
	}
}

// colChunks is the number of colChunk-row chunks of rows rows (a grid's y
// extent, at most 65535).
func (be *Backend) colChunks(rows int) int {
	chunks := ceilDiv(rows, colChunk)
	if chunks > 65535 {
		panic(fmt.Sprintf("%s: a column sum over %d rows (at most %d)", be.Name(), rows, 65535*colChunk))
	}
	return chunks
}

// BiasDropoutAddLayerNormBackward implements backend.Backend: dsum and
// dx one block per row, then dgamma, dbeta and the bias gradient by one
// pass of column partial sums.
func (be *Backend) BiasDropoutAddLayerNormBackward(dsum, dx, dgamma, dbeta, db, dy, sum, mean, rstd, gamma backend.Buffer, rows, cols int, p float32, s philox.Stream) {
	if rows == 0 || cols == 0 {
		return
	}
	n := rows * cols
	if p > 0 {
		checkStreamRange(n)
	}
	defer be.op()()
	const op = "BiasDropoutAddLayerNormBackward "
	pds, pdx, pdy := be.needLen(op+"dsum", dsum, n), be.needLen(op+"dx", dx, n), be.needLen(op+"dy", dy, n)
	ps, pm, pr := be.needLen(op+"sum", sum, n), be.needLen(op+"mean", mean, rows), be.needLen(op+"rstd", rstd, rows)
	pg := be.needLen(op+"gamma", gamma, cols)
	pdg, pdbe, pdb := be.needLen(op+"dgamma", dgamma, cols), be.needLen(op+"dbeta", dbeta, cols), be.needLen(op+"db", db, cols)
	args := []uint64{pds, pdx, pdy, ps, pm, pr, pg, i32(rows), i32(cols), f32(p), f32(backend.KeepScale(p))}
	be.launch(kLNDropoutBwdDx, d1(rows), d1(rowThreads(cols)), 0, append(args, streamArgs(s)...)...)
	be.lnParams(pdg, pdbe, pdb, pdy, ps, pm, pr, pdx, rows, cols)
}

// BiasActivateBackward implements backend.Backend: one kernel writes dx
// and the per-chunk partial sums of the bias gradient, a second adds them.
func (be *Backend) BiasActivateBackward(dx, db, dy, pre backend.Buffer, rows, cols int, act backend.Activation) {
	if rows == 0 || cols == 0 {
		return
	}
	defer be.op()()
	n := rows * cols
	pdx, pdy, pp := be.needLen("BiasActivateBackward dx", dx, n), be.needLen("BiasActivateBackward dy", dy, n), be.needLen("BiasActivateBackward pre", pre, n)
	pdb := be.needLen("BiasActivateBackward db", db, cols)
	chunks := be.colChunks(rows)
	part := be.need(&be.sc.doubles, 8*chunks*cols)
	be.launch(kBiasActivateBwdPartial, d2(ceilDiv(cols, colThreads), chunks), d1(colThreads), 0,
		part, pdx, pdy, pp, i32(rows), i32(cols), i32(colChunk), i32(actCode(act)))
	be.launch1(kColsumFinish, cols, pdb, part, i32(chunks), i32(cols))
}

// ActivateBackward implements backend.Backend.
func (be *Backend) ActivateBackward(dx, dy, x backend.Buffer, n int, act backend.Activation) {
	defer be.op()()
	pdx, pdy, px := be.needLen("ActivateBackward dx", dx, n), be.needLen("ActivateBackward dy", dy, n), be.needLen("ActivateBackward x", x, n)
	be.launch1(kEwActivateBackward, n, pdx, pdy, px, i64(n), i32(actCode(act)))
}

// TanhBackward implements backend.Backend.
func (be *Backend) TanhBackward(dx, dy, y backend.Buffer, n int) {
	defer be.op()()
	pdx, pdy, py := be.needLen("TanhBackward dx", dx, n), be.needLen("TanhBackward dy", dy, n), be.needLen("TanhBackward y", y, n)
	be.launch1(kEwTanhBackward, n, pdx, pdy, py, i64(n))
}

// BiasGrad implements backend.Backend, with the column reduction of
// LayerNormBackward.
func (be *Backend) BiasGrad(db, dy backend.Buffer, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	defer be.op()()
	pdb, pdy := be.needLen("BiasGrad db", db, cols), be.needLen("BiasGrad dy", dy, rows*cols)
	chunks := be.colChunks(rows)
	part := be.need(&be.sc.doubles, 8*chunks*cols)
	be.launch(kColsumPartial, d2(ceilDiv(cols, colThreads), chunks), d1(colThreads), 0,
		part, pdy, i32(rows), i32(cols), i32(colChunk))
	be.launch1(kColsumFinish, cols, pdb, part, i32(chunks), i32(cols))
}

// AttentionQKVBackward implements backend.Backend: G = dctx·Vᵀ, then dS
// (and P' recomputed from probs and the stream) by one warp per row, then
// dV = P'ᵀ·dctx, dQ = dS·K, dK = dSᵀ·Q as batched GEMMs (dS carries the
// scale), the heads split out of and merged back into packed rows.
func (be *Backend) AttentionQKVBackward(dqkv, dctx, qkv, probs backend.Buffer, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	n := batch * seq * 3 * hidden
	if n == 0 {
		return
	}
	defer be.op()()
	pd, px := be.needLen("AttentionQKVBackward dqkv", dqkv, n), be.needLen("AttentionQKVBackward qkv", qkv, n)
	col := uint64(4 * hidden)
	be.attentionBackward([3]uint64{pd, pd + col, pd + 2*col}, [3]uint64{px, px + col, px + 2*col}, dctx, probs, 3*hidden,
		batch, seq, heads, headDim, scale, dropP, drop)
}

// attentionBackward runs AttentionQKVBackward with d = (dq, dk, dv) and
// x = (q, k, v) at device addresses, in rows of ld elements.
func (be *Backend) attentionBackward(d, x [3]uint64, dctx, probs backend.Buffer, ld, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	n, np := batch*seq*hidden, batch*heads*seq*seq
	pdctx := be.needLen("AttentionQKVBackward dctx", dctx, n)
	pprobs := be.needLen("AttentionQKVBackward probs", probs, np)
	h := &be.sc.heads
	qh, kh, vh, dch := be.need(&h[hQ], 4*n), be.need(&h[hK], 4*n), be.need(&h[hV], 4*n), be.need(&h[hC], 4*n)
	dqh, dkh, dvh := be.need(&h[hDQ], 4*n), be.need(&h[hDK], 4*n), be.need(&h[hDV], 4*n)
	be.splitHeads(qh, x[0], batch, seq, heads, headDim, ld)
	be.splitHeads(kh, x[1], batch, seq, heads, headDim, ld)
	be.splitHeads(vh, x[2], batch, seq, heads, headDim, ld)
	be.splitHeads(dch, pdctx, batch, seq, heads, headDim, hidden)
	bh := batch * heads
	sqd, ss := int64(seq*headDim), int64(seq*seq)
	g := be.need(&be.sc.grad, 4*np)
	// G_i = dctx_i · V_iᵀ (seq×seq).
	be.gemmRM(false, true, seq, seq, headDim, 1, dch, headDim, sqd, vh, headDim, sqd, 0, g, seq, ss, bh)
	pd := pprobs
	if dropP > 0 {
		pd = be.need(&be.sc.probsD, 4*np)
	}
	args := []uint64{g, pd, pprobs, i32(bh * seq), i32(seq), f32(scale), f32(dropP), f32(backend.KeepScale(dropP))}
	be.warpRowsLaunch(kAttnSoftmaxBackward, bh*seq, append(args, streamArgs(drop)...)...)
	// dV_i = P'_iᵀ · dctx_i, dQ_i = dS_i · K_i, dK_i = dS_iᵀ · Q_i (seq×headDim).
	be.gemmRM(true, false, seq, headDim, seq, 1, pd, seq, ss, dch, headDim, sqd, 0, dvh, headDim, sqd, bh)
	be.gemmRM(false, false, seq, headDim, seq, 1, g, seq, ss, kh, headDim, sqd, 0, dqh, headDim, sqd, bh)
	be.gemmRM(true, false, seq, headDim, seq, 1, g, seq, ss, qh, headDim, sqd, 0, dkh, headDim, sqd, bh)
	be.mergeHeads(d[0], dqh, batch, seq, heads, headDim, ld)
	be.mergeHeads(d[1], dkh, batch, seq, heads, headDim, ld)
	be.mergeHeads(d[2], dvh, batch, seq, heads, headDim, ld)
}

// segments groups token indices by key (the embedding row they read) into
// the layout of embed_bwd_segments: rowOf[nseg], offs[nseg+1], toks, with
// the tokens of a segment in increasing order. Tokens whose key is skip
// (padding) are left out.
func segments(keys []int32, skip int) (seg []int32, nseg int) {
	idx := make([]int32, 0, len(keys))
	for t, k := range keys {
		if int(k) != skip {
			idx = append(idx, int32(t))
		}
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return int(keys[a]) - int(keys[b]) })
	var rows, offs []int32
	for i, t := range idx {
		if i == 0 || keys[t] != keys[idx[i-1]] {
			rows = append(rows, keys[t])
			offs = append(offs, int32(i))
		}
	}
	offs = append(offs, int32(len(idx)))
	seg = make([]int32, 0, len(rows)+len(offs)+len(idx))
	seg = append(seg, rows...)
	seg = append(seg, offs...)
	seg = append(seg, idx...)
	return seg, len(rows)
}

// EmbedBackward implements backend.Backend as an atomic-free scatter: the
// host groups the tokens by the row each table gives them (a sort of at
// most batch·seq keys); one block column per row adds its tokens' gradients
// in token order, as the CPU backend's loop (bit-identical sums).
func (be *Backend) EmbedBackward(dword, dpos, dtyp, dy backend.Buffer, ids, positions, types []int32, batch, seq, hidden, padID int) {
	tokens := batch * seq
	if tokens == 0 || hidden == 0 {
		return
	}
	if len(ids) < tokens || len(positions) < tokens || (dtyp != nil && len(types) < tokens) {
		panic(fmt.Sprintf("%s: EmbedBackward: %d ids, %d positions and %d types for %d tokens", be.Name(), len(ids), len(positions), len(types), tokens))
	}
	defer be.op()()
	pdy := be.needLen("EmbedBackward dy", dy, tokens*hidden)
	type table struct {
		dst  uint64
		seg  []int32
		nseg int
	}
	skip := padID
	if skip < 0 {
		skip = math.MinInt // no id equals it
	}
	type source struct {
		dst  uint64
		keys []int32
		skip int
	}
	srcs := []source{{be.ptr(dword), ids[:tokens], skip}, {be.ptr(dpos), positions[:tokens], math.MinInt}}
	if dtyp != nil {
		srcs = append(srcs, source{be.ptr(dtyp), types[:tokens], math.MinInt})
	}
	tabs := make([]table, 0, len(srcs))
	for _, x := range srcs {
		seg, nseg := segments(x.keys, x.skip)
		tabs = append(tabs, table{x.dst, seg, nseg})
	}
	var all []int32
	for _, tb := range tabs {
		all = append(all, tb.seg...)
	}
	base := be.uploadInts(&be.sc.ints, all)
	off := uint64(0)
	bt := rowThreads(hidden)
	for _, tb := range tabs {
		if tb.nseg > 0 {
			be.launch(kEmbedBwdSegments, d2(tb.nseg, ceilDiv(hidden, bt)), d1(bt), 0,
				tb.dst, pdy, base+off, i32(tb.nseg), i32(hidden))
		}
		off += uint64(4 * len(tb.seg))
	}
}

// FirstTokenBackward implements backend.Backend.
func (be *Backend) FirstTokenBackward(dx, dcls backend.Buffer, batch, seq, hidden int) {
	defer be.op()()
	pdx, pc := be.needLen("FirstTokenBackward dx", dx, batch*seq*hidden), be.needLen("FirstTokenBackward dcls", dcls, batch*hidden)
	be.launch1(kFirstTokenBackward, batch*seq*hidden, pdx, pc, i32(batch), i32(seq), i32(hidden))
}

// rowLosses downloads the per-example loss terms and returns their mean,
// summed in example order as the CPU backend.
func (be *Backend) rowLosses(p uint64, batch int) float64 {
	terms := make([]float64, batch)
	be.dev.download(unsafe.Pointer(unsafe.SliceData(terms)), p, 8*batch)
	var loss float64
	for _, t := range terms {
		loss += t
	}
	return loss / float64(batch)
}

// CrossEntropy implements backend.Backend (it waits for the device: the
// loss comes back to the host).
func (be *Backend) CrossEntropy(dlogits, logits backend.Buffer, labels []int32, batch, classes int, gradScale float32) float64 {
	if batch == 0 {
		return math.NaN()
	}
	if len(labels) < batch {
		panic(fmt.Sprintf("%s: CrossEntropy: %d labels for a batch of %d", be.Name(), len(labels), batch))
	}
	for i, y := range labels[:batch] {
		if y < 0 || int(y) >= classes {
			panic(fmt.Sprintf("%s: CrossEntropy: label %d of example %d is outside [0, %d)", be.Name(), y, i, classes))
		}
	}
	defer be.op()()
	pdl, pl := be.needLen("CrossEntropy dlogits", dlogits, batch*classes), be.needLen("CrossEntropy logits", logits, batch*classes)
	plab := be.uploadInts(&be.sc.ints, labels[:batch])
	rl := be.need(&be.sc.doubles, 8*batch)
	be.launch1(kCrossEntropy, batch, pdl, rl, pl, plab, i32(batch), i32(classes), f32(gradScale))
	return be.rowLosses(rl, batch)
}

// MSE implements backend.Backend.
func (be *Backend) MSE(dlogits, logits backend.Buffer, targets []float32, batch int, gradScale float32) float64 {
	if batch == 0 {
		return math.NaN()
	}
	if len(targets) < batch {
		panic(fmt.Sprintf("%s: MSE: %d targets for a batch of %d", be.Name(), len(targets), batch))
	}
	defer be.op()()
	pdl, pl := be.needLen("MSE dlogits", dlogits, batch), be.needLen("MSE logits", logits, batch)
	pt := be.need(&be.sc.floats, 4*batch)
	be.dev.upload(pt, unsafe.Pointer(unsafe.SliceData(targets)), 4*batch)
	rl := be.need(&be.sc.doubles, 8*batch)
	be.launch1(kMSE, batch, pdl, rl, pl, pt, i32(batch), f32(gradScale))
	return be.rowLosses(rl, batch)
}

// Zero implements backend.Backend.
func (be *Backend) Zero(x backend.Buffer, n int) {
	if n <= 0 {
		return
	}
	defer be.op()()
	be.dev.zero(be.needLen("Zero x", x, n), 4*n)
}

// Scale implements backend.Backend.
func (be *Backend) Scale(x backend.Buffer, n int, s float32) {
	defer be.op()()
	px := be.needLen("Scale x", x, n)
	be.launch1(kEwScale, n, px, f32(s), i64(n))
}

// sumChunk is the elements per block of SumSquares' first pass.
const sumChunk = 8192

// SumSquares implements backend.Backend. The result must come back to the
// host, which waits for the device; the optimizer asks for every parameter's
// gradient in a row (the global norm), which would wait once per parameter.
// So the backend learns the run: the buffers asked for one after another
// with no other op in between. When the first buffer of the last such run
// is asked for again, it reduces every buffer of the run in one go and
// brings all the sums back with one copy; the next calls of the run are
// answered from those sums as long as no other op intervenes (any other op
// may write a buffer, and drops them; freeing a buffer forgets the run).
func (be *Backend) SumSquares(x backend.Buffer, n int) float64 {
	if n <= 0 {
		return 0
	}
	t := be.buf(x)
	if t.n < n {
		panic(fmt.Sprintf("%s: SumSquares x: buffer of %d elements, needs %d", be.Name(), t.n, n))
	}
	key := sumKey{t.ptr, n}
	s := &be.sums
	if v, ok := s.ready[key]; ok {
		s.run = append(s.run, key)
		return v
	}
	// Not be.op(): this call continues the run rather than ending it.
	defer be.dev.enter()()
	keys := []sumKey{key}
	if len(s.run) == 0 && len(s.learned) > 1 && s.learned[0] == key {
		keys = s.learned
	}
	vals := be.sumSquares(keys)
	s.ready = make(map[sumKey]float64, len(keys))
	for i, k := range keys {
		s.ready[k] = vals[i]
	}
	s.run = append(s.run, key)
	return vals[0]
}

// sumKey is one SumSquares question: the first n elements at ptr.
type sumKey struct {
	ptr uint64
	n   int
}

// sumState is SumSquares' memory of the current run of calls (run), of the
// last complete one (learned), and the sums computed ahead (ready).
type sumState struct {
	run, learned []sumKey
	ready        map[sumKey]float64
}

// invalidate is called by every other op: the sums computed ahead may be
// stale now, and the run of SumSquares calls (if any) is complete.
func (s *sumState) invalidate() {
	s.ready = nil
	if len(s.run) > 0 {
		s.learned = append(s.learned[:0], s.run...)
		s.run = s.run[:0]
	}
}

// forget drops everything (a buffer was freed: its address may be reused
// or returned to the driver, and must not be read ahead).
func (s *sumState) forget() {
	s.ready, s.run, s.learned = nil, nil, nil
}

// sumSquares reduces each key's elements. One key: fixed-size blocks into
// partial sums, then one block adds them. Several keys: the same two passes
// over all of them in two launches (a table of the keys goes to the device
// first); the results come back in one copy.
func (be *Backend) sumSquares(keys []sumKey) []float64 {
	vals := make([]float64, len(keys))
	if len(keys) == 1 {
		k := keys[0]
		parts := ceilDiv(k.n, sumChunk)
		pp := be.need(&be.sc.sums, 8*(parts+1))
		out := pp + uint64(8*parts)
		be.launch(kSumsqPartial, d1(parts), d1(threads), 0, pp, k.ptr, i64(k.n), i32(sumChunk))
		be.launch(kSumsqFinish, d1(1), d1(threads), 0, out, pp, i32(parts))
		be.dev.download(unsafe.Pointer(&vals[0]), out, 8)
		return vals
	}
	// The table: ptrs (u64), ns (i64), then partStart (int32, nkeys+1).
	nk := len(keys)
	table := make([]uint64, 2*nk+ceilDiv(4*(nk+1), 8))
	starts := unsafe.Slice((*int32)(unsafe.Pointer(&table[2*nk])), nk+1)
	total := 0
	for i, k := range keys {
		table[i], table[nk+i] = k.ptr, uint64(k.n)
		starts[i] = int32(total)
		total += ceilDiv(k.n, sumChunk)
	}
	starts[nk] = int32(total)
	if total > math.MaxInt32 {
		panic(fmt.Sprintf("%s: SumSquares over %d blocks", be.Name(), total))
	}
	pt := be.need(&be.sc.sumTable, 8*len(table))
	be.dev.upload(pt, unsafe.Pointer(&table[0]), 8*len(table))
	pp := be.need(&be.sc.sums, 8*(total+nk))
	out := pp + uint64(8*total)
	pstart := pt + uint64(16*nk)
	be.launch(kSumsqMultiPartial, d1(total), d1(threads), 0, pp, pt, pt+uint64(8*nk), pstart, i32(nk), i32(sumChunk))
	be.launch(kSumsqMultiFinish, d1(nk), d1(threads), 0, out, pp, pstart)
	be.dev.download(unsafe.Pointer(&vals[0]), out, 8*nk)
	return vals
}

// AdamW implements backend.Backend with the step's scalars of
// AdamWParams.Scalars, as the CPU backend.
func (be *Backend) AdamW(p, g, m, v, target backend.Buffer, n int, h backend.AdamWParams) {
	if n <= 0 {
		return
	}
	defer be.op()()
	pp, pg := be.needLen("AdamW p", p, n), be.needLen("AdamW g", g, n)
	pm, pv := be.needLen("AdamW m", m, n), be.needLen("AdamW v", v, n)
	var pt uint64
	if target != nil {
		pt = be.needLen("AdamW target", target, n)
	}
	sc := h.Scalars()
	be.launch1(kAdamWStep, n, pp, pg, pm, pv, pt, flag(target != nil), i64(n),
		f32(sc.Decay), f32(sc.LRWD), f32(sc.B1), f32(sc.B2), f32(sc.C1), f32(sc.C2),
		f32(sc.StepSize), f32(sc.BC2Sqrt), f32(sc.Eps), f32(sc.GradScale), flag(sc.HasDecay))
}
