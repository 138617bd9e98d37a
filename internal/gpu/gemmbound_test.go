//go:build cuda || kernelhost

package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/cpu"
)

// unitRoundoff is float32's unit roundoff u = 2⁻²⁴.
const unitRoundoff = 1.0 / (1 << 24)

// inputRoundoff is the relative error of rounding a float32 GEMM input to
// prec's operand format: 0 in FP32; in TF32 (10 fraction bits) and bf16
// (7), the error of truncation, 2⁻¹⁰ and 2⁻⁷, which also covers a
// conversion that truncates instead of rounding to nearest (half that).
func inputRoundoff(p Precision) float64 {
	switch p {
	case TF32:
		return 1.0 / (1 << 10)
	case BF16:
		return 1.0 / (1 << 7)
	}
	return 0
}

// gemmErrorBound is the bound on |Ĉ − C| of one element of C = α·A·B + β·C₀
// computed by a GEMM that rounds its inputs to prec's format and
// accumulates the k products in float32, in any order (sequential FMAs,
// blocks, split-k; Higham, Accuracy and Stability of Numerical Algorithms,
// 2nd ed., §3.1: |ŝ − s| ≤ γₖ·Σ|xᵢyᵢ| with γₖ = k·u/(1 − k·u)):
//
//	rounding the inputs: ã·b̃ = a·b·(1+θ), |θ| ≤ 2uᵢ + uᵢ² (the products of
//	TF32/bf16 operands are exact in float32);
//	summing: γₖ·Σ|ã·b̃| ≤ γₖ·(1 + 2uᵢ + uᵢ²)·Σ|a·b|;
//	scaling by α and adding β·C₀: at most two more roundings of values
//	below |α|·(1+γₖ)·Σ|a·b| + |β·C₀|, so 3u of that (with margin).
//
// absProd is Σₚ|aᵢₚ|·|bₚⱼ|, c0 the element of C₀.
func gemmErrorBound(p Precision, k int, alpha, beta, absProd, c0 float64) float64 {
	u, ui := unitRoundoff, inputRoundoff(p)
	gk := float64(k) * u / (1 - float64(k)*u)
	theta := 2*ui + ui*ui
	sum := (theta + gk*(1+theta)) * absProd
	return math.Abs(alpha)*sum + 3*u*(math.Abs(alpha)*(1+gk)*absProd+math.Abs(beta*c0))
}

// TestGEMMErrorBound holds MatMul to the bound of a float32-accumulating
// GEMM, element by element, against a float64 product of the same inputs:
// the CPU backend (the parity reference, float32 micro-kernels) and this
// backend in FP32, TF32 and bf16. Long sums (k 4099) and inputs with heavy
// cancellation (large terms of both signs, small results) make the
// float32 drift real; the log gives the worst error as a share of its
// bound. A GEMM that dropped a term, indexed a transposed operand wrongly
// or rounded below its precision fails.
func TestGEMMErrorBound(t *testing.T) {
	type shape struct{ m, n, k int }
	shapes := []shape{{17, 33, 4099}, {64, 48, 256}, {5, 7, 1}, {96, 40, 1000}}
	backends := []struct {
		name string
		prec Precision
		new  func(t *testing.T) backend.Backend
	}{
		{"cpu", FP32, func(*testing.T) backend.Backend { return cpu.New(2) }},
		{"cpu-bf16", BF16, func(*testing.T) backend.Backend { be := cpu.New(2); be.SetPrecision(cpu.BF16); return be }},
		{"fp32", FP32, func(t *testing.T) backend.Backend { return newTestBackend(t, FP32) }},
		{"tf32", TF32, func(t *testing.T) backend.Backend { return newTestBackend(t, TF32) }},
		{"bf16", BF16, func(t *testing.T) backend.Backend { return newTestBackend(t, BF16) }},
	}
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			be := bk.new(t)
			rng := rand.New(rand.NewPCG(24, 1))
			worst := 0.0
			for _, s := range shapes {
				for _, cancel := range []bool{false, true} {
					for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
						alpha, beta := 1.0, 0.0
						if tr[0] && tr[1] {
							alpha, beta = 0.75, -1.5
						}
						r := checkGEMMBound(t, be, bk.prec, rng, s.m, s.n, s.k, tr[0], tr[1], cancel, float32(alpha), float32(beta))
						worst = max(worst, r)
					}
				}
			}
			t.Logf("%s: worst error %.3g of its bound", bk.name, worst)
		})
	}
}

