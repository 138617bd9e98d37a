//go:build cuda

package gpu

// #cgo LDFLAGS: -ldl
// #include <stdlib.h>
// #include "cublas_shim.h"
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"
)

// cublasMajors are the libcublas sonames tried, newest first.
var cublasMajors = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}

// cublasDirs are the directories searched for libcublas, in order:
// LD_LIBRARY_PATH, $CUDA_HOME/lib64, /usr/local/cuda/lib64 and the
// distribution's library directory.
func cublasDirs() []string {
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("LD_LIBRARY_PATH")) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	for _, env := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if h := os.Getenv(env); h != "" {
			dirs = append(dirs, filepath.Join(h, "lib64"), filepath.Join(h, "lib"))
		}
	}
	return append(dirs, "/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib64")
}

var cublasOnce struct {
	sync.Once
	path string
	err  error
}

// loadCublas dlopens cuBLAS once: $MIXFT_CUBLAS if set, else the newest
// major found in cublasDirs, else whatever the dynamic loader finds by
// soname.
func loadCublas() (string, error) {
	cublasOnce.Do(func() {
		var cands []string
		if p := os.Getenv("MIXFT_CUBLAS"); p != "" {
			cands = append(cands, p)
		}
		for _, so := range cublasMajors {
			for _, d := range cublasDirs() {
				if _, err := os.Stat(filepath.Join(d, so)); err == nil {
					cands = append(cands, filepath.Join(d, so))
				}
			}
		}
		cands = append(cands, cublasMajors...)
		var errs []string
		buf := make([]byte, 1024)
		for _, p := range cands {
			cp := C.CString(p)
			rc := C.mixft_cublas_open(cp, (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)))
			C.free(unsafe.Pointer(cp))
			if rc == 0 {
				cublasOnce.path = p
				return
			}
			errs = append(errs, fmt.Sprintf("%s: %s", p, C.GoString((*C.char)(unsafe.Pointer(&buf[0])))))
		}
		cublasOnce.err = fmt.Errorf("cuBLAS not found (set MIXFT_CUBLAS to libcublas.so.N or add its directory to LD_LIBRARY_PATH); tried:\n  %s",
			strings.Join(errs, "\n  "))
	})
	return cublasOnce.path, cublasOnce.err
}

// cublas is one cuBLAS handle on the current context.
type cublas struct {
	h           unsafe.Pointer
	computeType C.int
	version     int
	path        string
}

func newCublas(prec Precision) (*cublas, error) {
	path, err := loadCublas()
	if err != nil {
		return nil, err
	}
	b := &cublas{path: path}
	if rc := C.mixft_cublas_create(&b.h); rc != 0 {
		return nil, fmt.Errorf("cublasCreate (%s): status %d", path, int(rc))
	}
	var v C.int
	if rc := C.mixft_cublas_get_version(b.h, &v); rc == 0 {
		b.version = int(v)
	}
	// The legacy default stream, which the kernels and copies use too.
	if rc := C.mixft_cublas_set_stream(b.h, nil); rc != 0 {
		return nil, fmt.Errorf("cublasSetStream: status %d", int(rc))
	}
	// FP32: COMPUTE_32F under the default math mode never rounds to TF32.
	mode := C.int(C.MIXFT_CUBLAS_DEFAULT_MATH)
	switch prec {
	case FP32:
		b.computeType = C.MIXFT_CUBLAS_COMPUTE_32F
	case TF32:
		b.computeType, mode = C.MIXFT_CUBLAS_COMPUTE_32F_FAST_TF32, C.MIXFT_CUBLAS_TF32_TENSOR_OP_MATH
	case BF16:
		b.computeType, mode = C.MIXFT_CUBLAS_COMPUTE_32F_FAST_16BF, C.MIXFT_CUBLAS_DEFAULT_MATH
	default:
		return nil, fmt.Errorf("unknown precision %v", prec)
	}
	if rc := C.mixft_cublas_set_math_mode(b.h, mode); rc != 0 {
		return nil, fmt.Errorf("cublasSetMathMode: status %d", int(rc))
	}
	return b, nil
}

// cublasStatus names a cublasStatus_t.
func cublasStatus(rc C.int) string {
	names := map[int]string{1: "NOT_INITIALIZED", 3: "ALLOC_FAILED", 7: "INVALID_VALUE", 8: "ARCH_MISMATCH",
		11: "MAPPING_ERROR", 13: "EXECUTION_FAILED", 14: "INTERNAL_ERROR", 15: "NOT_SUPPORTED", 16: "LICENSE_ERROR"}
	if n, ok := names[int(rc)]; ok {
		return "CUBLAS_STATUS_" + n
	}
	return fmt.Sprintf("status %d", int(rc))
}

func (b *cublas) gemm(g *gemmCM) error {
	op := func(t bool) C.int {
		if t {
			return C.MIXFT_CUBLAS_OP_T
		}
		return C.MIXFT_CUBLAS_OP_N
	}
	rc := C.mixft_cublas_gemm(b.h, op(g.transA), op(g.transB), C.int(g.m), C.int(g.n), C.int(g.k),
		C.float(g.alpha), C.uint64_t(g.a), C.int(g.lda), C.longlong(g.strideA),
		C.uint64_t(g.b), C.int(g.ldb), C.longlong(g.strideB),
		C.float(g.beta), C.uint64_t(g.c), C.int(g.ldc), C.longlong(g.strideC), C.int(g.batch), b.computeType)
	if rc != 0 {
		return fmt.Errorf("cuBLAS GEMM %dx%dx%d (transA %v, transB %v, batch %d): %s",
			g.m, g.n, g.k, g.transA, g.transB, g.batch, cublasStatus(rc))
	}
	return nil
}

func (b *cublas) destroy() {
	if b.h != nil {
		C.mixft_cublas_destroy(b.h)
		b.h = nil
	}
}
