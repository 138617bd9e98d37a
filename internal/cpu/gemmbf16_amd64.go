//go:build amd64 && !purego

package cpu

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// bf16Kernel12x32 is the AVX512-BF16 micro-kernel (gemmbf16_amd64.s):
// 12×32 tile, 24 zmm accumulators, VDPBF16PS.
//
//go:noescape
func bf16Kernel12x32(kp int, a, b *uint32, c *float32, ldc int, alpha, beta float32)

// cvtBF16Row and cvtBF16PairsPanels are bf16Row's and bf16PairsPanels'
// vectorized bulk (gemmbf16_amd64.s): VCVTNE2PS2BF16, and VPERMW to
// interleave two rows.
//
//go:noescape
func cvtBF16Row(dst *uint32, src *float32, n int)

//go:noescape
func cvtBF16PairsPanels(dst *uint32, width, pstride int, r0, r1 *float32, panels, ahead int)

// cvtBF16Transpose is bf16Transpose's vectorized bulk (gemmbf16_amd64.s):
// VCVTNE2PS2BF16 on 32 values of up to 16 rows, a 16×16 transpose of words
// in registers, and masked stores of a k-pair's words at a time.
//
//go:noescape
func cvtBF16Transpose(dst *uint32, stride int, src *float32, lda, rows, n int)

// cvtBF16PairsRows is bf16PairsRows' vectorized bulk (gemmbf16_amd64.s):
// the pairs of 16 k-pairs of up to 16 columns converted as in
// cvtBF16PairsPanels, then a 16×16 transpose of words in registers.
//
//go:noescape
func cvtBF16PairsRows(dst *uint32, stride int, src *float32, lda, rows, n int)

// hasCvtBF16 reports whether the CPU runs the cvtBF16 conversions.
var hasCvtBF16 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512BF16

// bf16RowBulk does bf16Row's first multiple of 32 values vectorized where
// the CPU can, and returns how many it did.
func bf16RowBulk(dst []uint32, src []float32) int {
	bulk := len(src) &^ 31
	if !hasCvtBF16 || bulk == 0 {
		return 0
	}
	_ = dst[bulk/2-1]
	cvtBF16Row(&dst[0], &src[0], bulk)
	return bulk
}

// bf16PairsPanelsBulk does bf16PairsPanels' whole panels vectorized where
// the CPU can, and returns how many columns it did.
func bf16PairsPanelsBulk(dst []uint32, width, pstride int, r0, r1 []float32, ahead int) int {
	panels := len(r0) / width
	if !hasCvtBF16 || panels == 0 {
		return 0
	}
	_, _, _ = dst[(panels-1)*pstride+width-1], r0[panels*width-1], r1[panels*width-1]
	cvtBF16PairsPanels(&dst[0], width, pstride, &r0[0], &r1[0], panels, 4*ahead)
	return panels * width
}

// bf16PairsRowsBulk does bf16PairsRows' first multiple of 16 pairs
// vectorized where the CPU can (rows at most 16), and returns how many it
// did.
func bf16PairsRowsBulk(dst []uint32, stride int, src []float32, lda, rows, pairs int) int {
	bulk := pairs &^ 15
	if !hasCvtBF16 || bulk == 0 || rows > 16 {
		return 0
	}
	_, _ = dst[(rows-1)*stride+bulk-1], src[(2*bulk-1)*lda+rows-1]
	cvtBF16PairsRows(&dst[0], stride, &src[0], lda, rows, bulk)
	return bulk
}

// bf16TransposeBulk does bf16Transpose's first multiple of 32 values of
// each row vectorized where the CPU can, and returns how many it did.
func bf16TransposeBulk(dst []uint32, stride int, src []float32, lda, rows, n int) int {
	bulk := n &^ 31
	if !hasCvtBF16 || bulk == 0 || rows > 16 {
		return 0
	}
	_, _ = dst[(bulk/2-1)*stride+rows-1], src[(rows-1)*lda+bulk-1]
	cvtBF16Transpose(&dst[0], stride, &src[0], lda, rows, bulk)
	return bulk
}

// amxTile32x32 is the AMX tile kernel (gemmamx_amd64.s): the 32×32 float32
// sums of kp k-pairs (a multiple of 16) of a row-by-row A panel and a B
// panel, into out.
//
//go:noescape
func amxTile32x32(kp int, a, b *uint32, out *float32, cfg *[64]byte)

// amxConfig is the tile configuration (palette 1): TMM0..TMM7 all 16 rows
// of 64 bytes.
var amxConfig = func() (cfg [64]byte) {
	cfg[0] = 1
	for t := 0; t < 8; t++ {
		cfg[16+2*t] = 64
		cfg[48+t] = 16
	}
	return cfg
}()

// amxKernel is the AMX micro-kernel: the tile's sums, then C = alpha·sums
// + beta·C in Go.
func amxKernel(kp int, a, b *uint32, c *float32, ldc int, alpha, beta float32) {
	var out [32 * 32]float32
	amxTile32x32(kp, a, b, &out[0], &amxConfig)
	cs := unsafe.Slice(c, 31*ldc+32)
	for r := 0; r < 32; r++ {
		crow, orow := cs[r*ldc:][:32], out[r*32:][:32]
		if beta == 0 {
			for j, v := range orow {
				crow[j] = alpha * v
			}
		} else {
			for j, v := range orow {
				crow[j] = alpha*v + beta*crow[j]
			}
		}
	}
}

// amxStatus is whether AMX can run here, and why not.
var amxStatus = sync.OnceValues(func() (bool, string) {
	if !cpu.X86.HasAMXTile || !cpu.X86.HasAMXBF16 {
		return false, "the CPU has no AMX-BF16 (CPUID.7.0:EDX bits 22 and 24)"
	}
	// The kernel grants tile data per process; without the grant the first
	// tile instruction faults.
	if err := requestAMX(); err != nil {
		return false, err.Error()
	}
	return true, ""
})

var (
	avx512BF16MicroKernel = bf16Kernel{name: "avx512bf16 12x32", mr: 12, nr: 32, kc: 256, mc: 384, nc: 2048, kAlign: 1, fn: bf16Kernel12x32}
	amxMicroKernel        = bf16Kernel{name: "amx 32x32", mr: 32, nr: 32, kc: 256, mc: 256, nc: 1024, kAlign: 16, rowsA: true, fn: amxKernel}
)

// bf16Kernels lists the bf16 micro-kernels this CPU can run, best first,
// and why the missing ones are missing.
func bf16Kernels() (ks []*bf16Kernel, missing []string) {
	if ok, why := amxStatus(); ok {
		ks = append(ks, &amxMicroKernel)
	} else {
		missing = append(missing, amxMicroKernel.name+": "+why)
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BF16 {
		ks = append(ks, &avx512BF16MicroKernel)
	} else {
		missing = append(missing, avx512BF16MicroKernel.name+": the CPU has no AVX512-BF16")
	}
	return append(ks, &goBF16MicroKernel), missing
}
