package cpu

import (
	"math"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// Rotary attention runs per (batch, head) pair, blockwise over the
// queries: each block of rotaryBlock queries computes its scores only
// against the keys its window can reach (all keys for a global layer),
// so a local layer costs O(seq·window) and no layer keeps more than
// rotaryBlock×seq scores (flash attention's recomputation, on the CPU):
//
//	forward:  S = scale·Q'·K'ᵀ, P = softmax(S) over the window's real keys,
//	          ctx = dropout(P)·V, lse = log Σ exp(S)
//	backward: P = exp(S − lse) recomputed, D_i = dctx_i·ctx_i,
//	          dV += P'ᵀ·dctx, dS = P ⊙ (dropout(dctx·Vᵀ) − D), dQ' = scale·dS·K',
//	          dK' += scale·dSᵀ·Q', then dQ, dK = the inverse rotation of dQ', dK'
//
// Q' and K' (the rotated q and k) are built per pair in scratch memory.

// rotaryBlock is the number of queries whose scores are computed together.
const rotaryBlock = 64

// rotate writes dst[i,:] = rope(src row i) for seq rows (src stride ld,
// dst stride headDim), multiplied by mul.
func rotate(dst, src []float32, ld, seq, headDim int, cos, sin []float32, mul float32) {
	half := headDim / 2
	for i := 0; i < seq; i++ {
		s, d := src[i*ld:][:headDim], dst[i*headDim:][:headDim]
		cs, sn := cos[i*half:][:half], sin[i*half:][:half]
		for c := 0; c < half; c++ {
			x1, x2 := s[c], s[c+half]
			d[c] = (x1*cs[c] - x2*sn[c]) * mul
			d[c+half] = (x2*cs[c] + x1*sn[c]) * mul
		}
	}
}

// unrotate writes dst row i (stride ld) = the transpose rotation of src
// row i (stride headDim) times mul: the gradient of rope's input.
func unrotate(dst, src []float32, ld, seq, headDim int, cos, sin []float32, mul float32) {
	half := headDim / 2
	for i := 0; i < seq; i++ {
		s, d := src[i*headDim:][:headDim], dst[i*ld:][:headDim]
		cs, sn := cos[i*half:][:half], sin[i*half:][:half]
		for c := 0; c < half; c++ {
			g1, g2 := s[c], s[c+half]
			d[c] = (g1*cs[c] + g2*sn[c]) * mul
			d[c+half] = (g2*cs[c] - g1*sn[c]) * mul
		}
	}
}

// keyRange is the keys [k0, k1) that queries [i0, i1) can attend to.
func keyRange(i0, i1, seq, window int) (k0, k1 int) {
	if window < 0 {
		return 0, seq
	}
	return max(0, i0-window), min(seq, i1-1+window+1)
}

// rotaryScratch is one worker's temporaries for a (batch, head) pair.
type rotaryScratch struct {
	q, k, dq, dk, s, g, dd []float32
	words                  []uint32
}

// getRotaryScratch takes a worker's temporaries for (batch, head) pairs of
// seq tokens from the backend's free list (kept across calls, so that a
// layer's attention allocates nothing once warm).
func (be *Backend) getRotaryScratch(seq, headDim int) *rotaryScratch {
	be.mu.Lock()
	var s *rotaryScratch
	if n := len(be.rotary); n > 0 {
		s = be.rotary[n-1]
		be.rotary = be.rotary[:n-1]
	}
	be.mu.Unlock()
	if s == nil {
		s = &rotaryScratch{}
	}
	grow := func(b []float32, n int) []float32 {
		if cap(b) < n {
			return make([]float32, n)
		}
		return b[:n]
	}
	n, w := seq*headDim, min(seq, rotaryBlock)*seq
	s.q, s.k, s.dq, s.dk = grow(s.q, n), grow(s.k, n), grow(s.dq, n), grow(s.dk, n)
	s.s, s.g, s.dd = grow(s.s, w), grow(s.g, w), grow(s.dd, seq)
	if cap(s.words) < seq {
		s.words = make([]uint32, seq)
	}
	s.words = s.words[:seq]
	return s
}

func (be *Backend) putRotaryScratch(s *rotaryScratch) {
	be.mu.Lock()
	be.rotary = append(be.rotary, s)
	be.mu.Unlock()
}

// probsBlock overwrites the score block s [i1−i0, k1−k0] (scaled scores)
// with the probabilities of queries i0..i1: from lse when given (the
// backward), else by softmax, storing each row's log-sum-exp into lseOut.
// Keys outside the window or padding get exactly 0.
func probsBlock(s, mask []float32, i0, i1, k0, k1, window int, lse, lseOut []float32) {
	nk := k1 - k0
	for i := i0; i < i1; i++ {
		row := s[(i-i0)*nk:][:nk]
		lo, hi := k0, k1
		if window >= 0 {
			lo, hi = max(k0, i-window), min(k1, i+window+1)
		}
		clear(row[:lo-k0])
		clear(row[hi-k0:])
		in, m := row[lo-k0:hi-k0], mask[lo:hi]
		if lse != nil {
			l := lse[i]
			if math.IsInf(float64(l), 1) {
				clear(in)
				continue
			}
			expShift(in, l)
			for j, v := range m {
				if v == 0 {
					in[j] = 0
				}
			}
			continue
		}
		maxS := float32(math.Inf(-1))
		for j, v := range m {
			if v != 0 && in[j] > maxS {
				maxS = in[j]
			}
		}
		if math.IsInf(float64(maxS), -1) { // no real key in the window
			clear(in)
			lseOut[i] = float32(math.Inf(1))
			continue
		}
		expShift(in, maxS)
		var sum float64
		for j, v := range m {
			if v == 0 {
				in[j] = 0
			}
			sum += float64(in[j])
		}
		inv := float32(1 / sum)
		for j := range in {
			in[j] *= inv
		}
		lseOut[i] = maxS + float32(math.Log(sum))
	}
}

// expShift overwrites x with exp(x − m) for x <= m (scores of a row
// against its maximum or its log-sum-exp): expf's polynomial inlined,
// arguments clamped at −87 (e^−87 is below any sum's rounding; masked
// entries are zeroed by the caller).
func expShift(x []float32, m float32) {
	for j, s := range x {
		v := s - m
		if v < -87 {
			v = -87
		}
		t := v*1.44269504088896341 + 12582912
		n := t - 12582912
		r := v - n*0.693359375 + n*2.12194440e-4
		p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
		x[j] = (p*r*r + r + 1) * math.Float32frombits(uint32(int32(math.Float32bits(t)&0x7fffff)+127-0x400000)<<23)
	}
}

// dropBlock multiplies the block [i1−i0, k1−k0] by the dropout multipliers
// of pair bh (element ((bh·seq+i)·seq+j)).
func dropBlock(x []float32, words []uint32, bh, seq, i0, i1, k0, k1 int, p float32, drop philox.Stream) {
	nk := k1 - k0
	keep, thr := 1/(1-p), keepThreshold(p)
	for i := i0; i < i1; i++ {
		w := words[:nk]
		fillWords(drop, w, uint64(bh*seq+i)*uint64(seq)+uint64(k0))
		row := x[(i-i0)*nk:][:nk]
		for j, u := range w {
			if u>>8 >= thr {
				row[j] *= keep
			} else {
				row[j] = 0
			}
		}
	}
}

// RotaryAttention implements backend.Backend.
func (be *Backend) RotaryAttention(ctx, lse, qkv, keyMask backend.Buffer, batch, seq, heads, headDim, window int, theta, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	ld := 3 * hidden
	x := data(qkv).Data[:batch*seq*ld]
	cd, ld2, md := data(ctx).Data[:batch*seq*hidden], data(lse).Data[:batch*heads*seq], data(keyMask).Data[:batch*seq]
	cos, sin := backend.RopeTables(seq, headDim, theta)
	be.parallel(batch*heads, func(lo, hi int) {
		ws, rs := be.getScratch(), be.getRotaryScratch(seq, headDim)
		defer be.putScratch(ws)
		defer be.putRotaryScratch(rs)
		kern := be.kern
		for bh := lo; bh < hi; bh++ {
			b, h := bh/heads, bh%heads
			base, cbase := b*seq*ld+h*headDim, b*seq*hidden+h*headDim
			mask, l := md[b*seq:][:seq], ld2[bh*seq:][:seq]
			rotate(rs.q, x[base:], ld, seq, headDim, cos, sin, scale)
			rotate(rs.k, x[base+hidden:], ld, seq, headDim, cos, sin, 1)
			v := x[base+2*hidden:]
			for i0 := 0; i0 < seq; i0 += rotaryBlock {
				i1 := min(seq, i0+rotaryBlock)
				k0, k1 := keyRange(i0, i1, seq, window)
				nq, nk := i1-i0, k1-k0
				s := rs.s[:nq*nk]
				sgemm(ws, kern, false, true, nq, nk, headDim, 1, rs.q[i0*headDim:], headDim, rs.k[k0*headDim:], headDim, 0, s, nk)
				probsBlock(s, mask, i0, i1, k0, k1, window, nil, l)
				if dropP > 0 {
					dropBlock(s, rs.words, bh, seq, i0, i1, k0, k1, dropP, drop)
				}
				sgemm(ws, kern, false, false, nq, headDim, nk, 1, s, nk, v[k0*ld:], ld, 0, cd[cbase+i0*hidden:], hidden)
			}
		}
	})
}

// RotaryAttentionBackward implements backend.Backend.
func (be *Backend) RotaryAttentionBackward(dqkv, dctx, ctx, lse, qkv, keyMask backend.Buffer, batch, seq, heads, headDim, window int, theta, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	ld := 3 * hidden
	n := batch * seq * ld
	x, dx := data(qkv).Data[:n], data(dqkv).Data[:n]
	cd, dcd := data(ctx).Data[:batch*seq*hidden], data(dctx).Data[:batch*seq*hidden]
	ld2, md := data(lse).Data[:batch*heads*seq], data(keyMask).Data[:batch*seq]
	cos, sin := backend.RopeTables(seq, headDim, theta)
	be.parallel(batch*heads, func(lo, hi int) {
		ws, rs := be.getScratch(), be.getRotaryScratch(seq, headDim)
		defer be.putScratch(ws)
		defer be.putRotaryScratch(rs)
		kern := be.kern
		dd := rs.dd
		for bh := lo; bh < hi; bh++ {
			b, h := bh/heads, bh%heads
			base, cbase := b*seq*ld+h*headDim, b*seq*hidden+h*headDim
			mask, l := md[b*seq:][:seq], ld2[bh*seq:][:seq]
			rotate(rs.q, x[base:], ld, seq, headDim, cos, sin, scale)
			rotate(rs.k, x[base+hidden:], ld, seq, headDim, cos, sin, 1)
			v, dv := x[base+2*hidden:], dx[base+2*hidden:]
			for i := 0; i < seq; i++ { // D_i = dctx_i·ctx_i; dV starts at 0
				var d float64
				cr, dr := cd[cbase+i*hidden:][:headDim], dcd[cbase+i*hidden:][:headDim]
				for c := range cr {
					d += float64(cr[c]) * float64(dr[c])
				}
				dd[i] = float32(d)
				clear(dv[i*ld:][:headDim])
			}
			clear(rs.dk)
			for i0 := 0; i0 < seq; i0 += rotaryBlock {
				i1 := min(seq, i0+rotaryBlock)
				k0, k1 := keyRange(i0, i1, seq, window)
				nq, nk := i1-i0, k1-k0
				s, g := rs.s[:nq*nk], rs.g[:nq*nk]
				sgemm(ws, kern, false, true, nq, nk, headDim, 1, rs.q[i0*headDim:], headDim, rs.k[k0*headDim:], headDim, 0, s, nk)
				probsBlock(s, mask, i0, i1, k0, k1, window, l, nil)
				dc := dcd[cbase+i0*hidden:]
				// G = dctx·Vᵀ, then dropout's multipliers on G and on P' = P·m.
				sgemm(ws, kern, false, true, nq, nk, headDim, 1, dc, hidden, v[k0*ld:], ld, 0, g, nk)
				if dropP > 0 {
					dropBlock(g, rs.words, bh, seq, i0, i1, k0, k1, dropP, drop)
				}
				// dS = P ⊙ (G' − D) into g; P' (for dV) into s.
				for i := i0; i < i1; i++ {
					sr, gr := s[(i-i0)*nk:][:nk], g[(i-i0)*nk:][:nk]
					d := dd[i]
					for j := range gr {
						gr[j] = sr[j] * (gr[j] - d)
					}
				}
				if dropP > 0 {
					dropBlock(s, rs.words, bh, seq, i0, i1, k0, k1, dropP, drop)
				}
				// dV[k0:k1] += P'ᵀ·dctx; dQ' = dS·K'; dK' += dSᵀ·Q'
				sgemm(ws, kern, true, false, nk, headDim, nq, 1, s, nk, dc, hidden, 1, dv[k0*ld:], ld)
				sgemm(ws, kern, false, false, nq, headDim, nk, 1, g, nk, rs.k[k0*headDim:], headDim, 0, rs.dq[i0*headDim:], headDim)
				sgemm(ws, kern, true, false, nk, headDim, nq, 1, g, nk, rs.q[i0*headDim:], headDim, 1, rs.dk[k0*headDim:], headDim)
			}
			// S = (scale·Q')·K'ᵀ: dQ = scale·R(dQ'), dK = R(dK') with
			// dK' taken against the scaled Q'.
			unrotate(dx[base:], rs.dq, ld, seq, headDim, cos, sin, scale)
			unrotate(dx[base+hidden:], rs.dk, ld, seq, headDim, cos, sin, 1)
		}
	})
}

// GatedActivate implements backend.Backend.
func (be *Backend) GatedActivate(out, x backend.Buffer, rows, cols int, act backend.Activation) {
	o, xd := data(out).Data[:rows*cols], data(x).Data[:2*rows*cols]
	be.parallel(rows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in, gate, or := xd[2*r*cols:][:cols], xd[(2*r+1)*cols:][:cols], o[r*cols:][:cols]
			for j, v := range in {
				or[j] = Activate(v, act) * gate[j]
			}
		}
	})
}

// GatedActivateBackward implements backend.Backend.
func (be *Backend) GatedActivateBackward(dx, dy, x backend.Buffer, rows, cols int, act backend.Activation) {
	d, dyd, xd := data(dx).Data[:2*rows*cols], data(dy).Data[:rows*cols], data(x).Data[:2*rows*cols]
	be.parallel(rows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in, gate, g := xd[2*r*cols:][:cols], xd[(2*r+1)*cols:][:cols], dyd[r*cols:][:cols]
			din, dgate := d[2*r*cols:][:cols], d[(2*r+1)*cols:][:cols]
			for j, v := range in {
				din[j] = float32(float64(g[j]) * float64(gate[j]) * activateGrad(float64(v), act))
				dgate[j] = g[j] * Activate(v, act)
			}
		}
	})
}
