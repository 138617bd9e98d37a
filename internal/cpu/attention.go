package cpu

import (
	"math"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

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

// Attention implements backend.Backend, in parallel over (batch, head) pairs.
// Scores and the softmax are computed in float64 and rounded once.
func (be *Backend) Attention(ctx, probs, q, k, v, keyMask backend.Buffer, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	cd, pd := data(ctx).Data, data(probs).Data
	qd, kd, vd, md := data(q).Data, data(k).Data, data(v).Data, data(keyMask).Data
	be.parallel(batch*heads, func(lo, hi int) {
		scores := make([]float64, seq)
		acc := make([]float64, headDim)
		words := make([]uint32, seq)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/heads, bh%heads
			mask := md[b*seq : (b+1)*seq]
			real := realKeys(mask)
			base := b*seq*hidden + h*headDim
			for i := 0; i < seq; i++ {
				qi := qd[base+i*hidden:][:headDim]
				maxS := math.Inf(-1)
				for j := 0; j < seq; j++ {
					if real > 0 && mask[j] == 0 {
						continue
					}
					kj := kd[base+j*hidden:][:headDim]
					var s float32
					for d, x := range qi {
						s += x * kj[d]
					}
					scores[j] = float64(s) * float64(scale)
					maxS = math.Max(maxS, scores[j])
				}
				var sum float64
				for j := 0; j < seq; j++ {
					if real > 0 && mask[j] == 0 {
						scores[j] = 0
						continue
					}
					scores[j] = math.Exp(scores[j] - maxS)
					sum += scores[j]
				}
				row := (bh*seq + i) * seq
				if dropP > 0 {
					drop.Fill(words, uint64(row))
				}
				prow := pd[row:][:seq]
				clear(acc)
				for j := 0; j < seq; j++ {
					p := float32(scores[j] / sum)
					prow[j] = p
					if dropP > 0 {
						if !philox.Keep(words[j], dropP) {
							continue
						}
						p /= 1 - dropP
					}
					if p == 0 {
						continue
					}
					vj := vd[base+j*hidden:][:headDim]
					for d, x := range vj {
						acc[d] += float64(p) * float64(x)
					}
				}
				crow := cd[base+i*hidden:][:headDim]
				for d := range crow {
					crow[d] = float32(acc[d])
				}
			}
		}
	})
}

// AttentionBackward implements backend.Backend. With P the stored
// probabilities and P' = dropout(P): dV = P'ᵀ·dctx, dP = dropout(dctx·Vᵀ),
// dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
func (be *Backend) AttentionBackward(dq, dk, dv, dctx, q, k, v, probs backend.Buffer, batch, seq, heads, headDim int, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	dqd, dkd, dvd, dcd := data(dq).Data, data(dk).Data, data(dv).Data, data(dctx).Data
	qd, kd, vd, pd := data(q).Data, data(k).Data, data(v).Data, data(probs).Data
	// Heads write disjoint columns of dq/dk/dv, so (batch, head) pairs run in parallel.
	be.parallel(batch*heads, func(lo, hi int) {
		dS := make([]float64, seq)
		words := make([]uint32, seq)
		dkAcc := make([]float64, seq*headDim)
		dvAcc := make([]float64, seq*headDim)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/heads, bh%heads
			base := b*seq*hidden + h*headDim
			clear(dkAcc)
			clear(dvAcc)
			for i := 0; i < seq; i++ {
				row := (bh*seq + i) * seq
				prow := pd[row:][:seq]
				if dropP > 0 {
					drop.Fill(words, uint64(row))
				}
				dci := dcd[base+i*hidden:][:headDim]
				var dot float64
				for j := 0; j < seq; j++ {
					keep := float64(1)
					if dropP > 0 {
						keep = 0
						if philox.Keep(words[j], dropP) {
							keep = 1 / float64(1-dropP)
						}
					}
					p := float64(prow[j])
					// dV_j += P'_ij dctx_i
					if pk := p * keep; pk != 0 {
						dvj := dvAcc[j*headDim:][:headDim]
						for d, x := range dci {
							dvj[d] += pk * float64(x)
						}
					}
					var dp float64
					if keep != 0 && p != 0 {
						vj := vd[base+j*hidden:][:headDim]
						for d, x := range dci {
							dp += float64(x) * float64(vj[d])
						}
						dp *= keep
					}
					dS[j] = dp
					dot += dp * p
				}
				qi := qd[base+i*hidden:][:headDim]
				dqi := dqd[base+i*hidden:][:headDim]
				var accQ [256]float64
				aq := accQ[:0]
				if headDim <= len(accQ) {
					aq = accQ[:headDim]
				} else {
					aq = make([]float64, headDim)
				}
				for j := 0; j < seq; j++ {
					s := float64(prow[j]) * (dS[j] - dot) * float64(scale)
					if s == 0 {
						continue
					}
					kj := kd[base+j*hidden:][:headDim]
					dkj := dkAcc[j*headDim:][:headDim]
					for d := range aq {
						aq[d] += s * float64(kj[d])
						dkj[d] += s * float64(qi[d])
					}
				}
				for d := range dqi {
					dqi[d] = float32(aq[d])
				}
			}
			for j := 0; j < seq; j++ {
				dkj := dkd[base+j*hidden:][:headDim]
				dvj := dvd[base+j*hidden:][:headDim]
				for d := 0; d < headDim; d++ {
					dkj[d] = float32(dkAcc[j*headDim+d])
					dvj[d] = float32(dvAcc[j*headDim+d])
				}
			}
		}
	})
}
