//go:build cuda || kernelhost

package gpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGEMMPrecision measures ‖C − C64‖/‖C64‖ of MatMul in each precision
// against a float64 product: FP32 far under 1e-5, TF32 near 3e-4, bf16 a
// few 1e-3 (the tolerances here leave a factor of 3 or more).
func TestGEMMPrecision(t *testing.T) {
	bounds := map[Precision]float64{FP32: 1e-5, TF32: 2e-3, BF16: 1.5e-2}
	const m, n, k = 96, 160, 512
	rng := rand.New(rand.NewPCG(3, 33))
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	for _, prec := range []Precision{FP32, TF32, BF16} {
		be := newTestBackend(t, prec)
		for _, tb := range []bool{false, true} {
			bb := b
			if tb { // the same product with B stored transposed
				bb = make([]float32, k*n)
				for p := 0; p < k; p++ {
					for j := 0; j < n; j++ {
						bb[j*k+p] = b[p*n+j]
					}
				}
			}
			ga, gb, gc := be.Alloc(m*k), be.Alloc(k*n), be.Alloc(m*n)
			be.Upload(ga, a)
			be.Upload(gb, bb)
			be.MatMul(gc, ga, gb, m, n, k, false, tb, 1, 0)
			got := make([]float32, m*n)
			be.Download(got, gc)
			var num, den float64
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var s float64
					for p := 0; p < k; p++ {
						s += float64(a[i*k+p]) * float64(b[p*n+j])
					}
					d := float64(got[i*n+j]) - s
					num += d * d
					den += s * s
				}
			}
			rel := math.Sqrt(num / den)
			t.Logf("%v transB %v: relative error %.2e", prec, tb, rel)
			if !(rel <= bounds[prec]) {
				t.Fatalf("%v transB %v: relative error %.2e > %.0e", prec, tb, rel, bounds[prec])
			}
		}
	}
}

// TestPeakTFLOPS: the datasheet rate follows the card and the precision,
// and an H100 PCIe is not taken for an H100 SXM.
func TestPeakTFLOPS(t *testing.T) {
	for _, c := range []struct {
		device string
		p      Precision
		want   float64
	}{
		{"NVIDIA H100 PCIe", BF16, 756},
		{"NVIDIA H100 80GB HBM3", BF16, 989.4},
		{"NVIDIA H200", TF32, 494.7},
		{"NVIDIA A100-SXM4-80GB", FP32, 19.5},
		{"NVIDIA GeForce RTX 4090", BF16, 0},
	} {
		if got := peakTFLOPS(c.device, c.p); got != c.want {
			t.Errorf("peakTFLOPS(%q, %v) = %g, want %g", c.device, c.p, got, c.want)
		}
	}
}
