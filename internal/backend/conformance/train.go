package conformance

// Conformance tests of the training ops: masks, mixout, every backward op,
// the losses, the reductions and AdamW. Each reference below is written out
// in float64 from the op's definition in package backend (and from
// package philox for the masks); none calls into a backend implementation.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// trainSeeds are the PCG seeds each training-op test repeats with; the
// second PCG word is a per-test constant.
var trainSeeds = []uint64{101, 202, 303}

// checkTol compares got with want: |got - want| <= abs + rel*|want|.
func checkTol(t *testing.T, what string, got []float32, want []float64, abs, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i := range got {
		d := math.Abs(float64(got[i]) - want[i])
		if !(d <= abs+rel*math.Abs(want[i])) {
			t.Fatalf("%s: element %d = %g, want %g (diff %.3g)", what, i, got[i], want[i], d)
		}
	}
}

// checkScalar compares a float64 result with its reference.
func checkScalar(t *testing.T, what string, got, want, abs, rel float64) {
	t.Helper()
	if d := math.Abs(got - want); !(d <= abs+rel*math.Abs(want)) {
		t.Fatalf("%s = %.10g, want %.10g (diff %.3g)", what, got, want, d)
	}
}

// checkFloat64s compares two float64 vectors (reference against finite
// differences).
func checkFloat64s(t *testing.T, what string, got, want []float64, abs, rel float64) {
	t.Helper()
	for i := range got {
		if d := math.Abs(got[i] - want[i]); !(d <= abs+rel*math.Abs(want[i])) {
			t.Fatalf("%s: element %d = %.10g, want %.10g (diff %.3g)", what, i, got[i], want[i], d)
		}
	}
}

// nanUp allocates n elements filled with NaN, so that an op that must
// overwrite its output and instead reads or skips an element is caught.
func nanUp(be backend.Backend, n int) backend.Buffer {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return up(be, v)
}

// f64 widens a float32 slice.
func f64(v []float32) []float64 {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	return w
}

// randStream returns a stream with every word of seed and step random, so
// that the high halves of both matter.
func randStream(rng *rand.Rand, id uint32) philox.Stream {
	return philox.Stream{Seed: rng.Uint64(), Step: rng.Uint64(), ID: id}
}

// refKeep is the mask of the spec: element i of s survives p.
func refKeep(s philox.Stream, i int, p float32) bool {
	return philox.Keep(s.Uint32(uint64(i)), p)
}

// ---------------------------------------------------------------- masks

func testDropout(t *testing.T, be backend.Backend) {
	const pad = 3 // elements past n that must stay untouched
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xd0))
		// 2*4096+3 crosses the chunking of a parallel mask generator.
		for _, n := range append(append([]int(nil), Sizes...), 2*4096+3) {
			for _, p := range []float32{0, 0.1, 0.5, 0.9} {
				s := randStream(rng, philox.DropoutID(rng.IntN(1<<20)))
				what := fmt.Sprintf("n %d p %g", n, p)
				x := randn(rng, n, 1)
				want, want2 := make([]float64, n), make([]float64, n)
				for i := range x {
					if refKeep(s, i, p) {
						want[i] = float64(x[i]) / (1 - float64(p))
						want2[i] = want[i] / (1 - float64(p))
					}
				}
				// Out of place, into a longer buffer whose tail must survive.
				out := nanUp(be, n+pad)
				be.Dropout(out, up(be, x), n, p, s)
				got := down(be, out, n+pad)
				check(t, what, got[:n], want)
				for i := range want {
					if want[i] == 0 && got[i] != 0 {
						t.Fatalf("%s: dropped element %d = %g, want exactly 0", what, i, got[i])
					}
					if p == 0 && got[i] != x[i] {
						t.Fatalf("%s: p=0 must copy: element %d = %g, want %g", what, i, got[i], x[i])
					}
				}
				for i := n; i < n+pad; i++ {
					if !math.IsNaN(float64(got[i])) {
						t.Fatalf("%s: wrote element %d past n", what, i)
					}
				}
				// In place, twice with the same stream: its own backward mask.
				xb := up(be, x)
				be.Dropout(xb, xb, n, p, s)
				check(t, what+" in place", down(be, xb, n), want)
				be.Dropout(xb, xb, n, p, s)
				check(t, what+" twice", down(be, xb, n), want2)
			}
		}
		// Every part of the stream's identity changes the mask; the same
		// stream gives the same mask.
		const n, p = 257, 0.5
		ones := make([]float32, n)
		for i := range ones {
			ones[i] = 1
		}
		mask := func(s philox.Stream) []float32 {
			out := be.Alloc(n)
			be.Dropout(out, up(be, ones), n, p, s)
			return down(be, out, n)
		}
		base := randStream(rng, philox.DropoutID(7))
		m0 := mask(base)
		if m1 := mask(base); fmt.Sprint(m1) != fmt.Sprint(m0) {
			t.Fatalf("same stream gave different masks")
		}
		variants := map[string]philox.Stream{}
		for name, f := range map[string]func(*philox.Stream){
			"seed low":  func(s *philox.Stream) { s.Seed ^= 1 },
			"seed high": func(s *philox.Stream) { s.Seed ^= 1 << 40 },
			"step low":  func(s *philox.Stream) { s.Step ^= 1 },
			"step high": func(s *philox.Stream) { s.Step ^= 1 << 33 },
			"id":        func(s *philox.Stream) { s.ID = philox.DropoutID(8) },
		} {
			s := base
			f(&s)
			variants[name] = s
		}
		for name, s := range variants {
			if fmt.Sprint(mask(s)) == fmt.Sprint(m0) {
				t.Fatalf("changing the stream's %s left the dropout mask unchanged", name)
			}
		}
	}
}

