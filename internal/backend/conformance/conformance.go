// Package conformance is the test suite every backend must pass: each op on
// fresh random inputs against a plain float64 reference written here, with a
// stated tolerance. Backends call Run from their own tests.
package conformance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// Tolerance for every op: |got - want| <= Abs + Rel*|want|. Float32 results
// against a float64 reference; sums of up to a few thousand terms.
const (
	Abs = 1e-5
	Rel = 1e-4
)

// Sizes exercises tails and odd shapes: 1, 7, 33, 257 as the issue asks.
var Sizes = []int{1, 7, 33, 257}

// Run runs every op test against be (DeBERTa's disentangled attention
// when be implements backend.Disentangled).
func Run(t *testing.T, be backend.Backend) {
	t.Run("MatMul", func(t *testing.T) { testMatMul(t, be) })
	t.Run("AddBias", func(t *testing.T) { testAddBias(t, be) })
	t.Run("Add", func(t *testing.T) { testAdd(t, be) })
	t.Run("Activate", func(t *testing.T) { testActivate(t, be) })
	t.Run("Tanh", func(t *testing.T) { testTanh(t, be) })
	t.Run("LayerNorm", func(t *testing.T) { testLayerNorm(t, be) })
	t.Run("Embed", func(t *testing.T) { testEmbed(t, be) })
	t.Run("AttentionQKV", func(t *testing.T) { testAttention(t, be) })
	t.Run("FirstToken", func(t *testing.T) { testFirstToken(t, be) })
	t.Run("Dropout", func(t *testing.T) { testDropout(t, be) })
	t.Run("KeepMask", func(t *testing.T) { testKeepMask(t, be) })
	t.Run("Mixout", func(t *testing.T) { testMixout(t, be) })
	t.Run("MixoutBackward", func(t *testing.T) { testMixoutBackward(t, be) })
	t.Run("LayerNormBackward", func(t *testing.T) { testLayerNormBackward(t, be) })
	t.Run("ActivateBackward", func(t *testing.T) { testActivateBackward(t, be) })
	t.Run("TanhBackward", func(t *testing.T) { testTanhBackward(t, be) })
	t.Run("BiasGrad", func(t *testing.T) { testBiasGrad(t, be) })
	t.Run("AttentionQKVBackward", func(t *testing.T) { testAttentionBackward(t, be) })
	t.Run("EmbedBackward", func(t *testing.T) { testEmbedBackward(t, be) })
	t.Run("FirstTokenBackward", func(t *testing.T) { testFirstTokenBackward(t, be) })
	t.Run("CrossEntropy", func(t *testing.T) { testCrossEntropy(t, be) })
	t.Run("MSE", func(t *testing.T) { testMSE(t, be) })
	t.Run("Zero", func(t *testing.T) { testZero(t, be) })
	t.Run("Scale", func(t *testing.T) { testScale(t, be) })
	t.Run("SumSquares", func(t *testing.T) { testSumSquares(t, be) })
	t.Run("AdamW", func(t *testing.T) { testAdamW(t, be) })
	t.Run("View", func(t *testing.T) { testView(t, be) })
	t.Run("FusedQKVMixout", func(t *testing.T) { testFusedQKVMixout(t, be) })
	t.Run("BiasActivate", func(t *testing.T) { testBiasActivate(t, be) })
	t.Run("BiasDropoutAddLayerNorm", func(t *testing.T) { testBiasDropoutAddLayerNorm(t, be) })
	if _, ok := be.(backend.Disentangled); ok {
		t.Run("Disentangled", func(t *testing.T) { testDisentangled(t, be) })
	}
	t.Run("RotaryAttention", func(t *testing.T) { testRotaryAttention(t, be) })
	t.Run("GatedActivate", func(t *testing.T) { testGatedActivate(t, be) })
}

func randn(rng *rand.Rand, n int, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * std)
	}
	return v
}

func up(be backend.Backend, v []float32) backend.Buffer {
	b := be.Alloc(len(v))
	be.Upload(b, v)
	return b
}

func down(be backend.Backend, b backend.Buffer, n int) []float32 {
	v := make([]float32, n)
	be.Download(v, b)
	return v
}

// check compares got with the float64 reference want.
func check(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i := range got {
		d := math.Abs(float64(got[i]) - want[i])
		if !(d <= Abs+Rel*math.Abs(want[i])) {
			t.Fatalf("%s: element %d = %g, want %g (diff %.3g)", what, i, got[i], want[i], d)
		}
	}
}

