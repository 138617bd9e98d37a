//go:build kernelhost && !cuda

package gpu

// #cgo CXXFLAGS: -std=c++17 -O2 -Wall -Wno-unused-function -I${SRCDIR}/../../kernels
// #include <stdlib.h>
// #include "emu_api.h"
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/mixft/mixft/internal/backend"
)

// emuDevice runs the kernels of kernels/*.cu compiled for the host, under
// the fiber emulation of kernels/hostemu.h, one launch at a time, and GEMMs
// by a reference that accumulates in float32 (fused multiply-adds along k,
// as cuBLAS's kernels do) with cuBLAS's argument checks. After
// every launch it checks that no kernel wrote past an allocation's end.
type emuDevice struct {
	prec Precision
	sms  int
}

// NewEmulated returns a Backend whose kernels run in the host emulation:
// the test vehicle for the kernels and the launch code on a machine without
// a GPU. prec rounds the GEMM inputs as TF32 or bf16 tensor cores would.
func NewEmulated(prec Precision) *Backend {
	// Two "multiprocessors" keep grid-stride launches small (fewer fibers).
	return newBackend(&emuDevice{prec: prec, sms: 2}, prec)
}

func (d *emuDevice) name() string         { return "emu" }
func (d *emuDevice) multiprocessors() int { return d.sms }
func (d *emuDevice) enter() func()        { return func() {} }

func (d *emuDevice) alloc(bytes int) (uint64, error) {
	p := uint64(C.emu_alloc(C.size_t(bytes)))
	if p == 0 {
		return 0, fmt.Errorf("out of host memory")
	}
	return p, nil
}

func errString(buf []byte) string { return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))) }

func (d *emuDevice) free(p uint64) {
	buf := make([]byte, 512)
	if C.emu_free(C.uint64_t(p), (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf))) != 0 {
		panic("emu: free: " + errString(buf))
	}
}

func (d *emuDevice) zero(p uint64, bytes int) { C.emu_memset0(C.uint64_t(p), C.size_t(bytes)) }

func (d *emuDevice) upload(dst uint64, src unsafe.Pointer, bytes int) {
	C.emu_htod(C.uint64_t(dst), src, C.size_t(bytes))
}

func (d *emuDevice) download(dst unsafe.Pointer, src uint64, bytes int) {
	C.emu_dtoh(dst, C.uint64_t(src), C.size_t(bytes))
}

func (d *emuDevice) launch(k kernel, grid, block dim3, smem int, args []uint64) {
	name := C.CString(kernelNames[k])
	defer C.free(unsafe.Pointer(name))
	buf := make([]byte, 1024)
	var pa *C.uint64_t
	if len(args) > 0 {
		pa = (*C.uint64_t)(unsafe.Pointer(&args[0]))
	}
	if C.emu_launch(name, C.uint(grid.x), C.uint(grid.y), C.uint(grid.z), C.uint(block.x), C.uint(block.y), C.uint(block.z),
		C.uint(smem), pa, C.int(len(args)), (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf))) != 0 {
		panic(fmt.Sprintf("emu: launch %s (grid %v, block %v): %s", kernelNames[k], grid, block, errString(buf)))
	}
	if C.emu_check_redzones((*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf))) != 0 {
		panic(fmt.Sprintf("emu: after %s (grid %v, block %v): %s", kernelNames[k], grid, block, errString(buf)))
	}
}

func (d *emuDevice) gemm(g *gemmCM) {
	buf := make([]byte, 512)
	if C.emu_gemm(C.int(flag(g.transA)), C.int(flag(g.transB)), C.int(g.m), C.int(g.n), C.int(g.k), C.float(g.alpha),
		C.uint64_t(g.a), C.int(g.lda), C.longlong(g.strideA), C.uint64_t(g.b), C.int(g.ldb), C.longlong(g.strideB),
		C.float(g.beta), C.uint64_t(g.c), C.int(g.ldc), C.longlong(g.strideC), C.int(g.batch), C.int(d.prec),
		(*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf))) != 0 {
		panic("emu: GEMM: " + errString(buf))
	}
	if C.emu_check_redzones((*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf))) != 0 {
		panic("emu: after a GEMM: " + errString(buf))
	}
}