func testKeepMask(t *testing.T, be backend.Backend) {
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xd1))
		for _, n := range append(append([]int(nil), Sizes...), 2*4096+3) {
			for _, p := range []float32{0, 0.1, 0.5, 0.9, 1} {
				s := randStream(rng, philox.ParamID(rng.IntN(1000)))
				mb := nanUp(be, n+1)
				be.KeepMask(mb, n, p, s)
				got := down(be, mb, n+1)
				for i := 0; i < n; i++ {
					want := float32(0)
					if refKeep(s, i, p) {
						want = 1
					}
					if got[i] != want {
						t.Fatalf("n %d p %g: mask[%d] = %g, want %g", n, p, i, got[i], want)
					}
				}
				if !math.IsNaN(float64(got[n])) {
					t.Fatalf("n %d p %g: wrote element past n", n, p)
				}
			}
		}
	}
}

// ---------------------------------------------------------------- mixout

// mixoutMask draws a mixout mask (0/1) of n elements from the spec.
func mixoutMask(s philox.Stream, n int, p float32) []float32 {
	m := make([]float32, n)
	for i := range m {
		if refKeep(s, i, p) {
			m[i] = 1
		}
	}
	return m
}

func testMixout(t *testing.T, be backend.Backend) {
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xd2))
		for _, rows := range Sizes {
			for _, cols := range Sizes {
				for _, perElement := range []bool{false, true} {
					for _, p := range []float32{0, 0.1, 0.7} {
						what := fmt.Sprintf("%dx%d perElement %v p %g", rows, cols, perElement, p)
						w, u := randn(rng, rows*cols, 1), randn(rng, rows*cols, 1)
						nm := cols
						if perElement {
							nm = rows * cols
						}
						mask := mixoutMask(randStream(rng, philox.ParamID(rng.IntN(1000))), nm, p)
						want := make([]float64, rows*cols)
						for i := 0; i < rows; i++ {
							for j := 0; j < cols; j++ {
								k := i*cols + j
								m := float64(mask[j])
								if perElement {
									m = float64(mask[k])
								}
								want[k] = float64(u[k]) + m*(float64(w[k])-float64(u[k]))/(1-float64(p))
							}
						}
						out := nanUp(be, rows*cols)
						be.Mixout(out, up(be, w), up(be, u), up(be, mask), rows, cols, p, perElement)
						check(t, what, down(be, out, rows*cols), want)
						if p == 0 {
							// Mask all ones: W~ is W (up to rounding of U + (W - U)).
							for i := range mask {
								mask[i] = 1
							}
							be.Mixout(out, up(be, w), up(be, u), up(be, mask), rows, cols, p, perElement)
							check(t, what+" ones", down(be, out, rows*cols), f64(w))
						}
					}
				}
			}
		}
	}
}

func testMixoutBackward(t *testing.T, be backend.Backend) {
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xd3))
		for _, rows := range Sizes {
			for _, cols := range Sizes {
				for _, perElement := range []bool{false, true} {
					const p = 0.3
					for _, scale := range []float32{1, 1 / (1 - p)} {
						what := fmt.Sprintf("%dx%d perElement %v scale %g", rows, cols, perElement, scale)
						gw, gmix := randn(rng, rows*cols, 1), randn(rng, rows*cols, 1)
						nm := cols
						if perElement {
							nm = rows * cols
						}
						mask := mixoutMask(randStream(rng, philox.ParamID(rng.IntN(1000))), nm, p)
						want := make([]float64, rows*cols)
						for i := 0; i < rows; i++ {
							for j := 0; j < cols; j++ {
								k := i*cols + j
								m := float64(mask[j])
								if perElement {
									m = float64(mask[k])
								}
								want[k] = float64(gw[k]) + float64(gmix[k])*m*float64(scale)
							}
						}
						gb := up(be, gw) // non-zero: the op accumulates
						be.MixoutBackward(gb, up(be, gmix), up(be, mask), rows, cols, scale, perElement)
						check(t, what, down(be, gb, rows*cols), want)
					}
				}
			}
		}
	}
}

// ---------------------------------------------------------------- LayerNorm

