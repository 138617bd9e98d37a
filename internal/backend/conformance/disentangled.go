package conformance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// disCase is one disentangled attention problem in float64: q, k, v
// [batch·seq, hidden], the relative embeddings' query and key projections
// pq, pk [r, hidden], the bucket of each (query, key) and the key mask.
type disCase struct {
	q, k, v, pq, pk          []float64
	rel                      []int32
	mask                     []float32
	batch, seq, heads, hd, r int
	scale                    float64
}

// forward is backend.Disentangled's forward in float64: probs before
// dropout, ctx after (d the dropout multipliers, nil for none).
func (c *disCase) forward(d []float64) (probs, ctx []float64) {
	hidden := c.heads * c.hd
	probs, ctx = make([]float64, c.batch*c.heads*c.seq*c.seq), make([]float64, c.batch*c.seq*hidden)
	s := make([]float64, c.seq)
	dot := func(a []float64, i int, b []float64, j, h int) float64 {
		var x float64
		for e := 0; e < c.hd; e++ {
			x += a[i*hidden+h*c.hd+e] * b[j*hidden+h*c.hd+e]
		}
		return x
	}
	for b := 0; b < c.batch; b++ {
		for h := 0; h < c.heads; h++ {
			for i := 0; i < c.seq; i++ {
				if c.mask[b*c.seq+i] == 0 {
					continue // a padding query attends to nothing
				}
				mx := math.Inf(-1)
				for j := 0; j < c.seq; j++ {
					if c.mask[b*c.seq+j] == 0 {
						s[j] = math.Inf(-1)
						continue
					}
					r := int(c.rel[i*c.seq+j])
					s[j] = c.scale * (dot(c.q, b*c.seq+i, c.k, b*c.seq+j, h) + dot(c.q, b*c.seq+i, c.pk, r, h) + dot(c.k, b*c.seq+j, c.pq, r, h))
					mx = math.Max(mx, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for j := range s {
					idx := ((b*c.heads+h)*c.seq+i)*c.seq + j
					p := s[j] / sum
					probs[idx] = p
					if d != nil {
						p *= d[idx]
					}
					for e := 0; e < c.hd; e++ {
						ctx[(b*c.seq+i)*hidden+h*c.hd+e] += p * c.v[(b*c.seq+j)*hidden+h*c.hd+e]
					}
				}
			}
		}
	}
	return probs, ctx
}

// backward is the analytic backward of forward given its probs: with
// P' = P ⊙ D, dV = P'ᵀ·dctx, dP = D ⊙ (dctx·Vᵀ), dT = scale·P ⊙ (dP −
// rowsum(P ⊙ dP)), and T[i,j] = q_i·k_j + q_i·pk_r + k_j·pq_r:
// dq_i = Σ_j dT_ij (k_j + pk_r), dk_j = Σ_i dT_ij (q_i + pq_r),
// dpk_r = Σ_{r_ij = r} dT_ij q_i, dpq_r = Σ_{r_ij = r} dT_ij k_j.
func (c *disCase) backward(dctx, probs, d []float64) (dq, dk, dv, dpq, dpk []float64) {
	hidden := c.heads * c.hd
	n := c.batch * c.seq * hidden
	dq, dk, dv = make([]float64, n), make([]float64, n), make([]float64, n)
	dpq, dpk = make([]float64, c.r*hidden), make([]float64, c.r*hidden)
	dp := make([]float64, c.seq)
	for b := 0; b < c.batch; b++ {
		for h := 0; h < c.heads; h++ {
			col := func(t int) int { return (b*c.seq+t)*hidden + h*c.hd }
			for i := 0; i < c.seq; i++ {
				row := ((b*c.heads+h)*c.seq + i) * c.seq
				var dot float64
				for j := 0; j < c.seq; j++ {
					dj := 1.0
					if d != nil {
						dj = d[row+j]
					}
					p := probs[row+j]
					var g float64
					for e := 0; e < c.hd; e++ {
						g += dctx[col(i)+e] * c.v[col(j)+e]
						dv[col(j)+e] += p * dj * dctx[col(i)+e]
					}
					dp[j] = g * dj
					dot += p * dp[j]
				}
				for j := 0; j < c.seq; j++ {
					dt := probs[row+j] * (dp[j] - dot) * c.scale
					r := int(c.rel[i*c.seq+j])*hidden + h*c.hd
					for e := 0; e < c.hd; e++ {
						dq[col(i)+e] += dt * (c.k[col(j)+e] + c.pk[r+e])
						dk[col(j)+e] += dt * (c.q[col(i)+e] + c.pq[r+e])
						dpk[r+e] += dt * c.q[col(i)+e]
						dpq[r+e] += dt * c.k[col(j)+e]
					}
				}
			}
		}
	}
	return dq, dk, dv, dpq, dpk
}

// newDisCase draws a case with random bucket indices (every row of the
// position tables reachable, in no particular order).
func newDisCase(rng *rand.Rand, batch, seq, heads, hd, r int, padded bool) *disCase {
	hidden := heads * hd
	n := batch * seq * hidden
	c := &disCase{batch: batch, seq: seq, heads: heads, hd: hd, r: r, mask: attnMask(batch, seq, padded),
		scale: 1 / math.Sqrt(3*float64(hd)), rel: make([]int32, seq*seq)}
	c.q, c.k, c.v = f64(randn(rng, n, 1)), f64(randn(rng, n, 1)), f64(randn(rng, n, 1))
	c.pq, c.pk = f64(randn(rng, r*hidden, 1)), f64(randn(rng, r*hidden, 1))
	for i := range c.rel {
		c.rel[i] = int32(rng.IntN(r))
	}
	return c
}

// testDisentangled checks DisentangledAttention and its backward against
// the float64 reference (itself checked by finite differences), for
// unpadded and padded batches (one batch entry without any real token),
// with and without dropout; dpos must accumulate and leave the value
// columns untouched.
func testDisentangled(t *testing.T, be backend.Backend) {
	dis := be.(backend.Disentangled)
	{
		rng := rand.New(rand.NewPCG(3, 0xe1))
		const batch, seq, heads, hd, r = 1, 3, 2, 2, 4
		for _, mask := range [][]float32{{1, 1, 1}, {1, 1, 0}} {
			for _, p := range []float32{0, 0.3} {
				c := newDisCase(rng, batch, seq, heads, hd, r, false)
				c.mask = mask
				d := dropMul(philox.Stream{Seed: 42, Step: 1, ID: philox.DropoutID(3)}, batch*heads*seq*seq, p)
				dctx := f64(randn(rng, batch*seq*heads*hd, 1))
				loss := func() float64 {
					_, ctx := c.forward(d)
					var l float64
					for i := range ctx {
						l += dctx[i] * ctx[i]
					}
					return l
				}
				probs, _ := c.forward(d)
				dq, dk, dv, dpq, dpk := c.backward(dctx, probs, d)
				what := fmt.Sprintf("finite differences mask %v p %g", mask, p)
				const h = 1e-6
				checkFloat64s(t, what+" dq", dq, numGrad(c.q, h, loss), 1e-7, 1e-6)
				checkFloat64s(t, what+" dk", dk, numGrad(c.k, h, loss), 1e-7, 1e-6)
				checkFloat64s(t, what+" dv", dv, numGrad(c.v, h, loss), 1e-7, 1e-6)
				checkFloat64s(t, what+" dpq", dpq, numGrad(c.pq, h, loss), 1e-7, 1e-6)
				checkFloat64s(t, what+" dpk", dpk, numGrad(c.pk, h, loss), 1e-7, 1e-6)
			}
		}
	}
	for si, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xe2))
		for _, seq := range []int{1, 7, 33} {
			for _, hd := range []int{1, 8, 33} {
				if seq == 33 && si > 0 {
					continue
				}
				for _, padded := range []bool{false, true} {
					for _, p := range []float32{0, 0.3} {
						const batch, heads = 3, 2
						r := 2 * (1 + rng.IntN(seq+2)) // 2·span rows, span up to seq + 2
						c := newDisCase(rng, batch, seq, heads, hd, r, padded)
						hidden, tokens := heads*hd, batch*seq
						n := tokens * hidden
						drop := randStream(rng, philox.DropoutID(rng.IntN(100)))
						d := dropMul(drop, batch*heads*seq*seq, p)
						wantP, wantC := c.forward(d)
						dctx := randn(rng, n, 1)
						dq, dk, dv, dpq, dpk := c.backward(f64(dctx), wantP, d)
						q32, k32, v32 := f32s(c.q), f32s(c.k), f32s(c.v)
						qkv := up(be, packQKV(q32, k32, v32, tokens, hidden))
						pos32 := packQKV(f32s(c.pq), f32s(c.pk), randn(rng, r*hidden, 1), r, hidden)
						pos := up(be, pos32)
						mask := up(be, c.mask)
						ctx, probs := nanUp(be, n), nanUp(be, len(wantP))
						scale := float32(c.scale)
						dis.DisentangledAttention(ctx, probs, qkv, pos, mask, c.rel, batch, seq, heads, hd, r/2, scale, p, drop)
						what := fmt.Sprintf("seq %d headDim %d rel rows %d padded %v p %g", seq, hd, r, padded, p)
						check(t, what+" probs", down(be, probs, len(wantP)), wantP)
						check(t, what+" ctx", down(be, ctx, n), wantC)
						dpos0 := randn(rng, 3*r*hidden, 1)
						dqkv, dpos := nanUp(be, 3*n), up(be, dpos0)
						dis.DisentangledAttentionBackward(dqkv, dpos, up(be, dctx), qkv, pos, probs, mask, c.rel, batch, seq, heads, hd, r/2, scale, p, drop)
						check(t, what+" dqkv", down(be, dqkv, 3*n), packQKV64(dq, dk, dv, tokens, hidden))
						wantPos := packQKV64(dpq, dpk, make([]float64, r*hidden), r, hidden)
						for i, x := range dpos0 {
							wantPos[i] += float64(x)
						}
						// dpos sums batch·seq² terms: 1e-5 of their largest magnitude on top.
						checkTol(t, what+" dpos", down(be, dpos, 3*r*hidden), wantPos, 1e-5*(1+maxAbs(dpq)+maxAbs(dpk)), Rel)
					}
				}
			}
		}
	}
}

// f32s narrows a float64 slice.
func f32s(v []float64) []float32 {
	w := make([]float32, len(v))
	for i, x := range v {
		w[i] = float32(x)
	}
	return w
}

// maxAbs is the largest |x| of v.
func maxAbs(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}
