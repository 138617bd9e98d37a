//go:build kernelhost && !cuda

package gpu

// The arithmetic of kernels/*.cuh, compiled by the host C++ compiler,
// against the Go implementations: Philox bit for bit against
// internal/philox; AdamW, mixout, dropout and the LayerNorm row math bit for
// bit against internal/cpu (the PTX is built with --fmad=false and the
// helpers follow the Go operation order); the activations against float64
// formulas. And the bookkeeping: every kernel file is compiled into the
// emulation, every kernel the Go side names exists.

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/philox"
)

func TestPhiloxBlockBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := [][6]uint32{
		{0, 0, 0, 0, 0, 0},
		{^uint32(0), ^uint32(0), ^uint32(0), ^uint32(0), ^uint32(0), ^uint32(0)},
		{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0}, // Random123 known-answer input
	}
	for range 200000 {
		cases = append(cases, [6]uint32{rng.Uint32(), rng.Uint32(), rng.Uint32(), rng.Uint32(), rng.Uint32(), rng.Uint32()})
	}
	for _, c := range cases {
		ctr, key := [4]uint32{c[0], c[1], c[2], c[3]}, [2]uint32{c[4], c[5]}
		if got, want := emuPhiloxBlock(ctr, key), philox.Block(ctr, key); got != want {
			t.Fatalf("Block(%08x, %08x) = %08x, Go gives %08x", ctr, key, got, want)
		}
	}
	// Random123's published answer for philox4x32_10 on the pi digits.
	got := emuPhiloxBlock([4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0})
	if want := [4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}; got != want {
		t.Fatalf("known answer: got %08x, want %08x", got, want)
	}
}

func TestPhiloxStreamBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		s := philox.Stream{Seed: rng.Uint64(), Step: rng.Uint64(), ID: rng.Uint32()}
		starts := []uint64{0, rng.Uint64N(1 << 20), philox.MaxIndex - 64}
		for _, st := range starts {
			want := make([]uint32, 37)
			s.Fill(want, st)
			for j, w := range want {
				if got := emuPhiloxStreamWord(s.Seed, s.Step, s.ID, st+uint64(j)); got != w {
					t.Fatalf("stream %+v element %d: %08x, Go gives %08x", s, st+uint64(j), got, w)
				}
			}
		}
	}
	// Keep at the float32 edges of p.
	words := []uint32{0, 1, 0xff, 0x100, 0x7fffffff, 0x80000000, 0xffffff00, ^uint32(0)}
	for range 10000 {
		words = append(words, rng.Uint32())
	}
	ps := []float32{0, 1e-9, 0.1, 0.5, 0.7, 0.9, 1 - 1.0/(1<<24), 1, float32(math.NaN()), -1}
	for _, w := range words {
		for _, p := range ps {
			if got, want := emuPhiloxKeep(w, p), philox.Keep(w, p); got != want {
				t.Fatalf("keep(%08x, %g) = %v, Go gives %v", w, p, got, want)
			}
		}
		// p exactly at the word's uniform value: kept (>=).
		u := philox.Uniform(w)
		if !emuPhiloxKeep(w, u) || emuPhiloxKeep(w, math.Nextafter32(u, 2)) {
			t.Fatalf("keep(%08x) at its own uniform %g is not the >= boundary", w, u)
		}
	}
}

// actRef64 is the float64 activation and derivative (the conformance
// suite's formulas).
func actRef64(x float64, act backend.Activation) (y, dy float64) {
	switch act {
	case backend.GeluErf:
		cdf := 0.5 * math.Erfc(-x/math.Sqrt2)
		return x * cdf, cdf + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
	case backend.GeluTanh:
		c, a := math.Sqrt(2/math.Pi), 0.044715
		th := math.Tanh(c * (x + a*x*x*x))
		return 0.5 * x * (1 + th), 0.5*(1+th) + 0.5*x*(1-th*th)*c*(1+3*a*x*x)
	default:
		if x > 0 {
			return x, 1
		}
		return 0, 0
	}
}

func TestActivations(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	xs := []float32{0, -0, 1e-30, -1e-30, 1e-3, -1e-3, 0.5, -0.5, 1, -1, 3, -3, 5, -5, 8, -8, 10, -10, 20, -20, 40, -40, 88, -88, 1e4, -1e4}
	for range 100000 {
		xs = append(xs, float32(rng.NormFloat64()*4))
	}
	for _, act := range []backend.Activation{backend.GeluErf, backend.GeluTanh, backend.ReLU} {
		var worstY, worstD float64
		for _, x := range xs {
			y, dy := actRef64(float64(x), act)
			gy, gd := float64(emuActivate(x, int(act))), float64(emuActivateGrad(x, int(act)))
			// float32 rounding plus a few ulp of expf/erfcf: relative 1e-6
			// where the value is not tiny, absolute 1e-7 near 0.
			ey := math.Abs(gy-y) / (1e-6*math.Abs(y) + 1e-7)
			ed := math.Abs(gd-dy) / (2e-6*math.Abs(dy) + 1e-7)
			if !(math.Abs(gy-y) <= 1e-6*math.Abs(y)+1e-7) {
				t.Fatalf("act %d at %g: %g, want %.9g", act, x, gy, y)
			}
			if !(math.Abs(gd-dy) <= 2e-6*math.Abs(dy)+1e-7) {
				t.Fatalf("act %d derivative at %g: %g, want %.9g", act, x, gd, dy)
			}
			worstY, worstD = max(worstY, ey), max(worstD, ed)
			// And against the CPU backend's value (its own float32 scheme).
			if c := float64(cpu.Activate(x, act)); !(math.Abs(gy-c) <= 2e-6*math.Abs(c)+2e-7) {
				t.Fatalf("act %d at %g: kernel %g, CPU backend %g", act, x, gy, c)
			}
		}
		t.Logf("act %d: worst error as a share of the tolerance: value %.2g, derivative %.2g", act, worstY, worstD)
	}
}

