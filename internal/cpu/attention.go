package cpu

import (
	"math"

	"github.com/mixft/mixft/internal/backend"
)

// Attention implements backend.Backend, in parallel over (batch, head) pairs.
// Scores and the softmax are computed in float64 and rounded once.
func (be *Backend) Attention(ctx, probs, q, k, v, keyMask backend.Buffer, batch, seq, heads, headDim int, scale float32) {
	hidden := heads * headDim
	cd, pd := data(ctx).Data, data(probs).Data
	qd, kd, vd, md := data(q).Data, data(k).Data, data(v).Data, data(keyMask).Data
	be.parallel(batch*heads, func(lo, hi int) {
		scores := make([]float64, seq)
		acc := make([]float64, headDim)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/heads, bh%heads
			mask := md[b*seq : (b+1)*seq]
			real := 0
			for _, m := range mask {
				if m != 0 {
					real++
				}
			}
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
					sv := float64(s) * float64(scale)
					scores[j] = sv
					maxS = math.Max(maxS, sv)
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
				prow := pd[(bh*seq+i)*seq:][:seq]
				clear(acc)
				for j := 0; j < seq; j++ {
					p := float32(scores[j] / sum)
					prow[j] = p
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