// lnForward64 is LayerNorm in float64: out = (x - mean)/sqrt(var + eps)*g + b.
func lnForward64(x, g, b []float64, rows, cols int, eps float64) []float64 {
	out := make([]float64, rows*cols)
	for i := 0; i < rows; i++ {
		row := x[i*cols : (i+1)*cols]
		var s float64
		for _, v := range row {
			s += v
		}
		mu := s / float64(cols)
		var ss float64
		for _, v := range row {
			ss += (v - mu) * (v - mu)
		}
		r := 1 / math.Sqrt(ss/float64(cols)+eps)
		for j, v := range row {
			out[i*cols+j] = (v-mu)*r*g[j] + b[j]
		}
	}
	return out
}

// lnBackward64 is the analytic backward of lnForward64: dx, and dgamma and
// dbeta summed over the rows (without any initial value).
func lnBackward64(dy, x, g []float64, rows, cols int, eps float64) (dx, dg, db []float64) {
	dx, dg, db = make([]float64, rows*cols), make([]float64, cols), make([]float64, cols)
	n := float64(cols)
	for i := 0; i < rows; i++ {
		row, dyr := x[i*cols:(i+1)*cols], dy[i*cols:(i+1)*cols]
		var s float64
		for _, v := range row {
			s += v
		}
		mu := s / n
		var ss float64
		for _, v := range row {
			ss += (v - mu) * (v - mu)
		}
		r := 1 / math.Sqrt(ss/n+eps)
		xhat := make([]float64, cols)
		var mg, mgx float64 // means of g*dy and g*dy*xhat
		for j, v := range row {
			xhat[j] = (v - mu) * r
			mg += g[j] * dyr[j] / n
			mgx += g[j] * dyr[j] * xhat[j] / n
			dg[j] += dyr[j] * xhat[j]
			db[j] += dyr[j]
		}
		for j := range row {
			dx[i*cols+j] = r * (g[j]*dyr[j] - mg - xhat[j]*mgx)
		}
	}
	return dx, dg, db
}

// lnLoss is Σ dy ⊙ LayerNorm(x; g, b), whose gradient is LayerNormBackward.
func lnLoss(dy, x, g, b []float64, rows, cols int, eps float64) float64 {
	var l float64
	for i, y := range lnForward64(x, g, b, rows, cols, eps) {
		l += dy[i] * y
	}
	return l
}

// numGrad returns the central finite-difference gradient of f with respect
// to v (perturbed in place and restored).
func numGrad(v []float64, h float64, f func() float64) []float64 {
	gr := make([]float64, len(v))
	for i := range v {
		old := v[i]
		v[i] = old + h
		lp := f()
		v[i] = old - h
		lm := f()
		v[i] = old
		gr[i] = (lp - lm) / (2 * h)
	}
	return gr
}

// lnBackendBackward runs the backend's LayerNorm (for its stored mean and
// rstd) and then LayerNormBackward with dgamma/dbeta starting at dg0/db0.
func lnBackendBackward(be backend.Backend, x, g, b, dy, dg0, db0 []float32, rows, cols int, eps float32) (dx, dg, db []float32) {
	xb, gb := up(be, x), up(be, g)
	out, mean, rstd := be.Alloc(rows*cols), be.Alloc(rows), be.Alloc(rows)
	be.LayerNorm(out, mean, rstd, xb, gb, up(be, b), rows, cols, eps)
	dxb, dgb, dbb := nanUp(be, rows*cols), up(be, dg0), up(be, db0)
	be.LayerNormBackward(dxb, dgb, dbb, up(be, dy), xb, mean, rstd, gb, rows, cols)
	return down(be, dxb, rows*cols), down(be, dgb, cols), down(be, dbb, cols)
}

func testLayerNormBackward(t *testing.T, be backend.Backend) {
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xd4))
		for _, rows := range Sizes {
			for _, cols := range Sizes {
				const eps = 1e-12
				x := randn(rng, rows*cols, 2)
				for i := range x {
					x[i] += 3 // as in the forward test
				}
				g, b, dy := randn(rng, cols, 1), randn(rng, cols, 1), randn(rng, rows*cols, 1)
				dg0, db0 := randn(rng, cols, 1), randn(rng, cols, 1)
				dx, dg, db := lnBackward64(f64(dy), f64(x), f64(g), rows, cols, eps)
				for j := range dg {
					dg[j] += float64(dg0[j])
					db[j] += float64(db0[j])
				}
				gdx, gdg, gdb := lnBackendBackward(be, x, g, b, dy, dg0, db0, rows, cols, eps)
				what := fmt.Sprintf("%dx%d", rows, cols)
				check(t, what+" dx", gdx, dx)
				// dgamma and dbeta are sums over the rows.
				sumTol := Abs * math.Sqrt(float64(rows))
				checkTol(t, what+" dgamma", gdg, dg, sumTol, Rel)
				checkTol(t, what+" dbeta", gdb, db, sumTol, Rel)
			}
		}
		// Finite differences of the float64 LayerNorm check the analytic
		// reference, and the backend against them, on small cases.
		for _, sh := range [][2]int{{1, 2}, {2, 5}, {3, 7}} {
			rows, cols := sh[0], sh[1]
			const eps = 1e-5
			x, g, b, dy := randn(rng, rows*cols, 1.5), randn(rng, cols, 1), randn(rng, cols, 1), randn(rng, rows*cols, 1)
			dg0, db0 := randn(rng, cols, 1), randn(rng, cols, 1)
			x64, g64, b64, dy64 := f64(x), f64(g), f64(b), f64(dy)
			loss := func() float64 { return lnLoss(dy64, x64, g64, b64, rows, cols, eps) }
			const h = 1e-5
			ndx, ndg, ndb := numGrad(x64, h, loss), numGrad(g64, h, loss), numGrad(b64, h, loss)
			dx, dg, db := lnBackward64(dy64, x64, g64, rows, cols, eps)
			what := fmt.Sprintf("finite differences %dx%d", rows, cols)
			checkFloat64s(t, what+" reference dx", dx, ndx, 1e-7, 1e-6)
			checkFloat64s(t, what+" reference dgamma", dg, ndg, 1e-7, 1e-6)
			checkFloat64s(t, what+" reference dbeta", db, ndb, 1e-7, 1e-6)
			gdx, gdg, gdb := lnBackendBackward(be, x, g, b, dy, dg0, db0, rows, cols, eps)
			for j := range ndg {
				ndg[j] += float64(dg0[j])
				ndb[j] += float64(db0[j])
			}
			check(t, what+" dx", gdx, ndx)
			check(t, what+" dgamma", gdg, ndg)
			check(t, what+" dbeta", gdb, ndb)
		}
	}
}

