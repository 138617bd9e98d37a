package cpu

import (
	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// Disentangled attention (backend.Disentangled) per (batch, head) pair, on
// the packed SGEMM, with R = 2·span relative buckets and rel the bucket of
// each (query, key):
//
//	forward:  S = Q·Kᵀ, C = Q·posKᵀ [seq, R], D = K·posQᵀ [seq, R],
//	          S[i,j] = scale·(S[i,j] + C[i,rel] + D[j,rel]), softmax, dropout, ·V
//	backward: dS as attention's (scale included), then
//	          dC[i,r] = Σ_j dS[i,j]·[rel=r], dD[j,r] = Σ_i dS[i,j]·[rel=r],
//	          dQ = dS·K + dC·posK, dK = dSᵀ·Q + dD·posQ,
//	          dposK += dCᵀ·Q, dposQ += dDᵀ·K (summed over the batch)

var _ backend.Disentangled = (*Backend)(nil)

// disScratch is one worker's temporaries: seq×seq scores and gradients,
// seq×R position scores and their gradients.
type disScratch struct {
	c, d, dc, dd []float32
}

func newDisScratch(seq, r int) *disScratch {
	return &disScratch{c: make([]float32, seq*r), d: make([]float32, seq*r), dc: make([]float32, seq*r), dd: make([]float32, seq*r)}
}

// DisentangledAttention implements backend.Disentangled.
func (be *Backend) DisentangledAttention(ctx, probs, qkv, pos, keyMask backend.Buffer, rel []int32, batch, seq, heads, headDim, span int, scale, dropP float32, drop philox.Stream) {
	hidden, r := heads*headDim, 2*span
	ld := 3 * hidden
	x, pd, cd, md := data(qkv).Data[:batch*seq*ld], data(probs).Data, data(ctx).Data, data(keyMask).Data
	posd := data(pos).Data[:r*ld]
	qd, kd, vd := x, x[hidden:], x[2*hidden:]
	be.parallel(batch*heads, func(lo, hi int) {
		ws, as := be.getScratch(), be.getAttnScratch(seq)
		defer be.putScratch(ws)
		defer be.putAttnScratch(as)
		ds := newDisScratch(seq, r)
		kern := be.kern
		for bh := lo; bh < hi; bh++ {
			b, h := bh/heads, bh%heads
			mask := md[b*seq : (b+1)*seq]
			real := realKeys(mask)
			base, cbase, pbase := b*seq*ld+h*headDim, b*seq*hidden+h*headDim, h*headDim
			p := pd[bh*seq*seq:][:seq*seq]
			sgemm(ws, kern, false, true, seq, seq, headDim, 1, qd[base:], ld, kd[base:], ld, 0, p, seq)
			sgemm(ws, kern, false, true, seq, r, headDim, 1, qd[base:], ld, posd[pbase+hidden:], ld, 0, ds.c, r)
			sgemm(ws, kern, false, true, seq, r, headDim, 1, kd[base:], ld, posd[pbase:], ld, 0, ds.d, r)
			for i := 0; i < seq; i++ {
				row := p[i*seq:][:seq]
				if mask[i] == 0 { // a padding query attends to nothing
					clear(row)
					continue
				}
				ri := rel[i*seq:][:seq]
				for j := range row {
					row[j] = scale * (row[j] + ds.c[i*r+int(ri[j])] + ds.d[j*r+int(ri[j])])
				}
				softmaxRow(row, mask, real)
			}
			pv := p
			if dropP > 0 {
				pv = dropProbs(as, p, bh, seq, dropP, drop)
			}
			sgemm(ws, kern, false, false, seq, headDim, seq, 1, pv, seq, vd[base:], ld, 0, cd[cbase:], hidden)
		}
	})
}

// DisentangledAttentionBackward implements backend.Disentangled. Heads run
// in parallel (each owns its columns of dpos), the batch in sequence.
func (be *Backend) DisentangledAttentionBackward(dqkv, dpos, dctx, qkv, pos, probs, keyMask backend.Buffer, rel []int32, batch, seq, heads, headDim, span int, scale, dropP float32, drop philox.Stream) {
	hidden, r := heads*headDim, 2*span
	ld := 3 * hidden
	n := batch * seq * ld
	d, x := data(dqkv).Data[:n], data(qkv).Data[:n]
	dqd, dkd, dvd := d, d[hidden:], d[2*hidden:]
	qd, kd, vd := x, x[hidden:], x[2*hidden:]
	posd, dposd := data(pos).Data[:r*ld], data(dpos).Data[:r*ld]
	pd, dcd := data(probs).Data, data(dctx).Data
	be.parallel(heads, func(lo, hi int) {
		ws, as := be.getScratch(), be.getAttnScratch(seq)
		defer be.putScratch(ws)
		defer be.putAttnScratch(as)
		ds := newDisScratch(seq, r)
		kern := be.kern
		for h := lo; h < hi; h++ {
			for b := 0; b < batch; b++ {
				bh := b*heads + h
				base, cbase, pbase := b*seq*ld+h*headDim, b*seq*hidden+h*headDim, h*headDim
				p := pd[bh*seq*seq:][:seq*seq]
				pv := p
				if dropP > 0 {
					pv = dropProbs(as, p, bh, seq, dropP, drop)
				}
				sgemm(ws, kern, true, false, seq, headDim, seq, 1, pv, seq, dcd[cbase:], hidden, 0, dvd[base:], ld)
				g := as.g
				sgemm(ws, kern, false, true, seq, seq, headDim, 1, dcd[cbase:], hidden, vd[base:], ld, 0, g, seq)
				clear(ds.dc)
				clear(ds.dd)
				for i := 0; i < seq; i++ {
					gr, pr, pvr := g[i*seq:][:seq], p[i*seq:][:seq], pv[i*seq:][:seq]
					var dot float64
					for j, x := range gr {
						dot += float64(pvr[j]) * float64(x)
					}
					dt := float32(dot)
					ri := rel[i*seq:][:seq]
					for j, x := range gr {
						v := scale * (pvr[j]*x - pr[j]*dt)
						gr[j] = v
						ds.dc[i*r+int(ri[j])] += v
						ds.dd[j*r+int(ri[j])] += v
					}
				}
				// dQ = dS·K + dC·posK, dK = dSᵀ·Q + dD·posQ
				sgemm(ws, kern, false, false, seq, headDim, seq, 1, g, seq, kd[base:], ld, 0, dqd[base:], ld)
				sgemm(ws, kern, false, false, seq, headDim, r, 1, ds.dc, r, posd[pbase+hidden:], ld, 1, dqd[base:], ld)
				sgemm(ws, kern, true, false, seq, headDim, seq, 1, g, seq, qd[base:], ld, 0, dkd[base:], ld)
				sgemm(ws, kern, false, false, seq, headDim, r, 1, ds.dd, r, posd[pbase:], ld, 1, dkd[base:], ld)
				// dposK += dCᵀ·Q, dposQ += dDᵀ·K
				sgemm(ws, kern, true, false, r, headDim, seq, 1, ds.dc, r, qd[base:], ld, 1, dposd[pbase+hidden:], ld)
				sgemm(ws, kern, true, false, r, headDim, seq, 1, ds.dd, r, kd[base:], ld, 1, dposd[pbase:], ld)
			}
		}
	})
}
