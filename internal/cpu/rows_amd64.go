//go:build amd64 && !purego

package cpu

import (
	"github.com/mixft/mixft/internal/backend"
	"golang.org/x/sys/cpu"
)

// hasRowAVX512 reports whether the CPU runs the row loops of
// softmax_amd64.s, gelu_amd64.s, philox_amd64.s, adamw_amd64.s,
// layernorm_amd64.s and vec_amd64.s (AVX-512 F and DQ).
var hasRowAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// softmaxRow16, dotF64 and softmaxGradRow16 are the attention's row loops
// in AVX-512 (softmax_amd64.s); n is a positive multiple of 16.
//
//go:noescape
func softmaxRow16(row *float32, n int)

//go:noescape
func dotF64(a, b *float32, n int) float64

//go:noescape
func softmaxGradRow16(gr, pv, p *float32, n int, d, scale float32)

// softmaxRowFast runs softmaxRow's no-padding case vectorized where it
// can and reports whether it did.
func softmaxRowFast(row []float32) bool {
	if !hasRowAVX512 || len(row) == 0 || len(row)%16 != 0 {
		return false
	}
	softmaxRow16(&row[0], len(row))
	return true
}

// softmaxGradRowFast runs one row of attentionBackward's dS vectorized
// where it can and reports whether it did.
func softmaxGradRowFast(g, pv, p []float32, scale float32) bool {
	n := len(g)
	if !hasRowAVX512 || n == 0 || n%16 != 0 {
		return false
	}
	_, _ = pv[n-1], p[n-1]
	d := float32(dotF64(&pv[0], &g[0], n))
	softmaxGradRow16(&g[0], &pv[0], &p[0], n, d, scale)
	return true
}

// geluRow16 and geluGradRow16 are geluSlice's and geluGradSlice's loops in
// AVX-512 (gelu_amd64.s), tabulated's two table reads as gathers; n is a
// positive multiple of 16.
//
//go:noescape
func geluRow16(o, x *float32, n int, tab *float32)

//go:noescape
func geluGradRow16(dx, dy, x *float32, n int, tab *float32)

// geluBulk writes o[j] = x[j]·tabulated(tab, x[j]) for the first multiple
// of 16 elements where the CPU can, and returns how many it did.
func geluBulk(o, x, tab []float32) int {
	n := len(x) &^ 15
	if !hasRowAVX512 || n == 0 {
		return 0
	}
	_ = o[n-1]
	_ = tab[linSteps+1]
	geluRow16(&o[0], &x[0], n, &tab[0])
	return n
}

// geluGradBulk writes dx[j] = dy[j]·tabulated(tab, x[j]) for the first
// multiple of 16 elements where the CPU can, and returns how many it did.
func geluGradBulk(dx, dy, x, tab []float32) int {
	n := len(x) &^ 15
	if !hasRowAVX512 || n == 0 {
		return 0
	}
	_, _ = dx[n-1], dy[n-1]
	_ = tab[linSteps+1]
	geluGradRow16(&dx[0], &dy[0], &x[0], n, &tab[0])
	return n
}

// philox16 is Philox4x32-10 on sixteen blocks at a time in AVX-512
// (philox_amd64.s): dst[4i..4i+3] = philox.Block({b+i, id, st0, st1},
// {k0, k1}) for i < blocks, a positive multiple of 16.
//
//go:noescape
func philox16(dst *uint32, blocks int, b, id, st0, st1, k0, k1 uint32)

// philoxBulk fills dst's first multiple of 64 words with the blocks from b
// on where the CPU can, and returns how many blocks it did.
func philoxBulk(dst []uint32, b, id, st0, st1, k0, k1 uint32) int {
	blocks := len(dst) / 64 * 16
	if !hasRowAVX512 || blocks == 0 {
		return 0
	}
	philox16(&dst[0], blocks, b, id, st0, st1, k0, k1)
	return blocks
}

// dropScale16 is dropScale's loop in AVX-512 (vec_amd64.s); n is a
// positive multiple of 16.
//
//go:noescape
func dropScale16(dst, src *float32, words *uint32, n int, thr uint32, scale float32)

// dropScaleBulk does dropScale's first multiple of 16 elements where the
// CPU can, and returns how many it did.
func dropScaleBulk(dst, src []float32, words []uint32, thr uint32, scale float32) int {
	n := len(words) &^ 15
	if !hasRowAVX512 || n == 0 {
		return 0
	}
	_, _ = dst[n-1], src[n-1]
	dropScale16(&dst[0], &src[0], &words[0], n, thr, scale)
	return n
}

// adamwRow16 is adamwRange's loop in AVX-512 (adamw_amd64.s): k holds the
// grad scale, decay, lr·wd, β1, β2, 1-β1, 1-β2, step size, √bc2 and eps;
// mode 0 is no weight decay, 1 decay toward zero, 2 toward t. n is a
// positive multiple of 16.
//
//go:noescape
func adamwRow16(p, gr, m, v, t *float32, n int, k *[10]float32, mode int)

