//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

// sgemmKernel8x32 is the AVX-512 micro-kernel (gemm_amd64.s): 8×32 tile,
// sixteen zmm accumulators.
//
//go:noescape
func sgemmKernel8x32(k int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernel8x32s is sgemmKernel8x32 reading A in place: element (r, p)
// at byte offset r*rs + p*ks from a.
//
//go:noescape
func sgemmKernel8x32s(k int, a *float32, rs, ks int, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernel6x16 is the AVX2+FMA micro-kernel (gemm_amd64.s): 6×16 tile,
// twelve ymm accumulators.
//
//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)

var (
	avx512MicroKernel       = microKernel{name: "avx512 8x32", mr: 8, nr: 32, kc: 256, mc: 384, nc: 2048, fn: sgemmKernel8x32, direct: sgemmKernel8x32s}
	avx512PackedMicroKernel = microKernel{name: "avx512 8x32 packed", mr: 8, nr: 32, kc: 256, mc: 384, nc: 2048, fn: sgemmKernel8x32}
	avx2MicroKernel         = microKernel{name: "avx2 6x16", mr: 6, nr: 16, kc: 256, mc: 384, nc: 2048, fn: sgemmKernel6x16}
)

// kernels lists the micro-kernels this CPU can run, best first.
func kernels() []*microKernel {
	var ks []*microKernel
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		ks = append(ks, &avx512MicroKernel, &avx512PackedMicroKernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &avx2MicroKernel)
	}
	return append(ks, &goMicroKernel)
}