func testMatMul(t *testing.T, be backend.Backend) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {7, 33, 257}, {257, 7, 33}, {33, 257, 7}, {64, 96, 80}, {5, 130, 600}}
	for _, s := range Sizes {
		shapes = append(shapes, [3]int{s, s, s})
	}
	for _, sh := range shapes {
		m, n, k := sh[0], sh[1], sh[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
					alpha, beta := ab[0], ab[1]
					a, b, c := randn(rng, m*k, 1), randn(rng, k*n, 1), randn(rng, m*n, 1)
					if beta == 0 {
						for i := range c {
							c[i] = float32(math.NaN()) // beta 0 must ignore C
						}
					}
					want := make([]float64, m*n)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							var s float64
							for p := 0; p < k; p++ {
								av := a[i*k+p]
								if ta {
									av = a[p*m+i]
								}
								bv := b[p*n+j]
								if tb {
									bv = b[j*k+p]
								}
								s += float64(av) * float64(bv)
							}
							want[i*n+j] = float64(alpha) * s
							if beta != 0 {
								want[i*n+j] += float64(beta) * float64(c[i*n+j])
							}
						}
					}
					cb := up(be, c)
					be.MatMul(cb, up(be, a), up(be, b), m, n, k, ta, tb, alpha, beta)
					// Tolerance scales with sqrt(k) for sums of k unit-variance terms.
					got := down(be, cb, m*n)
					tol := Abs * math.Sqrt(float64(k)) * 4
					for i := range got {
						if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol+Rel*math.Abs(want[i])) {
							t.Fatalf("%dx%dx%d transA=%v transB=%v alpha=%g beta=%g: element %d = %g, want %g",
								m, n, k, ta, tb, alpha, beta, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

func testAddBias(t *testing.T, be backend.Backend) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, rows := range Sizes {
		for _, cols := range Sizes {
			x, bias := randn(rng, rows*cols, 1), randn(rng, cols, 1)
			want := make([]float64, len(x))
			for i := range x {
				want[i] = float64(x[i]) + float64(bias[i%cols])
			}
			xb := up(be, x)
			be.AddBias(xb, up(be, bias), rows, cols)
			check(t, fmt.Sprintf("%dx%d", rows, cols), down(be, xb, len(x)), want)
		}
	}
}

func testAdd(t *testing.T, be backend.Backend) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range Sizes {
		a, b := randn(rng, n, 1), randn(rng, n, 1)
		want := make([]float64, n)
		for i := range a {
			want[i] = float64(a[i]) + float64(b[i])
		}
		ab := up(be, a)
		be.Add(ab, ab, up(be, b), n) // in place, as the model uses it
		check(t, fmt.Sprint(n), down(be, ab, n), want)
	}
}

func testActivate(t *testing.T, be backend.Backend) {
	rng := rand.New(rand.NewPCG(7, 8))
	refs := map[backend.Activation]func(float64) float64{
		backend.GeluErf: func(x float64) float64 { return x * 0.5 * (1 + math.Erf(x/math.Sqrt2)) },
		backend.GeluTanh: func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		},
		backend.ReLU: func(x float64) float64 { return math.Max(x, 0) },
	}
	for act, f := range refs {
		for _, n := range Sizes {
			x := randn(rng, n, 3)
			want := make([]float64, n)
			for i, v := range x {
				want[i] = f(float64(v))
			}
			out := be.Alloc(n)
			be.Activate(out, up(be, x), n, act)
			check(t, fmt.Sprintf("act %d n %d", act, n), down(be, out, n), want)
		}
	}
}

func testTanh(t *testing.T, be backend.Backend) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range Sizes {
		x := randn(rng, n, 2)
		want := make([]float64, n)
		for i, v := range x {
			want[i] = math.Tanh(float64(v))
		}
		out := be.Alloc(n)
		be.Tanh(out, up(be, x), n)
		check(t, fmt.Sprint(n), down(be, out, n), want)
	}
}

func testLayerNorm(t *testing.T, be backend.Backend) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, rows := range Sizes {
		for _, cols := range Sizes {
			x := randn(rng, rows*cols, 2)
			for i := range x {
				x[i] += 3 // a mean far from 0 tests the two-pass variance
			}
			g, b := randn(rng, cols, 1), randn(rng, cols, 1)
			const eps = 1e-12
			want := make([]float64, len(x))
			wantMean, wantRstd := make([]float64, rows), make([]float64, rows)
			for i := 0; i < rows; i++ {
				var s, ss float64
				for j := 0; j < cols; j++ {
					s += float64(x[i*cols+j])
				}
				mu := s / float64(cols)
				for j := 0; j < cols; j++ {
					d := float64(x[i*cols+j]) - mu
					ss += d * d
				}
				r := 1 / math.Sqrt(ss/float64(cols)+eps)
				wantMean[i], wantRstd[i] = mu, r
				for j := 0; j < cols; j++ {
					want[i*cols+j] = (float64(x[i*cols+j])-mu)*r*float64(g[j]) + float64(b[j])
				}
			}
			out, mean, rstd := be.Alloc(len(x)), be.Alloc(rows), be.Alloc(rows)
			be.LayerNorm(out, mean, rstd, up(be, x), up(be, g), up(be, b), rows, cols, eps)
			what := fmt.Sprintf("%dx%d", rows, cols)
			if cols == 1 {
				// Zero variance: 1/sqrt(eps) is 1e6, so compare relative only.
				continue
			}
			check(t, what+" out", down(be, out, len(x)), want)
			check(t, what+" mean", down(be, mean, rows), wantMean)
			check(t, what+" rstd", down(be, rstd, rows), wantRstd)
		}
	}
}