// ---------------------------------------------------------------- activations

// actForward64 and actGrad64 are the activations of backend.Activation and
// their derivatives, from their formulas. ReLU's derivative at 0 is 0, as
// torch's threshold_backward.
func actForward64(x float64, act backend.Activation) float64 {
	switch act {
	case backend.GeluErf:
		return x * 0.5 * (1 + math.Erf(x/math.Sqrt2))
	case backend.GeluTanh:
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	default:
		return math.Max(x, 0)
	}
}

func actGrad64(x float64, act backend.Activation) float64 {
	switch act {
	case backend.GeluErf:
		// d/dx x·Φ(x) = Φ(x) + x·φ(x)
		return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
	case backend.GeluTanh:
		// u = c(x + a x³): d/dx ½x(1 + tanh u) = ½(1 + tanh u) + ½x(1 − tanh²u)·c(1 + 3a x²)
		c, a := math.Sqrt(2/math.Pi), 0.044715
		th := math.Tanh(c * (x + a*x*x*x))
		return 0.5*(1+th) + 0.5*x*(1-th*th)*c*(1+3*a*x*x)
	default:
		if x > 0 {
			return 1
		}
		return 0
	}
}

func testActivateBackward(t *testing.T, be backend.Backend) {
	acts := []backend.Activation{backend.GeluErf, backend.GeluTanh, backend.ReLU}
	// The derivative formulas against finite differences of the forward
	// formulas (ReLU away from its kink).
	for _, act := range acts {
		for x := -7.0; x <= 7; x += 0.173 {
			if act == backend.ReLU && math.Abs(x) < 1e-3 {
				continue
			}
			const h = 1e-5
			num := (actForward64(x+h, act) - actForward64(x-h, act)) / (2 * h)
			checkScalar(t, fmt.Sprintf("act %d reference derivative at %g", act, x), actGrad64(x, act), num, 1e-8, 1e-7)
		}
	}
	specials := []float32{0, 1e-3, -1e-3, 0.5, -0.5, 3, -3, 8, -8, 20, -20}
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xd5))
		for _, act := range acts {
			for _, n := range append(append([]int(nil), Sizes...), len(specials)) {
				x, dy := randn(rng, n, 3), randn(rng, n, 1)
				if n == len(specials) {
					copy(x, specials)
				}
				want := make([]float64, n)
				for i := range x {
					want[i] = float64(dy[i]) * actGrad64(float64(x[i]), act)
				}
				dx := nanUp(be, n)
				be.ActivateBackward(dx, up(be, dy), up(be, x), n, act)
				check(t, fmt.Sprintf("act %d n %d", act, n), down(be, dx, n), want)
			}
		}
	}
}

func testTanhBackward(t *testing.T, be backend.Backend) {
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xd6))
		for _, n := range Sizes {
			x, dy := randn(rng, n, 2), randn(rng, n, 1)
			y := make([]float32, n)
			want := make([]float64, n)
			for i := range x {
				y[i] = float32(math.Tanh(float64(x[i])))
				yy := float64(y[i])
				want[i] = float64(dy[i]) * (1 - yy*yy)
			}
			dx := nanUp(be, n)
			be.TanhBackward(dx, up(be, dy), up(be, y), n)
			check(t, fmt.Sprint(n), down(be, dx, n), want)
		}
	}
}

func testBiasGrad(t *testing.T, be backend.Backend) {
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xd7))
		for _, rows := range Sizes {
			for _, cols := range Sizes {
				dy, db0 := randn(rng, rows*cols, 1), randn(rng, cols, 1)
				want := f64(db0) // the op accumulates
				for i := 0; i < rows; i++ {
					for j := 0; j < cols; j++ {
						want[j] += float64(dy[i*cols+j])
					}
				}
				db := up(be, db0)
				be.BiasGrad(db, up(be, dy), rows, cols)
				checkTol(t, fmt.Sprintf("%dx%d", rows, cols), down(be, db, cols), want, Abs*math.Sqrt(float64(rows)), Rel)
			}
		}
	}
}

