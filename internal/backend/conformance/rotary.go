package conformance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// ---------------------------------------------------------------- rotary attention, gated activation

// ropeAngle is the angle of position i and pair c as RotaryAttention
// defines it (float32 inverse frequency, float32 product).
func ropeAngle(i, c, hd int, theta float32) float64 {
	inv := 1 / float32(math.Pow(float64(theta), float64(float32(2*c)/float32(hd))))
	return float64(float32(i) * inv)
}

// rope64 rotates the rows of x [batch·seq, heads·hd] in float64; inverse
// applies the transpose rotation (the gradient of rope's input).
func rope64(x []float64, batch, seq, heads, hd int, theta float32, inverse bool) []float64 {
	out := make([]float64, len(x))
	half := hd / 2
	for t := 0; t < batch*seq; t++ {
		i := t % seq
		for h := 0; h < heads; h++ {
			row := x[(t*heads+h)*hd:][:hd]
			o := out[(t*heads+h)*hd:][:hd]
			for c := 0; c < half; c++ {
				a := ropeAngle(i, c, hd, theta)
				cs, sn := math.Cos(a), math.Sin(a)
				if inverse {
					sn = -sn
				}
				o[c] = row[c]*cs - row[c+half]*sn
				o[c+half] = row[c+half]*cs + row[c]*sn
			}
		}
	}
	return out
}

