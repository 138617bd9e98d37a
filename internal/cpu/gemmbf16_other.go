//go:build !amd64 || purego

package cpu

// bf16Kernels lists the bf16 micro-kernels this CPU can run: the portable one.
func bf16Kernels() (ks []*bf16Kernel, missing []string) {
	return []*bf16Kernel{&goBF16MicroKernel}, []string{"avx512bf16 12x32, amx 32x32: not an amd64 build"}
}

// bf16RowBulk, bf16PairsPanelsBulk, bf16PairsRowsBulk and bf16TransposeBulk
// vectorize nothing here.
func bf16RowBulk([]uint32, []float32) int                                   { return 0 }
func bf16PairsPanelsBulk([]uint32, int, int, []float32, []float32, int) int { return 0 }
func bf16TransposeBulk([]uint32, int, []float32, int, int, int) int         { return 0 }
func bf16PairsRowsBulk([]uint32, int, []float32, int, int, int) int         { return 0 }
