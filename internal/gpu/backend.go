//go:build cuda || kernelhost

package gpu

import (
	"fmt"
	"math"
	"os"
	"strings"
	"unsafe"

	"github.com/mixft/mixft/internal/backend"
)

// Precision selects how GEMMs compute; every buffer stays float32.
type Precision int

const (
	// FP32 is IEEE float32 products (the default, and the parity reference).
	FP32 Precision = iota
	// TF32 lets cuBLAS round the inputs to TF32 on the tensor cores.
	TF32
	// BF16 lets cuBLAS round the inputs to bfloat16 on the tensor cores,
	// accumulating in float32 (fp32 master weights, bf16 compute).
	BF16
)

// String implements fmt.Stringer: "fp32", "tf32" or "bf16".
func (p Precision) String() string {
	switch p {
	case FP32:
		return "fp32"
	case TF32:
		return "tf32"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision parses "fp32", "tf32" or "bf16" (case-insensitive; ""
// means fp32).
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "fp32", "float32":
		return FP32, nil
	case "tf32":
		return TF32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	}
	return FP32, fmt.Errorf("precision %q: expected fp32, tf32 or bf16", s)
}

// dim3 is a CUDA grid or block shape.
type dim3 struct{ x, y, z int }

func d1(x int) dim3    { return dim3{x, 1, 1} }
func d2(x, y int) dim3 { return dim3{x, y, 1} }

// gemmCM is one cuBLAS-style column-major (strided-batched) GEMM:
// C_i = alpha·op(A_i)·op(B_i) + beta·C_i for i < batch, with A_i at
// a + i·strideA elements, and so on. With beta 0, C is not read.
type gemmCM struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              uint64
	lda            int
	strideA        int64
	b              uint64
	ldb            int
	strideB        int64
	c              uint64
	ldc            int
	strideC        int64
	batch          int
}

// device is what the ops need from a GPU (or from the host emulation).
// Addresses are device addresses; sizes are in bytes. Errors a caller can
// not recover from (a failed launch, a lost device) panic with a message
// naming the operation, as the CPU backend panics on misuse.
type device interface {
	// name is the backend name ("cuda:0", "emu").
	name() string
	// multiprocessors sizes grid-stride launches.
	multiprocessors() int
	// enter binds the device to the calling goroutine's OS thread for one
	// op; call the returned function when the op is done.
	enter() (exit func())
	alloc(bytes int) (uint64, error)
	free(p uint64)
	// zero sets bytes (a multiple of 4) to 0, in stream order.
	zero(p uint64, bytes int)
	// upload and download copy between host memory and the device; they
	// wait for the work before them (download waits for its result).
	upload(dst uint64, src unsafe.Pointer, bytes int)
	download(dst unsafe.Pointer, src uint64, bytes int)
	launch(k kernel, grid, block dim3, smem int, args []uint64)
	gemm(g *gemmCM)
	// synchronize waits for all queued work and panics on an
	// asynchronous error.
	synchronize()
	// close releases the device; the backend is unusable afterwards.
	close()
	// info describes the device (GEMMPrecision is the backend's to fill).
	info() backend.DeviceInfo
}

// Buffer is a float32 array in device memory.
type Buffer struct {
	ptr   uint64
	n     int
	class int // allocation size in bytes (the allocator's size class)
	owner *Backend
	view  bool // made by View: aliases another buffer, not freeable
}

// Len implements backend.Buffer.
func (b *Buffer) Len() int { return b.n }

// Backend implements backend.Backend on a device. It is not safe for
// concurrent use by several goroutines (neither is the model code).
type Backend struct {
	dev       device
	prec      Precision
	debugSync bool
	pool      allocator
	sc        scratch
	sums      sumState
}

var _ backend.Backend = (*Backend)(nil)

func newBackend(dev device, prec Precision) *Backend {
	be := &Backend{dev: dev, prec: prec}
	be.pool.dev = dev
	be.pool.free = map[int][]uint64{}
	be.debugSync = os.Getenv("MIXFT_CUDA_SYNC") == "1"
	return be
}

// Precision reports the GEMM precision.
func (be *Backend) Precision() Precision { return be.prec }

// GEMMPrecision names the GEMM precision (fp32, tf32, bf16).
func (be *Backend) GEMMPrecision() string { return be.prec.String() }

