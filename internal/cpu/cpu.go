// Package cpu is the pure-Go backend: the default build, what users without a
// GPU run, and the reference implementation every other backend is tested
// against. It uses no cgo.
package cpu

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/mixft/mixft/internal/backend"
)

// Tensor is the CPU backend's buffer: a float32 slice in host memory.
type Tensor struct {
	// Data holds the elements.
	Data []float32
}

// Len implements backend.Buffer.
func (t *Tensor) Len() int { return len(t.Data) }

// Backend is the pure-Go CPU backend. Its zero value is not usable; call New.
type Backend struct {
	workers int
	kern    *microKernel
	// prec is the GEMMs' precision; bkern is the bf16 micro-kernel.
	prec  Precision
	bkern *bf16Kernel
	// calib is the calibration whose kernels UseCalibration selected.
	calib Calibration
	// mu guards scratch, the GEMM packing buffers and attention scratch
	// not in use, and sums, rowChunkSums' partial sums, kept across calls.
	mu       sync.Mutex
	scratch  []*gemmScratch
	bscratch []*bf16Scratch
	attn     []*attnScratch
	rotary   []*rotaryScratch
	sums     []float64
	// fullMu guards full, the packed operand a parallel GEMM shares.
	fullMu sync.Mutex
	full   sharedBuf
	bfull  sharedWords
}

// New returns a CPU backend that runs its ops on up to workers goroutines;
// workers <= 0 means runtime.GOMAXPROCS(0).
func New(workers int) *Backend {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	tuneBlocking()
	return &Backend{workers: workers, kern: kernels()[0]}
}

// Kernel names the SGEMM micro-kernel in use ("avx512 8x32", "avx2 6x16",
// "go 4x16").
func (be *Backend) Kernel() string { return be.kern.name }

// Kernels names the SGEMM micro-kernels this CPU can run, best first.
func Kernels() []string {
	var names []string
	for _, k := range kernels() {
		names = append(names, k.name)
	}
	return names
}

// SetKernel selects a micro-kernel by a name from Kernels (for benchmarks
// and tests); the default is the first. It must not run concurrently with
// the backend's ops.
func (be *Backend) SetKernel(name string) error {
	for _, k := range kernels() {
		if k.name == name {
			be.mu.Lock()
			be.kern, be.scratch = k, nil
			be.mu.Unlock()
			return nil
		}
	}
	return fmt.Errorf("cpu: unknown SGEMM kernel %q (this CPU has %v)", name, Kernels())
}

var _ backend.Backend = (*Backend)(nil)

// Name implements backend.Backend.
func (*Backend) Name() string { return "cpu" }

// Alloc implements backend.Backend.
func (*Backend) Alloc(n int) backend.Buffer { return &Tensor{Data: make([]float32, n)} }

// Free implements backend.Backend.
func (*Backend) Free(b backend.Buffer) { data(b).Data = nil }

// Upload implements backend.Backend.
func (*Backend) Upload(dst backend.Buffer, src []float32) { copy(data(dst).Data[:len(src)], src) }

// Download implements backend.Backend.
func (*Backend) Download(dst []float32, src backend.Buffer) { copy(dst, data(src).Data[:len(dst)]) }

// data unwraps a buffer; a buffer of another backend is a programming error.
func data(b backend.Buffer) *Tensor {
	t, ok := b.(*Tensor)
	if !ok {
		panic(fmt.Sprintf("cpu: buffer of type %T does not belong to the CPU backend", b))
	}
	return t
}

