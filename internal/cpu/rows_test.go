package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// ulps is the distance of two float32 values in units in the last place
// (0 for equal values and for two NaNs).
func ulps(a, b float32) int64 {
	if a != a && b != b {
		return 0
	}
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if ia>>31 != 0 {
		ia = -(ia & 0x7fffffff)
	}
	if ib>>31 != 0 {
		ib = -(ib & 0x7fffffff)
	}
	if ia > ib {
		return ia - ib
	}
	return ib - ia
}

// TestSoftmaxRowsVectorized: the vectorized softmax and dS rows (where the
// CPU has AVX-512) run the Go loops' float32 operations unfused in the same
// order, so each element matches the Go reference to within 1 ulp (the
// float64 sums are added in another order, which may move the float32 of
// the sum by one rounding), on scores of every scale, with large negative
// gaps (the -87 clamp), ties, ±0, infinities and NaNs.
func TestSoftmaxRowsVectorized(t *testing.T) {
	if !softmaxRowFast(make([]float32, 16)) {
		t.Skip("SKIP: no AVX-512 here (softmaxRow and the dS loop run in Go only)")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 400; trial++ {
		n := 16 * (1 + rng.IntN(12))
		scale := math.Exp(rng.NormFloat64() * 3)
		row := make([]float32, n)
		for j := range row {
			row[j] = float32(rng.NormFloat64() * scale)
		}
		switch trial % 5 {
		case 1:
			row[rng.IntN(n)] = 200 // every other key below the -87 clamp
		case 2:
			row[rng.IntN(n)], row[rng.IntN(n)] = float32(math.Copysign(0, -1)), 0
		case 3:
			row[rng.IntN(n)] = float32(math.NaN())
		case 4:
			row[rng.IntN(n)] = float32(math.Inf(-1))
		}
		want := append([]float32(nil), row...)
		ones := make([]float32, n)
		for j := range ones {
			ones[j] = 1
		}
		softmaxRowGo(want, ones, n)
		got := append([]float32(nil), row...)
		softmaxRowFast(got)
		for j := range got {
			if d := ulps(got[j], want[j]); d > 1 {
				t.Fatalf("trial %d n %d: softmax[%d] = %g, the Go loop %g (%d ulps; score %g)", trial, n, j, got[j], want[j], d, row[j])
			}
		}

		p := want
		pv, g := make([]float32, n), make([]float32, n)
		for j := range g {
			pv[j] = p[j] * float32(rng.IntN(2)) * 1.25
			g[j] = float32(rng.NormFloat64() * scale)
		}
		gw, gg := append([]float32(nil), g...), append([]float32(nil), g...)
		softmaxGradRowGo(gw, pv, p, 0.125)
		if !softmaxGradRowFast(gg, pv, p, 0.125) {
			t.Fatal("softmaxGradRowFast refused a row of 16·k")
		}
		for j := range gg {
			if d := ulps(gg[j], gw[j]); d > 1 {
				t.Fatalf("trial %d n %d: dS[%d] = %g, the Go loop %g (%d ulps)", trial, n, j, gg[j], gw[j], d)
			}
		}
	}
	if softmaxRowFast(make([]float32, 24)) {
		t.Fatal("softmaxRowFast took a row that is not a multiple of 16")
	}
}

// TestGeluVectorized: the vectorized GELU and its derivative (where the CPU
// has AVX-512) give the scalar tabulated loop's values bit for bit, across
// the table's range, at its ends (±8 and their neighbours), beyond it, on
// ±0, infinities and NaNs.
func TestGeluVectorized(t *testing.T) {
	if geluBulk(make([]float32, 16), make([]float32, 16), cdfLin) == 0 {
		t.Skip("SKIP: no AVX-512 here (GELU runs in Go only)")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	x := []float32{-8, 8, math.Nextafter32(-8, 0), math.Nextafter32(8, 0), math.Nextafter32(-8, -9), math.Nextafter32(8, 9),
		0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e30, -1e30, 1.0 / 512, -1.0 / 1024}
	for len(x) < 4096 {
		x = append(x, float32(rng.NormFloat64()*math.Exp(rng.NormFloat64())))
	}
	dy := make([]float32, len(x))
	for i := range dy {
		dy[i] = float32(rng.NormFloat64())
	}
	same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b) }
	got, want := make([]float32, len(x)), make([]float32, len(x))
	if n := geluBulk(got, x, cdfLin); n != len(x) {
		t.Fatalf("geluBulk did %d of %d", n, len(x))
	}
	geluGradBulk(want, dy, x, gradLin)
	for i, v := range x {
		if w := v * tabulated(cdfLin, v); !same(got[i], w) {
			t.Fatalf("gelu(%g) = %g vectorized, %g in Go", v, got[i], w)
		}
		if w := dy[i] * tabulated(gradLin, v); !same(want[i], w) {
			t.Fatalf("gelu'(%g)·%g = %g vectorized, %g in Go", v, dy[i], want[i], w)
		}
	}
}