// ---------------------------------------------------------------- attention

// attnForward64 is Attention in float64 with the dropout multipliers d
// (d[((b*heads+h)*seq+i)*seq+j] is 0 or 1/(1-p); nil: no dropout). It
// returns the probabilities before dropout and ctx. A row whose batch entry
// has no real key attends to every key, as the forward conformance test.
func attnForward64(q, k, v []float64, mask []float32, d []float64, batch, seq, heads, hd int, scale float64) (probs, ctx []float64) {
	hidden := heads * hd
	probs, ctx = make([]float64, batch*heads*seq*seq), make([]float64, batch*seq*hidden)
	s := make([]float64, seq)
	for b := 0; b < batch; b++ {
		real := 0
		for j := 0; j < seq; j++ {
			if mask[b*seq+j] != 0 {
				real++
			}
		}
		for h := 0; h < heads; h++ {
			for i := 0; i < seq; i++ {
				mx := math.Inf(-1)
				for j := 0; j < seq; j++ {
					if real > 0 && mask[b*seq+j] == 0 {
						s[j] = math.Inf(-1)
						continue
					}
					var dot float64
					for x := 0; x < hd; x++ {
						dot += q[(b*seq+i)*hidden+h*hd+x] * k[(b*seq+j)*hidden+h*hd+x]
					}
					s[j] = dot * scale
					mx = math.Max(mx, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for j := range s {
					idx := ((b*heads+h)*seq+i)*seq + j
					p := s[j] / sum
					probs[idx] = p
					if d != nil {
						p *= d[idx]
					}
					for x := 0; x < hd; x++ {
						ctx[(b*seq+i)*hidden+h*hd+x] += p * v[(b*seq+j)*hidden+h*hd+x]
					}
				}
			}
		}
	}
	return probs, ctx
}

// attnBackward64 is the analytic backward of attnForward64 given its probs:
// with P' = P ⊙ D, dV = P'ᵀ dctx, dP = D ⊙ (dctx Vᵀ), dS = P ⊙ (dP − rowsum(P ⊙ dP)),
// dQ = scale dS K, dK = scale dSᵀ Q.
func attnBackward64(dctx, q, k, v, probs, d []float64, batch, seq, heads, hd int, scale float64) (dq, dk, dv []float64) {
	hidden := heads * hd
	n := batch * seq * hidden
	dq, dk, dv = make([]float64, n), make([]float64, n), make([]float64, n)
	dp := make([]float64, seq)
	for b := 0; b < batch; b++ {
		for h := 0; h < heads; h++ {
			col := func(t int) int { return (b*seq+t)*hidden + h*hd }
			for i := 0; i < seq; i++ {
				row := ((b*heads+h)*seq + i) * seq
				var dot float64
				for j := 0; j < seq; j++ {
					dj := 1.0
					if d != nil {
						dj = d[row+j]
					}
					p := probs[row+j]
					var g float64
					for x := 0; x < hd; x++ {
						g += dctx[col(i)+x] * v[col(j)+x]
						dv[col(j)+x] += p * dj * dctx[col(i)+x]
					}
					dp[j] = g * dj
					dot += p * dp[j]
				}
				for j := 0; j < seq; j++ {
					ds := probs[row+j] * (dp[j] - dot) * scale
					for x := 0; x < hd; x++ {
						dq[col(i)+x] += ds * k[col(j)+x]
						dk[col(j)+x] += ds * q[col(i)+x]
					}
				}
			}
		}
	}
	return dq, dk, dv
}

// dropMul returns the dropout multipliers of Attention's mask (nil for p 0).
func dropMul(s philox.Stream, n int, p float32) []float64 {
	if p == 0 {
		return nil
	}
	d := make([]float64, n)
	for i := range d {
		if refKeep(s, i, p) {
			d[i] = 1 / (1 - float64(p))
		}
	}
	return d
}

// attnMask is [batch, seq] key mask: all ones unpadded, else batch entry 0
// unpadded, later entries padded, and entry 2 without any real key.
func attnMask(batch, seq int, padded bool) []float32 {
	mask := make([]float32, batch*seq)
	for b := 0; b < batch; b++ {
		real := seq
		if padded {
			real = seq - b*seq/4
			if b == 2 {
				real = 0
			}
		}
		for j := 0; j < real; j++ {
			mask[b*seq+j] = 1
		}
	}
	return mask
}

func testAttentionBackward(t *testing.T, be backend.Backend) {
	// The analytic reference against finite differences of the float64
	// forward on a tiny case: batch 1, seq 3, heads 2, headDim 2.
	{
		rng := rand.New(rand.NewPCG(1, 0xd8))
		const batch, seq, heads, hd = 1, 3, 2, 2
		n := batch * seq * heads * hd
		for _, mask := range [][]float32{{1, 1, 1}, {1, 1, 0}, {0, 0, 0}} {
			for _, p := range []float32{0, 0.3} {
				d := dropMul(philox.Stream{Seed: 42, Step: 1, ID: philox.DropoutID(3)}, batch*heads*seq*seq, p)
				if p > 0 {
					kept := 0
					for _, x := range d {
						if x != 0 {
							kept++
						}
					}
					if kept == 0 || kept == len(d) {
						t.Fatalf("finite-difference dropout mask keeps %d of %d: pick another stream", kept, len(d))
					}
				}
				q, k, v, dctx := f64(randn(rng, n, 1)), f64(randn(rng, n, 1)), f64(randn(rng, n, 1)), f64(randn(rng, n, 1))
				scale := 1 / math.Sqrt(hd)
				loss := func() float64 {
					_, ctx := attnForward64(q, k, v, mask, d, batch, seq, heads, hd, scale)
					var l float64
					for i := range ctx {
						l += dctx[i] * ctx[i]
					}
					return l
				}
				probs, _ := attnForward64(q, k, v, mask, d, batch, seq, heads, hd, scale)
				dq, dk, dv := attnBackward64(dctx, q, k, v, probs, d, batch, seq, heads, hd, scale)
				what := fmt.Sprintf("finite differences mask %v p %g", mask, p)
				const h = 1e-6
				checkFloat64s(t, what+" dq", dq, numGrad(q, h, loss), 1e-7, 1e-6)
				checkFloat64s(t, what+" dk", dk, numGrad(k, h, loss), 1e-7, 1e-6)
				checkFloat64s(t, what+" dv", dv, numGrad(v, h, loss), 1e-7, 1e-6)
			}
		}
	}
	for si, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xd9))
		for _, seq := range []int{1, 7, 33} {
			for _, hd := range []int{1, 8, 33} {
				// Every seed covers every case for seq <= 7; seq 33 only once.
				if seq == 33 && si > 0 {
					continue
				}
				for _, padded := range []bool{false, true} {
					for _, p := range []float32{0, 0.3} {
						const batch, heads = 3, 2
						hidden := heads * hd
						n := batch * seq * hidden
						q, k, v, dctx := randn(rng, n, 1), randn(rng, n, 1), randn(rng, n, 1), randn(rng, n, 1)
						mask := attnMask(batch, seq, padded)
						drop := randStream(rng, philox.DropoutID(rng.IntN(100)))
						scale := float32(1 / math.Sqrt(float64(hd)))
						d := dropMul(drop, batch*heads*seq*seq, p)
						wantP, wantC := attnForward64(f64(q), f64(k), f64(v), mask, d, batch, seq, heads, hd, float64(scale))
						dq, dk, dv := attnBackward64(f64(dctx), f64(q), f64(k), f64(v), wantP, d, batch, seq, heads, hd, float64(scale))

						tokens := batch * seq
						qkv := up(be, packQKV(q, k, v, tokens, hidden))
						ctx, probs := nanUp(be, n), nanUp(be, len(wantP))
						be.AttentionQKV(ctx, probs, qkv, up(be, mask), batch, seq, heads, hd, scale, p, drop)
						what := fmt.Sprintf("seq %d headDim %d padded %v p %g", seq, hd, padded, p)
						// probs as stored (before dropout), ctx after dropout.
						check(t, what+" probs", down(be, probs, len(wantP)), wantP)
						check(t, what+" ctx", down(be, ctx, n), wantC)
						dqkv := nanUp(be, 3*n)
						be.AttentionQKVBackward(dqkv, up(be, dctx), qkv, probs, batch, seq, heads, hd, scale, p, drop)
						check(t, what+" dqkv", down(be, dqkv, 3*n), packQKV64(dq, dk, dv, tokens, hidden))
					}
				}
			}
		}
	}
}

