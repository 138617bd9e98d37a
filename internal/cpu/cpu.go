// Package cpu is the pure-Go backend: the default build, what users without a
// GPU run, and the reference implementation every other backend is tested
// against. It uses no cgo.
package cpu

import (
	"fmt"
	"math"
	"runtime"
	"sync"

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
}

// New returns a CPU backend that runs its ops on up to workers goroutines;
// workers <= 0 means runtime.GOMAXPROCS(0).
func New(workers int) *Backend {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Backend{workers: workers}
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

// parallel runs fn over [0, n) split into contiguous chunks, one per worker.
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
	var wg sync.WaitGroup
	chunk := (n + w - 1) / w
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// AddBias implements backend.Backend.
func (be *Backend) AddBias(x, bias backend.Buffer, rows, cols int) {
	xd, bd := data(x).Data[:rows*cols], data(bias).Data[:cols]
	for i := 0; i < rows; i++ {
		row := xd[i*cols : (i+1)*cols]
		for j, b := range bd {
			row[j] += b
		}
	}
}

// Add implements backend.Backend.
func (*Backend) Add(out, a, b backend.Buffer, n int) {
	o, x, y := data(out).Data[:n], data(a).Data[:n], data(b).Data[:n]
	for i := range o {
		o[i] = x[i] + y[i]
	}
}

// Activate implements backend.Backend.
func (be *Backend) Activate(out, x backend.Buffer, n int, act backend.Activation) {
	o, xd := data(out).Data[:n], data(x).Data[:n]
	be.parallel(n, func(lo, hi int) {
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
func (*Backend) Tanh(out, x backend.Buffer, n int) {
	o, xd := data(out).Data[:n], data(x).Data[:n]
	for i, v := range xd {
		o[i] = float32(math.Tanh(float64(v)))
	}
}

// LayerNorm implements backend.Backend. Statistics are accumulated in float64.
func (be *Backend) LayerNorm(out, mean, rstd, x, gamma, beta backend.Buffer, rows, cols int, eps float32) {
	o, xd := data(out).Data[:rows*cols], data(x).Data[:rows*cols]
	md, rd := data(mean).Data[:rows], data(rstd).Data[:rows]
	g, b := data(gamma).Data[:cols], data(beta).Data[:cols]
	be.parallel(rows, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := xd[i*cols : (i+1)*cols]
			var s float64
			for _, v := range row {
				s += float64(v)
			}
			mu := s / float64(cols)
			var ss float64
			for _, v := range row {
				d := float64(v) - mu
				ss += d * d
			}
			r := 1 / math.Sqrt(ss/float64(cols)+float64(eps))
			md[i], rd[i] = float32(mu), float32(r)
			orow := o[i*cols : (i+1)*cols]
			for j, v := range row {
				orow[j] = float32((float64(v)-mu)*r)*g[j] + b[j]
			}
		}
	})
}

// Embed implements backend.Backend.
func (be *Backend) Embed(out, word, pos, typ backend.Buffer, ids, types []int32, batch, seq, hidden int) {
	o := data(out).Data[:batch*seq*hidden]
	w, p, ty := data(word).Data, data(pos).Data, data(typ).Data
	for t := 0; t < batch*seq; t++ {
		orow := o[t*hidden : (t+1)*hidden]
		wr := w[int(ids[t])*hidden:][:hidden]
		pr := p[(t%seq)*hidden:][:hidden]
		tr := ty[int(types[t])*hidden:][:hidden]
		for j := range orow {
			orow[j] = wr[j] + pr[j] + tr[j]
		}
	}
}

// FirstToken implements backend.Backend.
func (*Backend) FirstToken(out, x backend.Buffer, batch, seq, hidden int) {
	o, xd := data(out).Data, data(x).Data
	for b := 0; b < batch; b++ {
		copy(o[b*hidden:(b+1)*hidden], xd[b*seq*hidden:b*seq*hidden+hidden])
	}
}