// TestDropScale: dropout's keep-and-scale (vectorized where the CPU has
// AVX-512) keeps exactly the elements philox.Keep keeps, scaled by the same
// product, and writes +0 elsewhere (NaNs and infinities included), at every
// length and probability, in place too.
func TestDropScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for trial := 0; trial < 300; trial++ {
		n := rng.IntN(200)
		p := []float32{0, 0.1, 0.5, 0.9, 1, float32(math.NaN()), rng.Float32()}[trial%7]
		thr, scale := keepThreshold(p), float32(1.25)
		src, words := make([]float32, n), make([]uint32, n)
		for j := range src {
			src[j] = float32(rng.NormFloat64() * 100)
			if rng.IntN(20) == 0 {
				src[j] = []float32{float32(math.NaN()), float32(math.Inf(-1)), 0}[rng.IntN(3)]
			}
			words[j] = rng.Uint32()
			// Words at the threshold and just below it.
			if thr > 0 && thr < 1<<24 && rng.IntN(4) == 0 {
				words[j] = thr<<8 | uint32(rng.IntN(256))
				if rng.IntN(2) == 0 {
					words[j] = (thr-1)<<8 | 0xff
				}
			}
		}
		dst := make([]float32, n)
		dropScale(dst, src, words, thr, scale)
		inPlace := append([]float32(nil), src...)
		dropScale(inPlace, inPlace, words, thr, scale)
		for j := range dst {
			want := float32(0)
			if philox.Keep(words[j], p) {
				want = src[j] * scale
			}
			if math.Float32bits(dst[j]) != math.Float32bits(want) && !(dst[j] != dst[j] && want != want) {
				t.Fatalf("p %g n %d: element %d = %g, want %g (word %#x)", p, n, j, dst[j], want, words[j])
			}
			if math.Float32bits(inPlace[j]) != math.Float32bits(dst[j]) && !(dst[j] != dst[j]) {
				t.Fatalf("p %g n %d: in place, element %d = %g, want %g", p, n, j, inPlace[j], dst[j])
			}
		}
	}
}