func testEmbed(t *testing.T, be backend.Backend) {
	rng := rand.New(rand.NewPCG(13, 14))
	const vocab, types, maxPos = 50, 2, 40
	for _, seq := range []int{1, 7, 33} {
		for _, hidden := range []int{1, 7, 33} {
			for _, withTypes := range []bool{true, false} {
				batch := 3
				word, pos, typ := randn(rng, vocab*hidden, 1), randn(rng, maxPos*hidden, 1), randn(rng, types*hidden, 1)
				ids, poss, tys := make([]int32, batch*seq), make([]int32, batch*seq), make([]int32, batch*seq)
				for i := range ids {
					// Positions in any order (RoBERTa's count non-padding tokens).
					ids[i], poss[i], tys[i] = int32(rng.IntN(vocab)), int32(rng.IntN(maxPos)), int32(rng.IntN(types))
				}
				want := make([]float64, batch*seq*hidden)
				for tk := 0; tk < batch*seq; tk++ {
					for j := 0; j < hidden; j++ {
						v := float64(word[int(ids[tk])*hidden+j]) + float64(pos[int(poss[tk])*hidden+j])
						if withTypes {
							v += float64(typ[int(tys[tk])*hidden+j])
						}
						want[tk*hidden+j] = v
					}
				}
				out := be.Alloc(len(want))
				var typBuf backend.Buffer
				if withTypes {
					typBuf = up(be, typ)
				}
				be.Embed(out, up(be, word), up(be, pos), typBuf, ids, poss, tys, batch, seq, hidden)
				check(t, fmt.Sprintf("seq %d hidden %d types %v", seq, hidden, withTypes), down(be, out, len(want)), want)
			}
		}
	}
}

func testAttention(t *testing.T, be backend.Backend) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, seq := range []int{1, 7, 33} {
		for _, hd := range []int{1, 8, 33} {
			batch, heads := 3, 2
			h := heads * hd
			q, k, v := randn(rng, batch*seq*h, 1), randn(rng, batch*seq*h, 1), randn(rng, batch*seq*h, 1)
			mask := make([]float32, batch*seq)
			for b := 0; b < batch; b++ {
				real := seq - b*seq/4 // row 0 unpadded, later rows padded
				if b == 2 && seq > 1 {
					real = 0 // no real key at all: uniform over every key
				}
				for j := 0; j < real; j++ {
					mask[b*seq+j] = 1
				}
			}
			scale := float32(1 / math.Sqrt(float64(hd)))
			wantP := make([]float64, batch*heads*seq*seq)
			wantC := make([]float64, batch*seq*h)
			for b := 0; b < batch; b++ {
				real := 0
				for j := 0; j < seq; j++ {
					if mask[b*seq+j] != 0 {
						real++
					}
				}
				for hh := 0; hh < heads; hh++ {
					for i := 0; i < seq; i++ {
						s := make([]float64, seq)
						mx := math.Inf(-1)
						for j := 0; j < seq; j++ {
							if real > 0 && mask[b*seq+j] == 0 {
								s[j] = math.Inf(-1)
								continue
							}
							var d float64
							for x := 0; x < hd; x++ {
								d += float64(q[(b*seq+i)*h+hh*hd+x]) * float64(k[(b*seq+j)*h+hh*hd+x])
							}
							s[j] = d * float64(scale)
							mx = math.Max(mx, s[j])
						}
						var sum float64
						for j := range s {
							s[j] = math.Exp(s[j] - mx)
							sum += s[j]
						}
						for j := range s {
							p := s[j] / sum
							wantP[((b*heads+hh)*seq+i)*seq+j] = p
							for x := 0; x < hd; x++ {
								wantC[(b*seq+i)*h+hh*hd+x] += p * float64(v[(b*seq+j)*h+hh*hd+x])
							}
						}
					}
				}
			}
			ctx, probs := nanUp(be, len(wantC)), nanUp(be, len(wantP))
			be.AttentionQKV(ctx, probs, up(be, packQKV(q, k, v, batch*seq, h)), up(be, mask), batch, seq, heads, hd, scale, 0, philox.Stream{})
			what := fmt.Sprintf("seq %d headDim %d", seq, hd)
			gotP := down(be, probs, len(wantP))
			check(t, what+" probs", gotP, wantP)
			for i, want := range wantP {
				if want == 0 && gotP[i] != 0 {
					t.Fatalf("%s: padding key got probability %g, want exactly 0", what, gotP[i])
				}
			}
			check(t, what+" ctx", down(be, ctx, len(wantC)), wantC)
		}
	}
}

func testFirstToken(t *testing.T, be backend.Backend) {
	rng := rand.New(rand.NewPCG(17, 18))
	batch, seq, hidden := 3, 7, 33
	x := randn(rng, batch*seq*hidden, 1)
	want := make([]float64, batch*hidden)
	for b := 0; b < batch; b++ {
		for j := 0; j < hidden; j++ {
			want[b*hidden+j] = float64(x[b*seq*hidden+j])
		}
	}
	out := be.Alloc(batch * hidden)
	be.FirstToken(out, up(be, x), batch, seq, hidden)
	check(t, "first token", down(be, out, batch*hidden), want)
}