func (d *emuDevice) info() backend.DeviceInfo {
	return backend.DeviceInfo{Device: d.name(), Name: "host emulation", Multiprocessors: d.sms,
		GEMMLibrary: "reference GEMM (float32 accumulation, inputs rounded to the precision)"}
}

func (d *emuDevice) synchronize() {}
func (d *emuDevice) close()       {}

// emuHasKernel reports whether the emulation has a kernel of that name.
func emuHasKernel(name string) bool {
	c := C.CString(name)
	defer C.free(unsafe.Pointer(c))
	return C.emu_has_kernel(c) != 0
}

// The arithmetic helpers of kernels/*.cuh, compiled for the host (tests).

func emuPhiloxBlock(ctr [4]uint32, key [2]uint32) [4]uint32 {
	var out [4]uint32
	C.emu_philox_block((*C.uint32_t)(unsafe.Pointer(&ctr[0])), (*C.uint32_t)(unsafe.Pointer(&key[0])), (*C.uint32_t)(unsafe.Pointer(&out[0])))
	return out
}

func emuPhiloxStreamWord(seed, step uint64, id uint32, i uint64) uint32 {
	return uint32(C.emu_philox_stream_word(C.uint64_t(seed), C.uint64_t(step), C.uint32_t(id), C.uint64_t(i)))
}

func emuPhiloxKeep(w uint32, p float32) bool {
	return C.emu_philox_keep(C.uint32_t(w), C.float(p)) != 0
}
func emuActivate(x float32, act int) float32 {
	return float32(C.emu_activate(C.float(x), C.int(act)))
}
func emuActivateGrad(x float32, act int) float32 {
	return float32(C.emu_activate_grad(C.float(x), C.int(act)))
}
func emuLNRstd(ssd float64, cols int, eps float32) float64 {
	return float64(C.emu_ln_rstd(C.double(ssd), C.int(cols), C.float(eps)))
}
func emuLNOut(x float32, mean, rstd float64, g, b float32) float32 {
	return float32(C.emu_ln_out(C.float(x), C.double(mean), C.double(rstd), C.float(g), C.float(b)))
}
func emuLNGradDx(x, dy, g float32, mean, rstd, sumG, sumGX float64, cols int) float32 {
	return float32(C.emu_ln_grad_dx(C.float(x), C.float(dy), C.float(g), C.double(mean), C.double(rstd), C.double(sumG), C.double(sumGX), C.int(cols)))
}
func emuDropoutApply(x float32, keep bool, scale float32) float32 {
	return float32(C.emu_dropout_apply(C.float(x), C.int(flag(keep)), C.float(scale)))
}
func emuMixoutMix(w, u, m, inv float32) float32 {
	return float32(C.emu_mixout_mix(C.float(w), C.float(u), C.float(m), C.float(inv)))
}
func emuMixoutGrad(g, gmix, m, scale float32) float32 {
	return float32(C.emu_mixout_grad(C.float(g), C.float(gmix), C.float(m), C.float(scale)))
}

// emuAdamW runs adamw_update over slices (target may be nil); s holds
// decay, lrwd, b1, b2, c1, c2, stepSize, bc2sqrt, eps, gradScale.
func emuAdamW(p, g, m, v, target []float32, s [10]float32, hasDecay bool) {
	var pt *C.float
	if target != nil {
		pt = (*C.float)(unsafe.Pointer(&target[0]))
	}
	C.emu_adamw((*C.float)(unsafe.Pointer(&p[0])), (*C.float)(unsafe.Pointer(&g[0])), (*C.float)(unsafe.Pointer(&m[0])),
		(*C.float)(unsafe.Pointer(&v[0])), pt, C.longlong(len(p)), (*C.float)(unsafe.Pointer(&s[0])), C.int(flag(hasDecay)))
}