// TestAdamWVectorized: AdamW's update (vectorized where the CPU has
// AVX-512) gives the scalar float32 formula's parameters and moments bit
// for bit, without weight decay, with decay toward zero and toward
// mixout's target, at every length (the Go loop does the tail), on
// gradients and moments of every scale, zeros (eps alone in the
// denominator), infinities and NaNs.
func TestAdamWVectorized(t *testing.T) {
	if adamwBulk(make([]float32, 16), make([]float32, 16), make([]float32, 16), make([]float32, 16), nil, &backend.AdamWScalars{}) == 0 {
		t.Log("SKIP vectorized AdamW: no AVX-512 here (the Go loop runs alone)")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 4099
	gen := func(scale float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * scale * math.Exp(rng.NormFloat64()*3))
		}
		return x
	}
	p0, g0, m0, t0 := gen(0.05), gen(1e-3), gen(1e-4), gen(0.05)
	v0 := gen(1e-6)
	for i := range v0 {
		v0[i] *= v0[i] // a second moment is never negative
	}
	g0[3], g0[20], g0[40], v0[5], m0[5], g0[5] = float32(math.Inf(1)), float32(math.NaN()), 0, 0, 0, 0
	same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b) }
	for _, h := range []backend.AdamWParams{
		{LR: 2e-5, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0, Step: 1, BiasCorrection: true, GradScale: 1},
		{LR: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01, Step: 7, BiasCorrection: true, GradScale: 0.25},
		{LR: 3e-4, Beta1: 0.8, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1, Step: 100, BiasCorrection: false, GradScale: 1},
	} {
		sc := h.Scalars()
		for _, target := range []bool{false, true} {
			for _, length := range []int{1, 15, 16, 17, 31, 33, 100, n} {
				p, m, v := append([]float32(nil), p0[:length]...), append([]float32(nil), m0[:length]...), append([]float32(nil), v0[:length]...)
				var tg []float32
				if target {
					tg = t0[:length]
				}
				adamwRange(p, g0[:length], m, v, tg, &sc)
				for i := range length {
					wp, wm, wv := p0[i], m0[i], v0[i]
					gi := g0[i] * sc.GradScale
					if sc.HasDecay {
						if target {
							wp -= sc.LRWD * (wp - t0[i])
						} else {
							wp *= sc.Decay
						}
					}
					wm = wm*sc.B1 + gi*sc.C1
					wv = wv*sc.B2 + sc.C2*gi*gi
					wp -= sc.StepSize * (wm / (float32(math.Sqrt(float64(wv)))/sc.BC2Sqrt + sc.Eps))
					if !same(p[i], wp) || !same(m[i], wm) || !same(v[i], wv) {
						t.Fatalf("%+v target %v length %d element %d: p %g m %g v %g, want %g %g %g", h, target, length, i, p[i], m[i], v[i], wp, wm, wv)
					}
				}
			}
		}
	}
}

// TestElementwiseVectorized: addF32, accF64, mixRow and mixGradRow
// (vectorized where the CPU has AVX-512) give Go's operations per element
// bit for bit at every length, in place too, and write nothing past it.
func TestElementwiseVectorized(t *testing.T) {
	if addF32Bulk(make([]float32, 16), make([]float32, 16), make([]float32, 16)) == 0 {
		t.Log("SKIP vectorized loops: no AVX-512 here (the Go loops run alone)")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	gen := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * math.Exp(rng.NormFloat64()*8))
		}
		return x
	}
	for n := 0; n <= 70; n++ {
		a, b := gen(n+1), gen(n+1)
		a[n], b[n] = 7, 7 // past the length: must stay
		got := append([]float32(nil), a...)
		addF32(got[:n], got[:n], b[:n])
		for j := range n {
			if w := a[j] + b[j]; math.Float32bits(got[j]) != math.Float32bits(w) {
				t.Fatalf("addF32 n %d [%d] = %g, want %g", n, j, got[j], w)
			}
		}
		acc := make([]float64, n+1)
		for j := range acc {
			acc[j] = rng.NormFloat64()
		}
		want := append([]float64(nil), acc...)
		accF64(acc, a[:n])
		for j := range n {
			want[j] += float64(a[j])
		}
		for j := range acc {
			if math.Float64bits(acc[j]) != math.Float64bits(want[j]) {
				t.Fatalf("accF64 n %d [%d] = %g, want %g", n, j, acc[j], want[j])
			}
		}
		if got[n] != 7 {
			t.Fatalf("addF32 n %d wrote past the end", n)
		}
		// mixout's mixed weight and its backward, with a 0/1 mask as
		// mixout draws it and with arbitrary values.
		w, u, m := gen(n+1), gen(n+1), gen(n+1)
		for j := range m[:n/2] {
			m[j] = float32(rng.IntN(2))
		}
		const inv = float32(1 / 0.3)
		mix := make([]float32, n+1)
		mix[n] = 7
		mixRow(mix[:n], w[:n], u[:n], m[:n], inv)
		gw := append([]float32(nil), a...)
		mixGradRow(gw[:n], b[:n], m[:n], inv)
		for j := range n {
			if want := u[j] + m[j]*(w[j]-u[j])*inv; math.Float32bits(mix[j]) != math.Float32bits(want) {
				t.Fatalf("mixRow n %d [%d] = %g, want %g", n, j, mix[j], want)
			}
			if want := a[j] + b[j]*m[j]*inv; math.Float32bits(gw[j]) != math.Float32bits(want) {
				t.Fatalf("mixGradRow n %d [%d] = %g, want %g", n, j, gw[j], want)
			}
		}
		if mix[n] != 7 || gw[n] != 7 {
			t.Fatalf("mixRow or mixGradRow n %d wrote past the end", n)
		}
	}
}