// ---------------------------------------------------------------- embeddings, first token

func testEmbedBackward(t *testing.T, be backend.Backend) {
	const vocab, ntypes, batch = 10, 2, 3 // a small vocabulary repeats ids
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xda))
		for _, seq := range []int{1, 7, 33} {
			for _, hidden := range []int{1, 7, 33} {
				for _, padID := range []int{-1, 0, 3} {
					withTypes := padID != 0 // one case without token types
					maxPos := seq + 3       // rows no position names must stay untouched
					ids, poss, tys := make([]int32, batch*seq), make([]int32, batch*seq), make([]int32, batch*seq)
					for i := range ids {
						ids[i], tys[i] = int32(rng.IntN(vocab)), int32(rng.IntN(ntypes))
						poss[i] = int32(i % seq)
						if padID == 3 {
							poss[i] = int32(rng.IntN(seq)) // repeated, unordered positions
						}
					}
					ids[0] = 0 // id 0 present, so padID 0 and -1 differ
					if padID >= 0 {
						ids[len(ids)-1] = int32(padID)
					}
					dy := randn(rng, batch*seq*hidden, 1)
					w0, p0, t0 := randn(rng, vocab*hidden, 1), randn(rng, maxPos*hidden, 1), randn(rng, ntypes*hidden, 1)
					ww, wp, wt := f64(w0), f64(p0), f64(t0)
					for tk := 0; tk < batch*seq; tk++ {
						for j := 0; j < hidden; j++ {
							g := float64(dy[tk*hidden+j])
							wp[int(poss[tk])*hidden+j] += g
							if withTypes {
								wt[int(tys[tk])*hidden+j] += g
							}
							if padID < 0 || int(ids[tk]) != padID {
								ww[int(ids[tk])*hidden+j] += g
							}
						}
					}
					dw, dp, dt := up(be, w0), up(be, p0), up(be, t0)
					var dtArg backend.Buffer
					if withTypes {
						dtArg = dt
					}
					be.EmbedBackward(dw, dp, dtArg, up(be, dy), ids, poss, tys, batch, seq, hidden, padID)
					what := fmt.Sprintf("seq %d hidden %d padID %d types %v", seq, hidden, padID, withTypes)
					tol := Abs * math.Sqrt(float64(batch*seq))
					gw := down(be, dw, len(w0))
					checkTol(t, what+" dword", gw, ww, tol, Rel)
					checkTol(t, what+" dpos", down(be, dp, len(p0)), wp, tol, Rel)
					checkTol(t, what+" dtyp", down(be, dt, len(t0)), wt, tol, Rel)
					if padID >= 0 {
						for j := 0; j < hidden; j++ {
							if k := padID*hidden + j; gw[k] != w0[k] {
								t.Fatalf("%s: padding row of dword changed: %g, want %g", what, gw[k], w0[k])
							}
						}
					}
				}
			}
		}
	}
}