// peakTFLOPS is the dense datasheet rate, in TFLOP/s, of the unit GEMMs of
// precision p use on the card named device; 0 for a card not in the table.
func peakTFLOPS(device string, p Precision) float64 {
	type rates struct{ fp32, tf32, bf16 float64 }
	table := []struct {
		key string
		r   rates
	}{ // the first key the name contains wins
		{"H200", rates{66.9, 494.7, 989.4}},
		{"H100 PCIe", rates{51.2, 378, 756}},
		{"H100", rates{66.9, 494.7, 989.4}},
		{"A100", rates{19.5, 156, 312}},
	}
	for _, e := range table {
		if strings.Contains(device, e.key) {
			switch p {
			case TF32:
				return e.r.tf32
			case BF16:
				return e.r.bf16
			}
			return e.r.fp32
		}
	}
	return 0
}

// SetDebugSync makes every launch wait for its kernel and check for errors
// (also MIXFT_CUDA_SYNC=1): slow, but an error names the kernel.
func (be *Backend) SetDebugSync(on bool) { be.debugSync = on }

// Close frees every cached and scratch allocation and releases the device.
// Buffers still held become invalid.
func (be *Backend) Close() {
	be.sums.forget()
	exit := be.dev.enter()
	be.sc.release(be)
	be.pool.trim()
	exit()
	be.dev.close()
}

// MemoryStats reports the allocator's bytes in use now, at most so far, and
// cached (freed, kept for reuse).
func (be *Backend) MemoryStats() (inUse, peak, cached int64) {
	return be.pool.inUse, be.pool.peak, be.pool.cached
}

// Synchronize waits for all queued device work.
func (be *Backend) Synchronize() {
	defer be.op()()
	be.dev.synchronize()
}

// Name implements backend.Backend.
func (be *Backend) Name() string { return be.dev.name() }

// Info describes the device: the card, its compute capability, the PTX
// target the driver compiled, the cuBLAS file and version loaded, the GEMM
// precision; for the emulation, "host emulation" and its reference GEMM.
func (be *Backend) Info() backend.DeviceInfo {
	i := be.dev.info()
	i.GEMMPrecision = be.prec.String()
	return i
}

// DeviceName is the card's name ("NVIDIA H200").
func (be *Backend) DeviceName() string { return be.Info().Name }

// PeakTFLOPS is the card's dense datasheet rate, in TFLOP/s, at the GEMM
// precision; 0 for a card not in the table.
func (be *Backend) PeakTFLOPS() float64 { return peakTFLOPS(be.DeviceName(), be.prec) }

// op starts an op: binds the device to the thread and drops the
// SumSquares results computed ahead (the op may change any buffer). The
// caller defers the returned function.
func (be *Backend) op() func() {
	be.sums.invalidate()
	return be.dev.enter()
}

// ---------------------------------------------------------------- memory

// allocator is a caching allocator: freed blocks go to a free list per size
// class (powers of two split in eight steps, at most 12.5% waste) and are
// handed out again; device memory is returned only when an allocation fails
// (then every cached block is freed and the allocation retried) or on Close.
type allocator struct {
	dev                  device
	free                 map[int][]uint64
	inUse, peak, cached  int64
	allocs, deviceAllocs int64
}

// sizeClass rounds bytes up to its class: at least 512 bytes.
func sizeClass(bytes int) int {
	if bytes <= 512 {
		return 512
	}
	// The top three bits below the leading one select one of eight steps.
	shift := 0
	for v := bytes - 1; v >= 16; v >>= 1 {
		shift++
	}
	step := 1 << shift
	return (bytes + step - 1) / step * step
}

func (a *allocator) get(bytes int) (uint64, int) {
	c := sizeClass(bytes)
	a.allocs++
	if l := a.free[c]; len(l) > 0 {
		p := l[len(l)-1]
		a.free[c] = l[:len(l)-1]
		a.cached -= int64(c)
		a.inUse += int64(c)
		a.peak = max(a.peak, a.inUse)
		return p, c
	}
	p, err := a.dev.alloc(c)
	if err != nil {
		a.trim()
		if p, err = a.dev.alloc(c); err != nil {
			panic(fmt.Sprintf("%s: allocating %d bytes: %v (in use %d MiB)", a.dev.name(), c, err, a.inUse>>20))
		}
	}
	a.deviceAllocs++
	a.inUse += int64(c)
	a.peak = max(a.peak, a.inUse)
	return p, c
}

func (a *allocator) put(p uint64, c int) {
	a.free[c] = append(a.free[c], p)
	a.inUse -= int64(c)
	a.cached += int64(c)
}

// trim frees every cached block.
func (a *allocator) trim() {
	for c, l := range a.free {
		for _, p := range l {
			a.dev.free(p)
		}
		delete(a.free, c)
	}
	a.cached = 0
}

