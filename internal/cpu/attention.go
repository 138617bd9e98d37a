package cpu

import (
	"math"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// Attention runs per (batch, head) pair on the packed SGEMM: with Q, K, V
// the pair's seq×headDim slices (row stride hidden, no copies),
//
//	forward:  S = scale·Q·Kᵀ, P = softmax(S) over real keys, P' = dropout(P), ctx = P'·V
//	backward: dV = P'ᵀ·dctx, G = dctx·Vᵀ, dS = scale·(P'⊙G − P⊙rowsum(P'⊙G)),
//	          dQ = dS·K, dK = dSᵀ·Q
//
// The backward's dS uses P'ᵢⱼ = Pᵢⱼ·dᵢⱼ (d the dropout multiplier), so it
// needs only P' and P, not the mask: where Pᵢⱼ = 0 the term vanishes anyway.
// Pairs run in parallel; each GEMM on one goroutine.

// attnScratch is one worker's attention temporaries (seq×seq each).
type attnScratch struct {
	pd, g []float32
	words []uint32
}

func (be *Backend) getAttnScratch(seq int) *attnScratch {
	be.mu.Lock()
	var s *attnScratch
	if n := len(be.attn); n > 0 {
		s = be.attn[n-1]
		be.attn = be.attn[:n-1]
	}
	be.mu.Unlock()
	if s == nil {
		s = &attnScratch{}
	}
	if cap(s.pd) < seq*seq {
		s.pd, s.g = make([]float32, seq*seq), make([]float32, seq*seq)
	}
	if cap(s.words) < seq {
		s.words = make([]uint32, seq)
	}
	s.pd, s.g, s.words = s.pd[:seq*seq], s.g[:seq*seq], s.words[:seq]
	return s
}

func (be *Backend) putAttnScratch(s *attnScratch) {
	be.mu.Lock()
	be.attn = append(be.attn, s)
	be.mu.Unlock()
}

// realKeys counts the real (unmasked) keys of one row of the key mask.
func realKeys(mask []float32) int {
	n := 0
	for _, m := range mask {
		if m != 0 {
			n++
		}
	}
	return n
}

// softmaxRow overwrites the scores row with softmax over the real keys
// (every key when real is 0); padding keys get exactly 0. The sum is
// accumulated in float64.
func softmaxRow(row, mask []float32, real int) {
	if real == len(row) && softmaxRowFast(row) {
		return
	}
	softmaxRowGo(row, mask, real)
}

// softmaxRowGo is softmaxRow in Go, and the reference of the vectorized
// softmaxRowFast.
func softmaxRowGo(row, mask []float32, real int) {
	maxS := float32(math.Inf(-1))
	for j, s := range row {
		if real > 0 && mask[j] == 0 {
			continue
		}
		if s > maxS { // the builtin max's NaN and ±0 handling costs a chain of ops here
			maxS = s
		}
	}
	var sum float64
	if real == len(row) {
		// No padding (the common case): expf inlined by hand for x <= 0,
		// clamped at -87 (e^-87 is far below any sum's rounding).
		for j, s := range row {
			x := s - maxS
			if x < -87 {
				x = -87
			}
			t := x*1.44269504088896341 + 12582912
			n := t - 12582912
			r := x - n*0.693359375 + n*2.12194440e-4
			p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
			e := (p*r*r + r + 1) * math.Float32frombits(uint32(int32(math.Float32bits(t)&0x7fffff)+127-0x400000)<<23)
			row[j] = e
			sum += float64(e)
		}
	} else {
		for j, s := range row {
			if real > 0 && mask[j] == 0 {
				row[j] = 0
				continue
			}
			e := expf(s - maxS)
			row[j] = e
			sum += float64(e)
		}
	}
	inv := float32(1 / sum)
	for j := range row {
		row[j] *= inv
	}
}

// AttentionQKV implements backend.Backend: Attention reading Q, K and V in
// place from the packed rows.
func (be *Backend) AttentionQKV(ctx, probs, qkv, keyMask backend.Buffer, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	x := data(qkv).Data[:batch*seq*3*hidden]
	be.attention(data(ctx).Data, data(probs).Data, x, x[hidden:], x[2*hidden:], data(keyMask).Data, 3*hidden,
		batch, seq, heads, headDim, scale, dropP, drop)
}

// attention is AttentionQKV with token t's q, k and v at t·ld of qd, kd
// and vd (head h at columns h·headDim..); ctx has rows of heads·headDim.
func (be *Backend) attention(cd, pd, qd, kd, vd, md []float32, ld, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	be.parallel(batch*heads, func(lo, hi int) {
		gw, as := be.getGemmWorker(), be.getAttnScratch(seq)
		defer be.putGemmWorker(gw)
		defer be.putAttnScratch(as)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/heads, bh%heads
			mask := md[b*seq : (b+1)*seq]
			real := realKeys(mask)
			base, cbase := b*seq*ld+h*headDim, b*seq*hidden+h*headDim
			p := pd[bh*seq*seq:][:seq*seq]
			gw.gemm(false, true, seq, seq, headDim, scale, qd[base:], ld, kd[base:], ld, 0, p, seq)
			for i := 0; i < seq; i++ {
				softmaxRow(p[i*seq:][:seq], mask, real)
			}
			pv := p
			if dropP > 0 {
				pv = dropProbs(as, p, bh, seq, dropP, drop)
			}
			gw.gemm(false, false, seq, headDim, seq, 1, pv, seq, vd[base:], ld, 0, cd[cbase:], hidden)
		}
	})
}