func testFirstTokenBackward(t *testing.T, be backend.Backend) {
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xdb))
		for _, batch := range []int{1, 3} {
			for _, seq := range []int{1, 7, 33} {
				for _, hidden := range []int{1, 7, 33} {
					dcls := randn(rng, batch*hidden, 1)
					dx := nanUp(be, batch*seq*hidden)
					be.FirstTokenBackward(dx, up(be, dcls), batch, seq, hidden)
					got := down(be, dx, batch*seq*hidden)
					for b := 0; b < batch; b++ {
						for s := 0; s < seq; s++ {
							for j := 0; j < hidden; j++ {
								want := float32(0)
								if s == 0 {
									want = dcls[b*hidden+j]
								}
								if k := (b*seq+s)*hidden + j; got[k] != want {
									t.Fatalf("batch %d seq %d hidden %d: dx[%d] = %g, want exactly %g", batch, seq, hidden, k, got[k], want)
								}
							}
						}
					}
				}
			}
		}
	}
}

// ---------------------------------------------------------------- losses

func testCrossEntropy(t *testing.T, be backend.Backend) {
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xdc))
		for _, batch := range []int{1, 7, 33} {
			for _, classes := range []int{1, 2, 7, 33} {
				for _, std := range []float64{1, 30} { // 30: needs a stable log-sum-exp
					for _, gs := range []float32{1, 0.25} {
						logits := randn(rng, batch*classes, std)
						labels := make([]int32, batch)
						for i := range labels {
							labels[i] = int32(rng.IntN(classes))
						}
						var loss float64
						want := make([]float64, batch*classes)
						for b := 0; b < batch; b++ {
							row := f64(logits[b*classes : (b+1)*classes])
							mx := math.Inf(-1)
							for _, v := range row {
								mx = math.Max(mx, v)
							}
							var sum float64
							for _, v := range row {
								sum += math.Exp(v - mx)
							}
							lse := mx + math.Log(sum)
							loss += lse - row[labels[b]]
							for j, v := range row {
								p := math.Exp(v - lse)
								if j == int(labels[b]) {
									p -= 1
								}
								want[b*classes+j] = p * float64(gs) / float64(batch)
							}
						}
						loss /= float64(batch)
						dl := nanUp(be, batch*classes)
						got := be.CrossEntropy(dl, up(be, logits), labels, batch, classes, gs)
						what := fmt.Sprintf("batch %d classes %d std %g gradScale %g", batch, classes, std, gs)
						checkScalar(t, what+" loss", got, loss, Abs, Rel)
						checkTol(t, what+" dlogits", down(be, dl, batch*classes), want, 1e-6*float64(gs)/float64(batch), Rel)
					}
				}
			}
		}
	}
}

func testMSE(t *testing.T, be backend.Backend) {
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xdd))
		for _, batch := range Sizes {
			for _, gs := range []float32{1, 0.5} {
				logits, targets := randn(rng, batch, 2), randn(rng, batch, 2)
				var loss float64
				want := make([]float64, batch)
				for b := range want {
					d := float64(logits[b]) - float64(targets[b])
					loss += d * d
					want[b] = 2 * d * float64(gs) / float64(batch)
				}
				loss /= float64(batch)
				dl := nanUp(be, batch)
				got := be.MSE(dl, up(be, logits), targets, batch, gs)
				what := fmt.Sprintf("batch %d gradScale %g", batch, gs)
				checkScalar(t, what+" loss", got, loss, Abs, Rel)
				checkTol(t, what+" dlogits", down(be, dl, batch), want, 1e-6*float64(gs)/float64(batch), Rel)
			}
		}
	}
}