// raw is an untyped device allocation (scratch, int32 or float64 arrays).
type raw struct {
	ptr   uint64
	class int
}

// scratch holds the ops' temporaries, grown on demand and kept.
type scratch struct {
	ints     raw // host-side int32 inputs (ids, types, labels, segments)
	floats   raw // host-side float32 inputs (targets)
	doubles  raw // partial sums, per-example losses
	doubles2 raw
	doubles3 raw
	heads    [7]raw // attention: per-head copies of q, k, v, ctx and gradients
	dis      [6]raw // disentangled attention: per-head posQ, posK, C, D (or dC, dD), dposQ, dposK
	probsD   raw    // attention: dropped probabilities P'
	grad     raw    // attention: G = dctx·Vᵀ and dS
	sums     raw    // SumSquares: partial sums and results
	sumTable raw    // SumSquares: the table of a run's buffers
	rope     raw    // RotaryAttention: the cos and sin tables
	ropeD    raw    // RotaryAttentionBackward: D_i = dctx_i·ctx_i per row
}

// need returns r's pointer after making it hold at least bytes.
func (be *Backend) need(r *raw, bytes int) uint64 {
	if r.class < bytes {
		if r.ptr != 0 {
			be.pool.put(r.ptr, r.class)
		}
		r.ptr, r.class = be.pool.get(bytes)
	}
	return r.ptr
}

func (s *scratch) release(be *Backend) {
	all := []*raw{&s.ints, &s.floats, &s.doubles, &s.doubles2, &s.doubles3, &s.probsD, &s.grad, &s.sums, &s.sumTable, &s.rope, &s.ropeD}
	for i := range s.heads {
		all = append(all, &s.heads[i])
	}
	for i := range s.dis {
		all = append(all, &s.dis[i])
	}
	for _, r := range all {
		if r.ptr != 0 {
			be.pool.put(r.ptr, r.class)
			*r = raw{}
		}
	}
}

// Alloc implements backend.Backend: a zeroed buffer of n float32s.
func (be *Backend) Alloc(n int) backend.Buffer {
	if n < 0 {
		panic(fmt.Sprintf("%s: Alloc(%d)", be.Name(), n))
	}
	defer be.op()()
	p, c := be.pool.get(4 * n)
	be.dev.zero(p, c)
	return &Buffer{ptr: p, n: n, class: c, owner: be}
}

// Free implements backend.Backend: the memory returns to the cache.
func (be *Backend) Free(b backend.Buffer) {
	t := be.buf(b)
	if t.view {
		panic(fmt.Sprintf("%s: Free of a view (free the buffer it views)", be.Name()))
	}
	be.sums.forget()
	be.pool.put(t.ptr, t.class)
	t.ptr, t.owner = 0, nil
}

// View implements backend.Backend. The view is not tracked: once the
// buffer it views is freed, using it is an error the backend cannot catch.
func (be *Backend) View(b backend.Buffer, off, n int) backend.Buffer {
	t := be.buf(b)
	if off < 0 || n < 0 || off+n > t.n {
		panic(fmt.Sprintf("%s: View of elements %d..%d of a buffer of %d", be.Name(), off, off+n, t.n))
	}
	return &Buffer{ptr: t.ptr + uint64(4*off), n: n, owner: be, view: true}
}

// Upload implements backend.Backend.
func (be *Backend) Upload(dst backend.Buffer, src []float32) {
	t := be.buf(dst)
	if len(src) > t.n {
		panic(fmt.Sprintf("%s: Upload of %d elements into a buffer of %d", be.Name(), len(src), t.n))
	}
	if len(src) == 0 {
		return
	}
	defer be.op()()
	be.dev.upload(t.ptr, unsafe.Pointer(unsafe.SliceData(src)), 4*len(src))
}

// Download implements backend.Backend.
func (be *Backend) Download(dst []float32, src backend.Buffer) {
	t := be.buf(src)
	if len(dst) > t.n {
		panic(fmt.Sprintf("%s: Download of %d elements from a buffer of %d", be.Name(), len(dst), t.n))
	}
	if len(dst) == 0 {
		return
	}
	defer be.op()()
	be.dev.download(unsafe.Pointer(unsafe.SliceData(dst)), t.ptr, 4*len(dst))
}