// dropProbs writes P' = dropout(P) of pair bh (the mask element of (i, j)
// is (bh·seq+i)·seq+j of drop) into the scratch and returns it.
func dropProbs(as *attnScratch, p []float32, bh, seq int, dropP float32, drop philox.Stream) []float32 {
	pv := as.pd
	keep, thr := backend.KeepScale(dropP), keepThreshold(dropP)
	for i := 0; i < seq; i++ {
		fillWords(drop, as.words, uint64((bh*seq+i)*seq))
		dropScale(pv[i*seq:][:seq], p[i*seq:][:seq], as.words, thr, keep)
	}
	return pv
}

// AttentionQKVBackward implements backend.Backend: attention's backward
// reading Q, K and V and writing their gradients in place in the packed rows.
func (be *Backend) AttentionQKVBackward(dqkv, dctx, qkv, probs backend.Buffer, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	n := batch * seq * 3 * hidden
	d, x := data(dqkv).Data[:n], data(qkv).Data[:n]
	be.attentionBackward(d, d[hidden:], d[2*hidden:], data(dctx).Data, x, x[hidden:], x[2*hidden:],
		data(probs).Data, 3*hidden, batch, seq, heads, headDim, scale, dropP, drop)
}

// attentionBackward is the backward of attention, with q, k, v, dq, dk
// and dv in rows of ld elements.
func (be *Backend) attentionBackward(dqd, dkd, dvd, dcd, qd, kd, vd, pd []float32, ld, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	// Heads write disjoint columns of dq/dk/dv, so (batch, head) pairs run in parallel.
	be.parallel(batch*heads, func(lo, hi int) {
		gw, as := be.getGemmWorker(), be.getAttnScratch(seq)
		defer be.putGemmWorker(gw)
		defer be.putAttnScratch(as)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/heads, bh%heads
			base, cbase := b*seq*ld+h*headDim, b*seq*hidden+h*headDim
			p := pd[bh*seq*seq:][:seq*seq]
			pv := p
			if dropP > 0 {
				pv = dropProbs(as, p, bh, seq, dropP, drop)
			}
			// dV = P'ᵀ·dctx
			gw.gemm(true, false, seq, headDim, seq, 1, pv, seq, dcd[cbase:], hidden, 0, dvd[base:], ld)
			// G = dctx·Vᵀ
			g := as.g
			gw.gemm(false, true, seq, seq, headDim, 1, dcd[cbase:], hidden, vd[base:], ld, 0, g, seq)
			// dS = scale·(P'⊙G − P⊙rowsum(P'⊙G)), in place in g.
			for i := 0; i < seq; i++ {
				gr, pr, pvr := g[i*seq:][:seq], p[i*seq:][:seq], pv[i*seq:][:seq]
				softmaxGradRow(gr, pvr, pr, scale)
			}
			// dQ = dS·K, dK = dSᵀ·Q
			gw.gemm(false, false, seq, headDim, seq, 1, g, seq, kd[base:], ld, 0, dqd[base:], ld)
			gw.gemm(true, false, seq, headDim, seq, 1, g, seq, qd[base:], ld, 0, dkd[base:], ld)
		}
	})
}

// softmaxGradRow overwrites one row of G with the row of dS:
// g[j] = scale·(pv[j]·g[j] − p[j]·Σₖ pv[k]·g[k]), the sum in float64;
// vectorized where softmaxGradRowFast can.
func softmaxGradRow(g, pv, p []float32, scale float32) {
	if !softmaxGradRowFast(g, pv, p, scale) {
		softmaxGradRowGo(g, pv, p, scale)
	}
}

// softmaxGradRowGo is softmaxGradRow in Go, and the reference of the
// vectorized softmaxGradRowFast.
func softmaxGradRowGo(g, pv, p []float32, scale float32) {
	pv, p = pv[:len(g)], p[:len(g)]
	var dot float64
	for j, x := range g {
		dot += float64(pv[j]) * float64(x)
	}
	d := float32(dot)
	for j, x := range g {
		g[j] = scale * (pv[j]*x - p[j]*d)
	}
}