// parallel runs fn over [0, n) split into contiguous chunks, about four per
// worker, which the workers take as they free up (so that a core slowed by
// another process gets less of the work). fn must not depend on which
// goroutine runs a chunk, nor on the chunking.
func (be *Backend) parallel(n int, fn func(lo, hi int)) {
	w := be.workers
	if w > n {
		w = n
	}
	if w <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	chunks := min(n, 4*w)
	size := (n + chunks - 1) / chunks
	chunks = (n + size - 1) / size
	var next atomic.Int64
	work := func() {
		for {
			c := int(next.Add(1) - 1)
			if c >= chunks {
				return
			}
			fn(c*size, min((c+1)*size, n))
		}
	}
	var wg sync.WaitGroup
	for range w - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// parallelMin is the element count below which elementwise ops run on one
// goroutine.
const parallelMin = 1 << 15

// parallelElems runs fn over [0, n) like parallel, on one goroutine when n
// is small.
func (be *Backend) parallelElems(n int, fn func(lo, hi int)) {
	if n < parallelMin {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	be.parallel(n, fn)
}

// AddBias implements backend.Backend.
func (be *Backend) AddBias(x, bias backend.Buffer, rows, cols int) {
	xd, bd := data(x).Data[:rows*cols], data(bias).Data[:cols]
	be.parallelElems(rows*cols, func(lo, hi int) {
		for i := lo / cols; i < (hi+cols-1)/cols && i < rows; i++ {
			// Rows are split by element ranges: take the part of row i in [lo, hi).
			j0, j1 := max(lo-i*cols, 0), min(hi-i*cols, cols)
			row := xd[i*cols+j0 : i*cols+j1]
			addF32(row, row, bd[j0:j1])
		}
	})
}

// Add implements backend.Backend.
func (be *Backend) Add(out, a, b backend.Buffer, n int) {
	o, x, y := data(out).Data[:n], data(a).Data[:n], data(b).Data[:n]
	be.parallelElems(n, func(lo, hi int) {
		oo, yy := o[lo:hi], y[lo:hi]
		for i, v := range x[lo:hi] {
			oo[i] = v + yy[i]
		}
	})
}

// Activate implements backend.Backend.
func (be *Backend) Activate(out, x backend.Buffer, n int, act backend.Activation) {
	o, xd := data(out).Data[:n], data(x).Data[:n]
	be.parallel(n, func(lo, hi int) {
		if act == backend.GeluErf {
			geluSlice(o[lo:hi], xd[lo:hi])
			return
		}
		for i := lo; i < hi; i++ {
			o[i] = Activate(xd[i], act)
		}
	})
}

// Activate returns act(x) computed in float64 and rounded once.
func Activate(x float32, act backend.Activation) float32 {
	v := float64(x)
	switch act {
	case backend.GeluErf:
		return float32(v * 0.5 * (1 + math.Erf(v/math.Sqrt2)))
	case backend.GeluTanh:
		return float32(0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
	case backend.ReLU:
		return max(x, 0)
	}
	panic(fmt.Sprintf("cpu: unknown activation %d", act))
}

// Tanh implements backend.Backend.
func (be *Backend) Tanh(out, x backend.Buffer, n int) {
	o, xd := data(out).Data[:n], data(x).Data[:n]
	be.parallelElems(n, func(lo, hi int) {
		for i, v := range xd[lo:hi] {
			o[lo+i] = float32(math.Tanh(float64(v)))
		}
	})
}

// LayerNorm implements backend.Backend. Statistics are accumulated in float64.
func (be *Backend) LayerNorm(out, mean, rstd, x, gamma, beta backend.Buffer, rows, cols int, eps float32) {
	o, xd := data(out).Data[:rows*cols], data(x).Data[:rows*cols]
	md, rd := data(mean).Data[:rows], data(rstd).Data[:rows]
	g, b := data(gamma).Data[:cols], data(beta).Data[:cols]
	be.parallel(rows, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			md[i], rd[i] = layerNormRow(o[i*cols:(i+1)*cols], xd[i*cols:(i+1)*cols], g, b, eps)
		}
	})
}

// sum64 is the float64 sum of x, in four partial sums (j mod 4) added
// pairwise at the end: four independent chains of adds instead of one.
func sum64(x []float32) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		q := x[j : j+4 : j+4]
		s0 += float64(q[0])
		s1 += float64(q[1])
		s2 += float64(q[2])
		s3 += float64(q[3])
	}
	for ; j < len(x); j++ {
		s0 += float64(x[j])
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSquares64 is Σ (x[j] − mu)² in float64, in sum64's four partial sums.
func sumSquares64(x []float32, mu float64) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		q := x[j : j+4 : j+4]
		d0, d1, d2, d3 := float64(q[0])-mu, float64(q[1])-mu, float64(q[2])-mu, float64(q[3])-mu
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; j < len(x); j++ {
		d := float64(x[j]) - mu
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// layerNormRow writes the LayerNorm of row into orow and returns the row's
// mean and 1/sqrt(var+eps), the statistics computed in float64 (the
// variance in a second pass).
func layerNormRow(orow, row, g, b []float32, eps float32) (mean, rstd float32) {
	mu := sum64(row) / float64(len(row))
	ss := sumSquares64(row, mu)
	r := 1 / math.Sqrt(ss/float64(len(row))+float64(eps))
	orow = orow[:len(row)]
	for j, v := range row {
		orow[j] = float32((float64(v)-mu)*r)*g[j] + b[j]
	}
	return float32(mu), float32(r)
}

// Embed implements backend.Backend.
func (be *Backend) Embed(out, word, pos, typ backend.Buffer, ids, positions, types []int32, batch, seq, hidden int) {
	o := data(out).Data[:batch*seq*hidden]
	w, p := data(word).Data, data(pos).Data
	if typ == nil {
		be.parallel(batch*seq, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				orow := o[t*hidden : (t+1)*hidden]
				wr := w[int(ids[t])*hidden:][:hidden]
				pr := p[int(positions[t])*hidden:][:hidden]
				for j := range orow {
					orow[j] = wr[j] + pr[j]
				}
			}
		})
		return
	}
	ty := data(typ).Data
	be.parallel(batch*seq, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			orow := o[t*hidden : (t+1)*hidden]
			wr := w[int(ids[t])*hidden:][:hidden]
			pr := p[int(positions[t])*hidden:][:hidden]
			tr := ty[int(types[t])*hidden:][:hidden]
			for j := range orow {
				orow[j] = wr[j] + pr[j] + tr[j]
			}
		}
	})
}

// FirstToken implements backend.Backend.
func (*Backend) FirstToken(out, x backend.Buffer, batch, seq, hidden int) {
	o, xd := data(out).Data, data(x).Data
	for b := 0; b < batch; b++ {
		copy(o[b*hidden:(b+1)*hidden], xd[b*seq*hidden:b*seq*hidden+hidden])
	}
}

// addF32 writes dst[j] = a[j] + b[j] for j < len(dst); dst may be a or b.
// addF32Bulk does what it can vectorized.
func addF32(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for j := addF32Bulk(dst, a, b); j < len(dst); j++ {
		dst[j] = a[j] + b[j]
	}
}

// accF64 adds src to dst in float64: dst[j] += float64(src[j]) for j <
// len(src). accF64Bulk does what it can vectorized.
func accF64(dst []float64, src []float32) {
	dst = dst[:len(src)]
	for j := accF64Bulk(dst, src); j < len(src); j++ {
		dst[j] += float64(src[j])
	}
}