// rotaryForward64 is RotaryAttention in float64 on rotated q and k: it
// returns the probabilities before dropout ([batch, heads, seq, seq], 0
// outside the window and on padding), ctx and lse.
func rotaryForward64(q, k, v []float64, mask []float32, d []float64, batch, seq, heads, hd, window int, scale float64) (probs, ctx, lse []float64) {
	hidden := heads * hd
	probs, ctx, lse = make([]float64, batch*heads*seq*seq), make([]float64, batch*seq*hidden), make([]float64, batch*heads*seq)
	for b := 0; b < batch; b++ {
		for h := 0; h < heads; h++ {
			for i := 0; i < seq; i++ {
				row := ((b*heads+h)*seq + i) * seq
				s := make([]float64, seq)
				mx := math.Inf(-1)
				for j := 0; j < seq; j++ {
					s[j] = math.Inf(-1)
					if mask[b*seq+j] == 0 || (window >= 0 && (j < i-window || j > i+window)) {
						continue
					}
					var dot float64
					for x := 0; x < hd; x++ {
						dot += q[(b*seq+i)*hidden+h*hd+x] * k[(b*seq+j)*hidden+h*hd+x]
					}
					s[j] = dot * scale
					mx = math.Max(mx, s[j])
				}
				if math.IsInf(mx, -1) {
					lse[(b*heads+h)*seq+i] = math.Inf(1)
					continue
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				lse[(b*heads+h)*seq+i] = mx + math.Log(sum)
				for j := range s {
					p := s[j] / sum
					probs[row+j] = p
					if d != nil {
						p *= d[row+j]
					}
					for x := 0; x < hd; x++ {
						ctx[(b*seq+i)*hidden+h*hd+x] += p * v[(b*seq+j)*hidden+h*hd+x]
					}
				}
			}
		}
	}
	return probs, ctx, lse
}

func testRotaryAttention(t *testing.T, be backend.Backend) {
	// The composed reference (rope, masked attention, inverse rope) against
	// finite differences on a tiny case with a window and padding.
	{
		rng := rand.New(rand.NewPCG(3, 0xe1))
		const batch, seq, heads, hd, window = 1, 5, 1, 4, 1
		const theta = 100
		n := batch * seq * heads * hd
		mask := []float32{1, 1, 1, 1, 0}
		q, k, v, dctx := f64(randn(rng, n, 1)), f64(randn(rng, n, 1)), f64(randn(rng, n, 1)), f64(randn(rng, n, 1))
		scale := 0.5
		loss := func() float64 {
			_, ctx, _ := rotaryForward64(rope64(q, batch, seq, heads, hd, theta, false), rope64(k, batch, seq, heads, hd, theta, false), v, mask, nil, batch, seq, heads, hd, window, scale)
			var l float64
			for i := range ctx {
				l += dctx[i] * ctx[i]
			}
			return l
		}
		qr, kr := rope64(q, batch, seq, heads, hd, theta, false), rope64(k, batch, seq, heads, hd, theta, false)
		probs, _, _ := rotaryForward64(qr, kr, v, mask, nil, batch, seq, heads, hd, window, scale)
		dqr, dkr, dv := attnBackward64(dctx, qr, kr, v, probs, nil, batch, seq, heads, hd, scale)
		dq, dk := rope64(dqr, batch, seq, heads, hd, theta, true), rope64(dkr, batch, seq, heads, hd, theta, true)
		const h = 1e-6
		checkFloat64s(t, "rotary finite differences dq", dq, numGrad(q, h, loss), 1e-7, 1e-6)
		checkFloat64s(t, "rotary finite differences dk", dk, numGrad(k, h, loss), 1e-7, 1e-6)
		checkFloat64s(t, "rotary finite differences dv", dv, numGrad(v, h, loss), 1e-7, 1e-6)
	}
	// Short sequences in every combination; one longer than the CPU's
	// query block (64), with a window and globally. (The GPU's host
	// emulation runs these too: keep them small.)
	type rcase struct {
		seq, hd, window int
		padded          bool
		p               float32
	}
	var cases []rcase
	for _, seq := range []int{1, 7, 19} {
		for _, hd := range []int{2, 8} {
			for _, window := range []int{-1, 0, 3, 40} {
				for _, padded := range []bool{false, true} {
					for _, p := range []float32{0, 0.3} {
						cases = append(cases, rcase{seq, hd, window, padded, p})
					}
				}
			}
		}
	}
	cases = append(cases, rcase{70, 4, 3, true, 0.3}, rcase{70, 4, -1, true, 0})
	rng := rand.New(rand.NewPCG(5, 0xe2))
	for _, rc := range cases {
		seq, hd, window, padded, p := rc.seq, rc.hd, rc.window, rc.padded, rc.p
		const batch, heads = 3, 2
		const theta = 10000
		hidden := heads * hd
		n := batch * seq * hidden
		q, k, v, dctx := randn(rng, n, 1), randn(rng, n, 1), randn(rng, n, 1), randn(rng, n, 1)
		mask := attnMask(batch, seq, padded)
		drop := randStream(rng, philox.DropoutID(rng.IntN(100)))
		scale := float32(1 / math.Sqrt(float64(hd)))
		d := dropMul(drop, batch*heads*seq*seq, p)
		qr := rope64(f64(q), batch, seq, heads, hd, theta, false)
		kr := rope64(f64(k), batch, seq, heads, hd, theta, false)
		wantP, wantC, wantL := rotaryForward64(qr, kr, f64(v), mask, d, batch, seq, heads, hd, window, float64(scale))
		dqr, dkr, dv := attnBackward64(f64(dctx), qr, kr, f64(v), wantP, d, batch, seq, heads, hd, float64(scale))
		dq := rope64(dqr, batch, seq, heads, hd, theta, true)
		dk := rope64(dkr, batch, seq, heads, hd, theta, true)

		tokens := batch * seq
		qkv := up(be, packQKV(q, k, v, tokens, hidden))
		ctx, lse := nanUp(be, n), nanUp(be, len(wantL))
		km := up(be, mask)
		be.RotaryAttention(ctx, lse, qkv, km, batch, seq, heads, hd, window, theta, scale, p, drop)
		what := fmt.Sprintf("seq %d headDim %d window %d padded %v p %g", seq, hd, window, padded, p)
		check(t, what+" ctx", down(be, ctx, n), wantC)
		gotL := down(be, lse, len(wantL))
		for i, w := range wantL {
			if math.IsInf(w, 1) != math.IsInf(float64(gotL[i]), 1) {
				t.Fatalf("%s lse: element %d = %g, want %g", what, i, gotL[i], w)
			}
			if math.IsInf(w, 1) {
				wantL[i], gotL[i] = 0, 0
			}
		}
		check(t, what+" lse", gotL, wantL)
		dqkv := nanUp(be, 3*n)
		be.RotaryAttentionBackward(dqkv, up(be, dctx), ctx, lse, qkv, km, batch, seq, heads, hd, window, theta, scale, p, drop)
		check(t, what+" dqkv", down(be, dqkv, 3*n), packQKV64(dq, dk, dv, tokens, hidden))
	}
}

func testGatedActivate(t *testing.T, be backend.Backend) {
	rng := rand.New(rand.NewPCG(7, 0xe3))
	for _, act := range []backend.Activation{backend.GeluErf, backend.GeluTanh, backend.ReLU} {
		for _, rows := range Sizes {
			for _, cols := range []int{1, 7, 33} {
				x, dy := randn(rng, 2*rows*cols, 2), randn(rng, rows*cols, 1)
				want, wantDx := make([]float64, rows*cols), make([]float64, 2*rows*cols)
				for r := 0; r < rows; r++ {
					for j := 0; j < cols; j++ {
						a, g := float64(x[2*r*cols+j]), float64(x[(2*r+1)*cols+j])
						want[r*cols+j] = actForward64(a, act) * g
						wantDx[2*r*cols+j] = float64(dy[r*cols+j]) * g * actGrad64(a, act)
						wantDx[(2*r+1)*cols+j] = float64(dy[r*cols+j]) * actForward64(a, act)
					}
				}
				xb := up(be, x)
				out, dx := nanUp(be, rows*cols), nanUp(be, 2*rows*cols)
				be.GatedActivate(out, xb, rows, cols, act)
				what := fmt.Sprintf("act %d rows %d cols %d", act, rows, cols)
				check(t, what+" out", down(be, out, rows*cols), want)
				be.GatedActivateBackward(dx, up(be, dy), xb, rows, cols, act)
				check(t, what+" dx", down(be, dx, 2*rows*cols), wantDx)
			}
		}
	}
}