// TestLayerNormRowMath runs the CPU backend's LayerNorm and
// LayerNormBackward and rebuilds each output element from the kernels'
// helpers with the same row statistics: they must agree bit for bit.
func TestLayerNormRowMath(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	c := cpu.New(1)
	for _, cols := range []int{1, 2, 7, 64, 768, 1030} {
		rows := 5
		x, g, b, dy := make([]float32, rows*cols), make([]float32, cols), make([]float32, cols), make([]float32, rows*cols)
		for i := range x {
			x[i] = float32(rng.NormFloat64()*2 + 3)
			dy[i] = float32(rng.NormFloat64())
		}
		for j := range g {
			g[j], b[j] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		const eps = 1e-12
		up := func(v []float32) backend.Buffer { t := c.Alloc(len(v)); c.Upload(t, v); return t }
		out, mean, rstd := c.Alloc(rows*cols), c.Alloc(rows), c.Alloc(rows)
		xb, gb := up(x), up(g)
		c.LayerNorm(out, mean, rstd, xb, gb, up(b), rows, cols, eps)
		dx, dg, db := c.Alloc(rows*cols), c.Alloc(cols), c.Alloc(cols)
		c.LayerNormBackward(dx, dg, db, up(dy), xb, mean, rstd, gb, rows, cols)
		gotOut, gotMean, gotRstd, gotDx := make([]float32, rows*cols), make([]float32, rows), make([]float32, rows), make([]float32, rows*cols)
		c.Download(gotOut, out)
		c.Download(gotMean, mean)
		c.Download(gotRstd, rstd)
		c.Download(gotDx, dx)
		for i := 0; i < rows; i++ {
			row := x[i*cols : (i+1)*cols]
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
			r := emuLNRstd(ss, cols, eps)
			if float32(mu) != gotMean[i] || float32(r) != gotRstd[i] {
				t.Fatalf("cols %d row %d: mean/rstd %g/%g, CPU %g/%g", cols, i, float32(mu), float32(r), gotMean[i], gotRstd[i])
			}
			for j, v := range row {
				if y := emuLNOut(v, mu, r, g[j], b[j]); y != gotOut[i*cols+j] {
					t.Fatalf("cols %d [%d,%d]: ln_out %g, CPU %g", cols, i, j, y, gotOut[i*cols+j])
				}
			}
			m64, r64 := float64(gotMean[i]), float64(gotRstd[i])
			var sg, sgx float64
			for j, v := range row {
				xhat := (float64(v) - m64) * r64
				gj := float64(dy[i*cols+j]) * float64(g[j])
				sg += gj
				sgx += gj * xhat
			}
			for j, v := range row {
				if d := emuLNGradDx(v, dy[i*cols+j], g[j], m64, r64, sg, sgx, cols); d != gotDx[i*cols+j] {
					t.Fatalf("cols %d [%d,%d]: ln_grad_dx %g, CPU %g", cols, i, j, d, gotDx[i*cols+j])
				}
			}
		}
	}
}

func TestAdamWElementBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	c := cpu.New(1)
	const n = 4099
	randv := func(scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * scale)
			if i%7 == 3 {
				v[i] *= 1e-4
			}
		}
		return v
	}
	for _, wd := range []float64{0, 0.01} {
		for _, withTarget := range []bool{false, true} {
			for _, bc := range []bool{false, true} {
				p, m, v := randv(1), randv(0.1), randv(0.01)
				for i := range v {
					v[i] = float32(math.Abs(float64(v[i])))
				}
				var target []float32
				var tb backend.Buffer
				if withTarget {
					target = randv(1)
					tb = c.Alloc(n)
					c.Upload(tb, target)
				}
				pb, mb, vb, gb := c.Alloc(n), c.Alloc(n), c.Alloc(n), c.Alloc(n)
				c.Upload(pb, p)
				c.Upload(mb, m)
				c.Upload(vb, v)
				for step := 1; step <= 3; step++ {
					g := randv(1)
					c.Upload(gb, g)
					h := backend.AdamWParams{LR: 2e-5 * float64(step), Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: wd,
						Step: step, BiasCorrection: bc, GradScale: 0.37}
					c.AdamW(pb, gb, mb, vb, tb, n, h)
					bc1, bc2 := 1.0, 1.0
					if bc {
						bc1, bc2 = 1-math.Pow(h.Beta1, float64(step)), 1-math.Pow(h.Beta2, float64(step))
					}
					s := [10]float32{float32(1 - h.LR*h.WeightDecay), float32(h.LR * h.WeightDecay), float32(h.Beta1), float32(h.Beta2),
						float32(1 - h.Beta1), float32(1 - h.Beta2), float32(h.LR / bc1), float32(math.Sqrt(bc2)), float32(h.Eps), h.GradScale}
					emuAdamW(p, g, m, v, target, s, wd != 0)
					gp, gm, gv := make([]float32, n), make([]float32, n), make([]float32, n)
					c.Download(gp, pb)
					c.Download(gm, mb)
					c.Download(gv, vb)
					for i := 0; i < n; i++ {
						if p[i] != gp[i] || m[i] != gm[i] || v[i] != gv[i] {
							t.Fatalf("wd %g target %v bc %v step %d element %d: kernel p,m,v = %g,%g,%g; CPU %g,%g,%g",
								wd, withTarget, bc, step, i, p[i], m[i], v[i], gp[i], gm[i], gv[i])
						}
					}
				}
			}
		}
	}
}

func TestMixoutAndDropoutElementsBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	c := cpu.New(1)
	const rows, cols = 13, 37
	for _, p := range []float32{0, 0.1, 0.7, 0.9} {
		w, u, gmix, g0 := make([]float32, rows*cols), make([]float32, rows*cols), make([]float32, rows*cols), make([]float32, rows*cols)
		for i := range w {
			w[i], u[i], gmix[i], g0[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		mask := make([]float32, cols)
		s := philox.Stream{Seed: rng.Uint64(), Step: rng.Uint64(), ID: 5}
		s.KeepMask(mask, 0, p)
		up := func(v []float32) backend.Buffer { t := c.Alloc(len(v)); c.Upload(t, v); return t }
		out := c.Alloc(rows * cols)
		c.Mixout(out, up(w), up(u), up(mask), rows, cols, p, false)
		gb := up(g0)
		scale := 1 / (1 - p)
		c.MixoutBackward(gb, up(gmix), up(mask), rows, cols, scale, false)
		got, gotG := make([]float32, rows*cols), make([]float32, rows*cols)
		c.Download(got, out)
		c.Download(gotG, gb)
		inv := 1 / (1 - p)
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				k := i*cols + j
				if y := emuMixoutMix(w[k], u[k], mask[j], inv); y != got[k] {
					t.Fatalf("p %g mix [%d,%d]: %g, CPU %g", p, i, j, y, got[k])
				}
				if y := emuMixoutGrad(g0[k], gmix[k], mask[j], scale); y != gotG[k] {
					t.Fatalf("p %g grad [%d,%d]: %g, CPU %g", p, i, j, y, gotG[k])
				}
			}
		}
		// Dropout: element i of the stream decides element i.
		const n = 1001
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		db := c.Alloc(n)
		c.Dropout(db, up(x), n, p, s)
		gotD := make([]float32, n)
		c.Download(gotD, db)
		for i := range x {
			keep := emuPhiloxKeep(emuPhiloxStreamWord(s.Seed, s.Step, s.ID, uint64(i)), p)
			if y := emuDropoutApply(x[i], keep, 1/(1-p)); y != gotD[i] {
				t.Fatalf("p %g dropout element %d: %g, CPU %g", p, i, y, gotD[i])
			}
		}
	}
}

// TestKernelInventory: every kernels/*.cu is compiled into the emulation,
// every KERNEL it defines is registered and named on the Go side, and every
// kernel the Go side names exists.
func TestKernelInventory(t *testing.T) {
	files, err := filepath.Glob("../../kernels/*.cu")
	if err != nil || len(files) == 0 {
		t.Fatalf("no kernels/*.cu found: %v", err)
	}
	unity, err := os.ReadFile("emu_kernelhost.cc")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, n := range kernelNames {
		named[n] = true
		if !emuHasKernel(n) {
			t.Errorf("kernel %s is named in kernels.go but not compiled into the emulation", n)
		}
	}
	def := regexp.MustCompile(`(?m)^KERNEL void (\w+)\(`)
	reg := regexp.MustCompile(`(?m)^REGISTER_KERNEL\((\w+)\)`)
	for _, f := range files {
		if !strings.Contains(string(unity), `#include "`+filepath.Base(f)+`"`) {
			t.Errorf("%s is not included in emu_kernelhost.cc", filepath.Base(f))
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		regs := map[string]bool{}
		for _, m := range reg.FindAllStringSubmatch(string(src), -1) {
			regs[m[1]] = true
		}
		for _, m := range def.FindAllStringSubmatch(string(src), -1) {
			if !regs[m[1]] {
				t.Errorf("%s: kernel %s has no REGISTER_KERNEL line", filepath.Base(f), m[1])
			}
			if !named[m[1]] {
				t.Errorf("%s: kernel %s is missing from kernelNames", filepath.Base(f), m[1])
			}
		}
	}
}