// checkGEMMBound runs one MatMul on random inputs (with cancel, terms of
// magnitude up to 2¹² whose sums nearly cancel) and fails where an element
// leaves its bound; it returns the worst error/bound.
func checkGEMMBound(t *testing.T, be backend.Backend, prec Precision, rng *rand.Rand, m, n, k int, transA, transB, cancel bool,
	alpha, beta float32) float64 {
	t.Helper()
	// Logical A (m×k) and B (k×n), row-major, as float32.
	a, b, c0 := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	draw := func(v []float32) {
		for i := range v {
			x := rng.NormFloat64()
			if cancel {
				// Big terms of both signs plus small ones: the sum is
				// much smaller than Σ|a·b|.
				x *= math.Exp2(float64(rng.IntN(13)))
			}
			v[i] = float32(x)
		}
	}
	draw(a)
	draw(b)
	draw(c0)
	if cancel {
		// Make row pairs of A opposite but for a few terms, so C's rows
		// cancel to a small fraction of their Σ|a·b|.
		for i := 1; i < m; i += 2 {
			for p := range k {
				if rng.IntN(16) != 0 {
					a[i*k+p] = -a[(i-1)*k+p]
				}
			}
		}
	}
	// Stored operands: transposed where asked.
	sa, sb := a, b
	if transA {
		sa = make([]float32, m*k)
		for i := range m {
			for p := range k {
				sa[p*m+i] = a[i*k+p]
			}
		}
	}
	if transB {
		sb = make([]float32, k*n)
		for p := range k {
			for j := range n {
				sb[j*k+p] = b[p*n+j]
			}
		}
	}
	ga, gb, gc := be.Alloc(m*k), be.Alloc(k*n), be.Alloc(m*n)
	defer func() { be.Free(ga); be.Free(gb); be.Free(gc) }()
	be.Upload(ga, sa)
	be.Upload(gb, sb)
	be.Upload(gc, c0)
	be.MatMul(gc, ga, gb, m, n, k, transA, transB, alpha, beta)
	got := make([]float32, m*n)
	be.Download(got, gc)
	worst := 0.0
	for i := range m {
		for j := range n {
			var s, abs float64
			for p := range k {
				x := float64(a[i*k+p]) * float64(b[p*n+j])
				s += x
				abs += math.Abs(x)
			}
			want := float64(alpha)*s + float64(beta)*float64(c0[i*n+j])
			bound := gemmErrorBound(prec, k, float64(alpha), float64(beta), abs, float64(c0[i*n+j]))
			e := math.Abs(float64(got[i*n+j]) - want)
			if !(e <= bound) {
				t.Fatalf("%s %dx%dx%d transA %v transB %v cancel %v alpha %g beta %g: C[%d,%d] = %.9g, float64 %.9g: error %.3g > bound %.3g (Σ|a·b| %.3g)",
					be.Name(), m, n, k, transA, transB, cancel, alpha, beta, i, j, got[i*n+j], want, e, bound, abs)
			}
			if bound > 0 {
				worst = max(worst, e/bound)
			}
		}
	}
	return worst
}

// TestGEMMErrorBoundIsTight: the bound is no blanket. For an FP32 sum
// that float32 accumulation must round (2²⁴ + 1 + 1 + ...), a sequential
// float32 sum loses the small terms; the error it makes is within the
// bound, and is more than a tenth of it, so a bound loose enough to pass a
// much worse GEMM would fail here.
func TestGEMMErrorBoundIsTight(t *testing.T) {
	const k = 4096
	var s32 float32 = 1 << 24
	s64 := float64(1 << 24)
	abs := s64
	for range k - 1 {
		s32 += 1
		s64++
		abs++
	}
	e := math.Abs(float64(s32) - s64)
	bound := gemmErrorBound(FP32, k, 1, 0, abs, 0)
	if !(e <= bound) || !(e > bound/10) {
		t.Fatalf("sequential float32 sum: error %g, bound %g", e, bound)
	}
	t.Logf("sequential float32 sum of 2^24 and %d ones: error %g, bound %g", k-1, e, bound)
}
