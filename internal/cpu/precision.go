package cpu

import (
	"fmt"
	"strings"
)

// Precision is how the CPU backend's GEMMs multiply; every buffer, and
// everything but the GEMMs' products, stays float32.
type Precision int

const (
	// FP32 is float32 products and sums (the default).
	FP32 Precision = iota
	// BF16 rounds each GEMM's inputs to bfloat16 (to nearest even) and
	// sums their products in float32: the autocast contract, and the CUDA
	// backend's bf16 precision. Master weights, optimizer moments,
	// LayerNorm, softmax, the loss and the masks are untouched.
	BF16
)

// String implements fmt.Stringer: "fp32" or "bf16".
func (p Precision) String() string {
	switch p {
	case FP32:
		return "fp32"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision parses "fp32" or "bf16" (case-insensitive; "" is fp32).
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "fp32", "float32":
		return FP32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	}
	return FP32, fmt.Errorf("precision %q: the CPU backend has fp32 and bf16 (tf32 needs --device cuda:N)", s)
}

// SetPrecision sets the GEMMs' precision. It must not run concurrently
// with the backend's ops.
func (be *Backend) SetPrecision(p Precision) {
	be.prec = p
	if p == BF16 && be.bkern == nil {
		ks, _ := bf16Kernels()
		be.bkern = ks[0]
	}
}

// Precision returns the GEMMs' precision.
func (be *Backend) Precision() Precision { return be.prec }

// GEMMKernel names the micro-kernel the GEMMs run at the backend's
// precision ("avx512 8x32", "avx512bf16 12x32", "amx 32x32", ...).
func (be *Backend) GEMMKernel() string {
	if be.prec == BF16 {
		return be.bkern.name
	}
	return be.kern.name
}

// BF16Kernels names the bf16 micro-kernels this CPU can run, best first,
// and says for each one it cannot run why not.
func BF16Kernels() (names, missing []string) {
	ks, missing := bf16Kernels()
	for _, k := range ks {
		names = append(names, k.name)
	}
	return names, missing
}

// SetBF16Kernel selects a bf16 micro-kernel by a name from BF16Kernels
// (for benchmarks and tests); the default is the first. It must not run
// concurrently with the backend's ops.
func (be *Backend) SetBF16Kernel(name string) error {
	ks, missing := bf16Kernels()
	for _, k := range ks {
		if k.name == name {
			be.mu.Lock()
			be.bkern, be.bscratch = k, nil
			be.mu.Unlock()
			return nil
		}
	}
	names, _ := BF16Kernels()
	return fmt.Errorf("cpu: unknown bf16 kernel %q (this CPU has %v; %s)", name, names, strings.Join(missing, "; "))
}

// gemmWorker is one goroutine's serial GEMM at the backend's precision,
// with its scratch.
type gemmWorker struct {
	be *Backend
	ws *gemmScratch
	bs *bf16Scratch
}

// getGemmWorker takes scratch for one goroutine's GEMMs; putGemmWorker
// returns it.
func (be *Backend) getGemmWorker() gemmWorker {
	if be.prec == BF16 {
		return gemmWorker{be: be, bs: be.getBF16Scratch()}
	}
	return gemmWorker{be: be, ws: be.getScratch()}
}

func (be *Backend) putGemmWorker(g gemmWorker) {
	if g.bs != nil {
		be.putBF16Scratch(g.bs)
		return
	}
	be.putScratch(g.ws)
}

// gemm is sgemm (or sgemmBF16) on g's goroutine.
func (g gemmWorker) gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if g.bs != nil {
		sgemmBF16(g.bs, g.be.bkern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemm(g.ws, g.be.kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