// adamwBulk updates the first multiple of 16 elements where the CPU can,
// and returns how many it did (p, g, m, v, and t when not nil, of one
// length).
func adamwBulk(p, g, m, v, t []float32, sc *backend.AdamWScalars) int {
	n := len(p) &^ 15
	if !hasRowAVX512 || n == 0 {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	k := [10]float32{sc.GradScale, sc.Decay, sc.LRWD, sc.B1, sc.B2, sc.C1, sc.C2, sc.StepSize, sc.BC2Sqrt, sc.Eps}
	mode, tp := 0, &p[0]
	if sc.HasDecay {
		mode = 1
		if t != nil {
			_ = t[n-1]
			mode, tp = 2, &t[0]
		}
	}
	adamwRow16(&p[0], &g[0], &m[0], &v[0], tp, n, &k, mode)
	return n
}

// addF32x16 and accF64x16 are addF32's and accF64's loops in AVX-512
// (vec_amd64.s); n is a positive multiple of 16.
//
//go:noescape
func addF32x16(dst, a, b *float32, n int)

//go:noescape
func accF64x16(dst *float64, src *float32, n int)

// addF32Bulk does addF32's first multiple of 16 elements where the CPU
// can, and returns how many it did.
func addF32Bulk(dst, a, b []float32) int {
	n := len(dst) &^ 15
	if !hasRowAVX512 || n == 0 {
		return 0
	}
	_, _ = a[n-1], b[n-1]
	addF32x16(&dst[0], &a[0], &b[0], n)
	return n
}

// accF64Bulk does accF64's first multiple of 16 elements where the CPU
// can, and returns how many it did.
func accF64Bulk(dst []float64, src []float32) int {
	n := len(src) &^ 15
	if !hasRowAVX512 || n == 0 {
		return 0
	}
	_ = dst[n-1]
	accF64x16(&dst[0], &src[0], n)
	return n
}

// layerNormSums16 and layerNormDx8 are layerNormBackwardRow's two passes
// in AVX-512 (layernorm_amd64.s).
//
//go:noescape
func layerNormSums16(dy, x, gamma *float32, pg, pb *float64, n int, mu, r float64) (sumG, sumGX float64)

//go:noescape
func layerNormDx8(dx, dy, x, gamma *float32, n int, mu, r, a, sgx, nf float64)

// layerNormSumsBulk does layerNormBackwardRow's first pass over the first
// multiple of 16 elements where the CPU can: it returns how many it did
// and their Σ dy·g and Σ dy·g·x̂ (pg and pb updated).
func layerNormSumsBulk(dy, x, g []float32, pg, pb []float64, mu, r float64) (n int, sumG, sumGX float64) {
	n = len(x) &^ 15
	if !hasRowAVX512 || n == 0 {
		return 0, 0, 0
	}
	_, _, _, _ = dy[n-1], g[n-1], pg[n-1], pb[n-1]
	sumG, sumGX = layerNormSums16(&dy[0], &x[0], &g[0], &pg[0], &pb[0], n, mu, r)
	return n, sumG, sumGX
}

// layerNormDxBulk does layerNormBackwardRow's second pass over the first
// multiple of 8 elements where the CPU can, with a = ΣG/n, and returns how
// many it did.
func layerNormDxBulk(dx, dy, x, g []float32, mu, r, a, sumGX, nf float64) int {
	n := len(x) &^ 7
	if !hasRowAVX512 || n == 0 {
		return 0
	}
	_, _, _ = dx[n-1], dy[n-1], g[n-1]
	layerNormDx8(&dx[0], &dy[0], &x[0], &g[0], n, mu, r, a, sumGX, nf)
	return n
}

// mixRow16 and mixGradRow16 are mixRow's and mixGradRow's loops in AVX-512
// (vec_amd64.s); n is a positive multiple of 16.
//
//go:noescape
func mixRow16(o, w, u, m *float32, n int, inv float32)

//go:noescape
func mixGradRow16(gw, gm, m *float32, n int, scale float32)

// mixRowBulk does mixRow's first multiple of 16 elements where the CPU
// can, and returns how many it did.
func mixRowBulk(o, w, u, m []float32, inv float32) int {
	n := len(o) &^ 15
	if !hasRowAVX512 || n == 0 {
		return 0
	}
	_, _, _ = w[n-1], u[n-1], m[n-1]
	mixRow16(&o[0], &w[0], &u[0], &m[0], n, inv)
	return n
}

// mixGradRowBulk does mixGradRow's first multiple of 16 elements where
// the CPU can, and returns how many it did.
func mixGradRowBulk(gw, gm, m []float32, scale float32) int {
	n := len(gw) &^ 15
	if !hasRowAVX512 || n == 0 {
		return 0
	}
	_, _ = gm[n-1], m[n-1]
	mixGradRow16(&gw[0], &gm[0], &m[0], n, scale)
	return n
}