// ---------------------------------------------------------------- Zero, Scale, SumSquares

func testZero(t *testing.T, be backend.Backend) {
	const pad = 5
	rng := rand.New(rand.NewPCG(trainSeeds[0], 0xde))
	for _, n := range Sizes {
		x := randn(rng, n+pad, 1)
		xb := up(be, x)
		be.Zero(xb, n)
		got := down(be, xb, n+pad)
		for i := range got {
			want := x[i]
			if i < n {
				want = 0
			}
			if got[i] != want {
				t.Fatalf("n %d: element %d = %g, want %g", n, i, got[i], want)
			}
		}
	}
}

func testScale(t *testing.T, be backend.Backend) {
	const pad = 5
	rng := rand.New(rand.NewPCG(trainSeeds[0], 0xdf))
	for _, n := range Sizes {
		for _, s := range []float32{0.5, -3, 0, 1.0 / 3} {
			x := randn(rng, n+pad, 1)
			want := f64(x)
			for i := 0; i < n; i++ {
				want[i] *= float64(s)
			}
			xb := up(be, x)
			be.Scale(xb, n, s)
			got := down(be, xb, n+pad)
			what := fmt.Sprintf("n %d s %g", n, s)
			check(t, what, got, want)
			for i := n; i < n+pad; i++ {
				if got[i] != x[i] {
					t.Fatalf("%s: element %d past n changed", what, i)
				}
			}
		}
	}
}

func testSumSquares(t *testing.T, be backend.Backend) {
	const pad = 5
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xe0))
		// 100003 terms of similar size: accumulation in float32 would lose
		// far more than the tolerance.
		for _, n := range append(append([]int(nil), Sizes...), 100003) {
			x := randn(rng, n+pad, 1)
			for i := range x {
				x[i] += 1
			}
			var want float64
			for _, v := range x[:n] {
				want += float64(v) * float64(v)
			}
			got := be.SumSquares(up(be, x), n)
			checkScalar(t, fmt.Sprintf("n %d", n), got, want, 0, 1e-6)
		}
	}
}

// ---------------------------------------------------------------- AdamW

// adamW64 is one torch.optim.AdamW step in float64, with the weight-decay
// anchor target (nil: decay toward zero).
func adamW64(p, g, m, v, target []float64, h backend.AdamWParams) {
	bc1, bc2 := 1.0, 1.0
	if h.BiasCorrection {
		bc1 = 1 - math.Pow(h.Beta1, float64(h.Step))
		bc2 = 1 - math.Pow(h.Beta2, float64(h.Step))
	}
	for i := range p {
		gi := g[i] * float64(h.GradScale)
		if target != nil {
			p[i] -= h.LR * h.WeightDecay * (p[i] - target[i])
		} else {
			p[i] *= 1 - h.LR*h.WeightDecay
		}
		m[i] = h.Beta1*m[i] + (1-h.Beta1)*gi
		v[i] = h.Beta2*v[i] + (1-h.Beta2)*gi*gi
		p[i] -= h.LR / bc1 * m[i] / (math.Sqrt(v[i])/math.Sqrt(bc2) + h.Eps)
	}
}

func testAdamW(t *testing.T, be backend.Backend) {
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xe1))
		for _, n := range append(append([]int(nil), Sizes...), 4099) {
			for _, wd := range []float64{0, 0.1} {
				for _, withTarget := range []bool{false, true} {
					for _, bc := range []bool{false, true} {
						// eps 1e-3 makes where eps enters the denominator visible.
						eps := []float64{1e-8, 1e-3}[rng.IntN(2)]
						gs := []float32{1, 0.125}[rng.IntN(2)]
						p0 := randn(rng, n, 1)
						var tb backend.Buffer
						var target []float64
						if withTarget {
							tv := randn(rng, n, 1)
							target = f64(tv)
							tb = up(be, tv)
						}
						p, m, v := f64(p0), make([]float64, n), make([]float64, n)
						pb, mb, vb := up(be, p0), be.Alloc(n), be.Alloc(n)
						for step := 1; step <= 4; step++ {
							g := randn(rng, n, 1)
							for i := range g {
								if i%3 == 1 {
									g[i] *= 1e-3 // small gradients, where eps matters
								}
							}
							h := backend.AdamWParams{
								LR: 0.05 / float64(step), Beta1: 0.9, Beta2: 0.999, Eps: eps,
								WeightDecay: wd, Step: step, BiasCorrection: bc, GradScale: gs,
							}
							adamW64(p, f64(g), m, v, target, h)
							be.AdamW(pb, up(be, g), mb, vb, tb, n, h)
							what := fmt.Sprintf("n %d wd %g target %v bc %v eps %g gs %g step %d", n, wd, withTarget, bc, eps, gs, step)
							checkTol(t, what+" p", down(be, pb, n), p, 1e-6, 1e-5)
							checkTol(t, what+" m", down(be, mb, n), m, 1e-7, 1e-5)
							checkTol(t, what+" v", down(be, vb, n), v, 1e-12, 1e-5)
						}
					}
				}
			}
		}
	}
}
