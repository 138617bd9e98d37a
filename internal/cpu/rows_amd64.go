//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

// hasRowAVX512 reports whether the CPU runs softmax_amd64.s and
// gelu_amd64.s.
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