// TestLayerNormBackwardVectorized: LayerNorm's backward row (vectorized
// where the CPU has AVX-512) against the float64 formula summed in order:
// the column sums pg and pb exactly (the same operations per element), dx
// within one float32 rounding (the row sums are added in another order,
// which moves them by a few float64 ulps), at every length.
func TestLayerNormBackwardVectorized(t *testing.T) {
	if n, _, _ := layerNormSumsBulk(make([]float32, 16), make([]float32, 16), make([]float32, 16), make([]float64, 16), make([]float64, 16), 0, 1); n == 0 {
		t.Log("SKIP vectorized LayerNorm backward: no AVX-512 here (the Go loops run alone)")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{1, 7, 8, 15, 16, 17, 31, 33, 64, 100, 768, 1027} {
		x, dy, g := make([]float32, n), make([]float32, n), make([]float32, n)
		var mean float64
		for j := range x {
			x[j] = float32(rng.NormFloat64()*2 + 0.5)
			dy[j] = float32(rng.NormFloat64() * 1e-3)
			g[j] = float32(1 + rng.NormFloat64()*0.1)
			mean += float64(x[j])
		}
		mu, rstd := float32(mean/float64(n)), float32(0.7)
		pg0, pb0 := make([]float64, n), make([]float64, n)
		for j := range pg0 {
			pg0[j], pb0[j] = rng.NormFloat64(), rng.NormFloat64()
		}
		pg, pb := append([]float64(nil), pg0...), append([]float64(nil), pb0...)
		dx := make([]float32, n)
		layerNormBackwardRow(dx, dy, x, g, mu, rstd, pg, pb)

		m, r, nf := float64(mu), float64(rstd), float64(n)
		var sumG, sumGX float64
		for j := range x {
			xh := (float64(x[j]) - m) * r
			gj := float64(dy[j]) * float64(g[j])
			sumG += gj
			sumGX += gj * xh
			if w := pg0[j] + float64(dy[j])*xh; pg[j] != w {
				t.Fatalf("n %d: pg[%d] = %g, want %g", n, j, pg[j], w)
			}
			if w := pb0[j] + float64(dy[j]); pb[j] != w {
				t.Fatalf("n %d: pb[%d] = %g, want %g", n, j, pb[j], w)
			}
		}
		for j := range x {
			xh := (float64(x[j]) - m) * r
			gj := float64(dy[j]) * float64(g[j])
			want := float32(r * (gj - sumG/nf - xh*sumGX/nf))
			slack := 1e-9 * r * (math.Abs(gj) + math.Abs(sumG/nf) + math.Abs(xh*sumGX/nf))
			if ulps(dx[j], want) > 1 && math.Abs(float64(dx[j])-float64(want)) > slack {
				t.Fatalf("n %d: dx[%d] = %g, want %g", n, j, dx[j], want)
			}
		}
	}
}