// buf unwraps a buffer of this backend.
func (be *Backend) buf(b backend.Buffer) *Buffer {
	t, ok := b.(*Buffer)
	if !ok {
		panic(fmt.Sprintf("%s: buffer of type %T does not belong to the GPU backend", be.Name(), b))
	}
	if t.owner != be || t.ptr == 0 {
		panic(fmt.Sprintf("%s: buffer was freed or belongs to another backend", be.Name()))
	}
	return t
}

// ptr is the device address of b (checked), for a kernel argument.
func (be *Backend) ptr(b backend.Buffer) uint64 { return be.buf(b).ptr }

// needLen panics unless b holds at least n elements: a kernel would
// otherwise run past its end.
func (be *Backend) needLen(op string, b backend.Buffer, n int) uint64 {
	t := be.buf(b)
	if t.n < n {
		panic(fmt.Sprintf("%s: %s: buffer of %d elements, needs %d", be.Name(), op, t.n, n))
	}
	return t.ptr
}

// uploadInts copies int32 host data into r and returns its address.
func (be *Backend) uploadInts(r *raw, v []int32) uint64 {
	p := be.need(r, 4*max(len(v), 1))
	if len(v) > 0 {
		be.dev.upload(p, unsafe.Pointer(unsafe.SliceData(v)), 4*len(v))
	}
	return p
}

// ---------------------------------------------------------------- launches

// Kernel arguments travel as 64-bit words; 4-byte values in the low half
// (cuLaunchKernel reads each parameter's size from its slot).
func i32(v int) uint64 {
	if v != int(int32(v)) {
		panic(fmt.Sprintf("gpu: %d does not fit a 32-bit kernel argument", v))
	}
	return uint64(uint32(int32(v)))
}
func i64(v int) uint64     { return uint64(int64(v)) }
func f32(v float32) uint64 { return uint64(math.Float32bits(v)) }
func u32(v uint32) uint64  { return uint64(v) }
func u64(v uint64) uint64  { return v }
func flag(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}
func ceilDiv(a, b int) int       { return (a + b - 1) / b }
func roundUp(a, b int) int       { return ceilDiv(a, b) * b }
func clampInt(v, lo, hi int) int { return max(lo, min(v, hi)) }

// threads is the block size of the one-dimensional launches.
const threads = 256

// gridFor returns the block count of a grid-stride launch over n items:
// enough blocks to fill the device, no more than the items need.
func (be *Backend) gridFor(n int) int {
	return clampInt(ceilDiv(n, threads), 1, 32*be.dev.multiprocessors())
}

func (be *Backend) launch(k kernel, grid, block dim3, smem int, args ...uint64) {
	be.dev.launch(k, grid, block, smem, args)
	if be.debugSync {
		be.dev.synchronize()
	}
}

// launch1 is a grid-stride launch over n items.
func (be *Backend) launch1(k kernel, n int, args ...uint64) {
	if n <= 0 {
		return
	}
	be.launch(k, d1(be.gridFor(n)), d1(threads), 0, args...)
}

// gemmRM runs a row-major (strided-batched) GEMM C = alpha·op(A)·op(B) +
// beta·C with row strides lda, ldb, ldc, by the column-major identity
// Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS sees the row-major C as its column-major Cᵀ
// (n×m, leading dimension ldc), B as op-B's transpose, A likewise.
func (be *Backend) gemmRM(transA, transB bool, m, n, k int, alpha float32, a uint64, lda int, sa int64,
	b uint64, ldb int, sb int64, beta float32, c uint64, ldc int, sc int64, batch int) {
	if m == 0 || n == 0 || batch == 0 {
		return
	}
	// cuBLAS wants every leading dimension at least 1 (k may be 0).
	lda, ldb, ldc = max(lda, 1), max(ldb, 1), max(ldc, 1)
	be.dev.gemm(&gemmCM{
		transA: transB, transB: transA,
		m: n, n: m, k: k,
		alpha: alpha, beta: beta,
		a: b, lda: ldb, strideA: sb,
		b: a, ldb: lda, strideB: sa,
		c: c, ldc: ldc, strideC: sc,
		batch: batch,
	})
	if be.debugSync {
		be.dev.synchronize()
	}
}

// MatMul implements backend.Backend.
func (be *Backend) MatMul(c, a, b backend.Buffer, m, n, k int, transA, transB bool, alpha, beta float32) {
	defer be.op()()
	pc := be.needLen("MatMul C", c, m*n)
	pa := be.needLen("MatMul A", a, m*k)
	pb := be.needLen("MatMul B", b, k*n)
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	be.gemmRM(transA, transB, m, n, k, alpha, pa, lda, 0, pb, ldb, 0, beta, pc, n, 0, 1)
}
