package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

func TestBF16Bits(t *testing.T) {
	nan := math.Float32frombits(0x7fc00001)
	for _, c := range []struct {
		x    float32
		want uint32
	}{
		{0, 0},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3f80},
		{-2, 0xc000},
		// 1 + 2^-8 is halfway between 1 and 1+2^-7: ties to even (1).
		{1 + 1.0/256, 0x3f80},
		// 1 + 3·2^-8 is halfway between 1+2^-7 and 1+2^-6: even is up.
		{1 + 3.0/256, 0x3f82},
		// Just above half rounds up.
		{math.Float32frombits(0x3f808001), 0x3f81},
		// Just below half rounds down.
		{math.Float32frombits(0x3f807fff), 0x3f80},
		{float32(math.Inf(1)), 0x7f80},
		{float32(math.Inf(-1)), 0xff80},
		// The largest float32 rounds to infinity.
		{math.MaxFloat32, 0x7f80},
		// A NaN stays a quiet NaN, whatever its low bits.
		{nan, 0x7fc0},
		{math.Float32frombits(0xff800001), 0xffc0},
	} {
		if got := bf16Bits(c.x); got != c.want {
			t.Errorf("bf16Bits(%g = %#08x) = %#04x, want %#04x", c.x, math.Float32bits(c.x), got, c.want)
		}
	}
	// Rounding is to nearest: the error is at most half a unit in the
	// last place of an 8-bit significand, 2^-8 relative.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		x := float32(rng.NormFloat64() * math.Exp(rng.NormFloat64()*8))
		r := RoundBF16(x)
		if d := math.Abs(float64(r) - float64(x)); d > math.Abs(float64(x))/256 {
			t.Fatalf("RoundBF16(%g) = %g: error %g over 2^-8 relative", x, r, d)
		}
	}
}

// refGemmBF16 is C = alpha·op(Ã)·op(B̃) + beta·C in float64 with Ã, B̃ the
// inputs rounded to bf16, and the bound of a float32-accumulating GEMM
// on them: each element's error is at most (k + 2⌈k/kc⌉ + 2)·2^-24 ·
// (|alpha|·Σ|ã||b̃| + |beta·c|) (one rounding per product-sum, since a
// product of two bf16 values is exact in float32, two per k block where the
// partial sums meet C, and the scalings).
func refGemmBF16(transA, transB bool, m, n, k, kc int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, bound []float64) {
	want, bound = make([]float64, m*n), make([]float64, m*n)
	gamma := float64(k+2*((k+kc-1)/kc)+2) * 0x1p-24
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				x := float64(RoundBF16(av)) * float64(RoundBF16(bv))
				s += x
				sa += math.Abs(x)
			}
			v, mag := float64(alpha)*s, math.Abs(float64(alpha))*sa
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
				mag += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			want[i*n+j], bound[i*n+j] = v, gamma*mag+1e-30
		}
	}
	return want, bound
}

// checkGemmBF16 runs one strided bf16 GEMM on be and holds it to
// refGemmBF16's bound; the padding around C must stay untouched.
func checkGemmBF16(t *testing.T, be *Backend, rng *rand.Rand, transA, transB bool, m, n, k, pad int, alpha, beta float32) {
	t.Helper()
	lda, ldb, ldc := k+pad, n+pad, n+pad
	rowsA, rowsB := m, k
	if transA {
		lda, rowsA = m+pad, k
	}
	if transB {
		ldb, rowsB = k+pad, n
	}
	a, b := randMat(rng, rowsA*lda), randMat(rng, rowsB*ldb)
	c := randMat(rng, (m+1)*ldc)
	if beta == 0 {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	orig := append([]float32(nil), c...)
	want, bound := refGemmBF16(transA, transB, m, n, k, be.bkern.kc, alpha, a, lda, b, ldb, beta, c, ldc)
	be.gemmBF16(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	for i := 0; i < m+1; i++ {
		for j := 0; j < ldc; j++ {
			got := c[i*ldc+j]
			if i >= m || j >= n {
				if math.Float32bits(got) != math.Float32bits(orig[i*ldc+j]) {
					t.Fatalf("C[%d][%d] outside the %d×%d result changed: %g -> %g", i, j, m, n, orig[i*ldc+j], got)
				}
				continue
			}
			if d := math.Abs(float64(got) - want[i*n+j]); !(d <= bound[i*n+j]) {
				t.Fatalf("C[%d][%d] = %g, want %g ± %.3g (error %.3g)", i, j, got, want[i*n+j], bound[i*n+j], d)
			}
		}
	}
}

// bf16KernelBackends returns a backend with workers for each bf16 kernel
// this CPU runs; each kernel it cannot run is a subtest that skips, saying
// why.
func bf16KernelBackends(t *testing.T, workers int) map[string]*Backend {
	names, missing := BF16Kernels()
	for _, why := range missing {
		name, reason, _ := strings.Cut(why, ": ")
		t.Run(name, func(t *testing.T) { t.Skipf("this machine cannot run %s: %s", name, reason) })
	}
	bes := map[string]*Backend{}
	for _, name := range names {
		be := New(workers)
		be.SetPrecision(BF16)
		if err := be.SetBF16Kernel(name); err != nil {
			t.Fatal(err)
		}
		bes[name] = be
	}
	return bes
}

func TestGemmBF16Kernels(t *testing.T) {
	shapes := [][3]int{{1, 1, 1}, {1, 1, 2}, {3, 5, 7}, {12, 32, 2}, {13, 33, 3}, {24, 64, 64}, {37, 70, 257}, {33, 31, 513}, {100, 130, 96}, {530, 45, 9}, {25, 600, 31}}
	for name, be := range bf16KernelBackends(t, 1) {
		rng := rand.New(rand.NewPCG(7, 11))
		for _, s := range shapes {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-1.5, 0.25}} {
					t.Run(fmt.Sprintf("%s/%dx%dx%d/tA=%v,tB=%v/a=%g,b=%g", name, s[0], s[1], s[2], tr[0], tr[1], ab[0], ab[1]), func(t *testing.T) {
						checkGemmBF16(t, be, rng, tr[0], tr[1], s[0], s[1], s[2], 3, ab[0], ab[1])
					})
				}
			}
		}
	}
}

// TestGemmBF16Parallel covers the two parallel schedules (C taller than
// wide: B shared; wider: A shared) with k over several blocks.
func TestGemmBF16Parallel(t *testing.T) {
	for name, be := range bf16KernelBackends(t, 3) {
		rng := rand.New(rand.NewPCG(8, 12))
		for _, s := range [][3]int{{300, 70, 600}, {70, 300, 600}, {256, 256, 256}, {97, 1100, 130}} {
			for _, tr := range [][2]bool{{false, false}, {true, true}, {false, true}} {
				t.Run(fmt.Sprintf("%s/%dx%dx%d/tA=%v,tB=%v", name, s[0], s[1], s[2], tr[0], tr[1]), func(t *testing.T) {
					checkGemmBF16(t, be, rng, tr[0], tr[1], s[0], s[1], s[2], 1, 1, 0.5)
				})
			}
		}
	}
}

// TestGemmBF16Contract: against the float64 product of the unrounded
// inputs the bf16 GEMM's error per element is at most (2^-7 + 2^-16 + γ)·
// Σ|a||b| (each input rounded by at most u = 2^-8 relative, so a product by
// 2u + u²; γ the float32 sums' bound above), and it is visibly larger than fp32's: the rounding
// is really there.
func TestGemmBF16Contract(t *testing.T) {
	const m, n, k = 64, 96, 384
	rng := rand.New(rand.NewPCG(5, 6))
	a, b := randMat(rng, m*k), randMat(rng, k*n)
	be := New(1)
	be.SetPrecision(BF16)
	c := make([]float32, m*n)
	be.gemmBF16(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	gamma := 0x1p-7 + 0x1p-16 + float64(k+4)*0x1p-24
	var num, den float64
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				x := float64(a[i*k+p]) * float64(b[p*n+j])
				s += x
				sa += math.Abs(x)
			}
			d := float64(c[i*n+j]) - s
			if math.Abs(d) > gamma*sa {
				t.Fatalf("C[%d][%d] = %g, want %g ± %.3g", i, j, c[i*n+j], s, gamma*sa)
			}
			num += d * d
			den += s * s
		}
	}
	// With random signs the rounding errors add like a random walk: the
	// relative error is about u·√(2/3) ≈ 3e-3 (each input's relative
	// error has a standard deviation near u/√3); fp32's is below 1e-6.
	if rel := math.Sqrt(num / den); rel < 5e-4 || rel > 1e-2 {
		t.Fatalf("relative error %.2e: want about 3e-3 for bf16 inputs", rel)
	}
}

// BenchmarkGemmPrecision times fp32 and bf16 MatMul side by side on the
// BERT-base step's shapes (4096 tokens) and on 1024³.
func BenchmarkGemmPrecision(b *testing.B) {
	for _, sh := range [][3]int{{1024, 1024, 1024}, {4096, 2304, 768}, {4096, 768, 3072}, {4096, 3072, 768}} {
		for _, prec := range []Precision{FP32, BF16} {
			be := New(0)
			be.SetPrecision(prec)
			m, n, k := sh[0], sh[1], sh[2]
			rng := rand.New(rand.NewPCG(1, 1))
			a, bb, c := be.Alloc(m*k), be.Alloc(k*n), be.Alloc(m*n)
			be.Upload(a, randMat(rng, m*k))
			be.Upload(bb, randMat(rng, k*n))
			b.Run(fmt.Sprintf("%s/%dx%dx%d", be.GEMMKernel(), m, n, k), func(b *testing.B) {
				for b.Loop() {
					be.MatMul(c, a, bb, m, n, k, false, true, 1, 0)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestBF16PackConversions: the vectorized conversions (where the CPU has
// them) give bf16Bits' words bit for bit on normal numbers, ties, infinities,
// NaNs and overflow, at every length and alignment; subnormals, which the
// hardware flushes to zero, land within 2^-126 of bf16Bits'.
func TestBF16PackConversions(t *testing.T) {
	if bf16RowBulk(make([]uint32, 16), make([]float32, 32)) == 0 {
		t.Log("SKIP vectorized conversions: the CPU has no AVX512-BF16 (the Go loops run alone)")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	special := []float32{0, 1 + 1.0/256, 1 + 3.0/256, math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.NaN()),
		math.Float32frombits(0x3f808000), math.Float32frombits(0x3f818000), math.Float32frombits(0x7f7f8000)}
	src := make([]float32, 300)
	for i := range src {
		if i%7 == 0 {
			src[i] = special[rng.IntN(len(special))]
		} else {
			src[i] = float32(rng.NormFloat64() * math.Exp(rng.NormFloat64()*10))
		}
	}
	// Each half equal, or both NaNs (a NaN may come back with another
	// payload; it must stay a NaN).
	same := func(got, want uint32) bool {
		isNaN := func(h uint32) bool { return h&0x7f80 == 0x7f80 && h&0x7f != 0 }
		for _, sh := range []int{0, 16} {
			g, w := got>>sh&0xffff, want>>sh&0xffff
			if g != w && !(isNaN(g) && isNaN(w)) {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 100; n++ {
		for _, off := range []int{0, 1, 5} {
			s := src[off : off+n]
			got := make([]uint32, (n+1)/2+1)
			bf16Row(got, s)
			for i := 0; i < (n+1)/2; i++ {
				var want uint32
				if 2*i+1 < n {
					want = bf16Pair(s[2*i], s[2*i+1])
				} else {
					want = bf16Bits(s[2*i])
				}
				if !same(got[i], want) {
					t.Fatalf("bf16Row n %d offset %d: word %d = %#08x, want %#08x (%g, %g)", n, off, i, got[i], want, s[2*i], s[min(2*i+1, n-1)])
				}
			}
			r1 := src[off+100 : off+100+n]
			got = make([]uint32, n)
			bf16PairsPanels(got, max(n, 1), n, s, r1, 3)
			for j := range got {
				if want := bf16Pair(s[j], r1[j]); !same(got[j], want) {
					t.Fatalf("bf16PairsPanels, one panel, n %d offset %d: word %d = %#08x, want %#08x", n, off, j, got[j], want)
				}
			}
		}
	}
	// bf16Transpose (rows into a k-pair-major panel) and bf16PairsPanels
	// (rows cut into panels), at every length against the words above;
	// neither writes a word outside its own.
	wide := make([]float32, 40000)
	for i := range wide {
		wide[i] = src[rng.IntN(len(src))]
	}
	const sentinel = 0xdeadbeef
	for _, n := range []int{0, 1, 31, 32, 33, 64, 95, 255, 256, 1100} {
		for _, g := range [][2]int{{1, 1}, {1, 3}, {5, 12}, {12, 12}, {11, 12}, {16, 32}, {17, 32}, {32, 32}, {3, 16}} {
			rows, stride := g[0], g[1]
			lda := n + 7
			s := wide[1 : 1+(rows-1)*lda+n]
			words := (n + 1) / 2
			got := make([]uint32, words*stride+stride)
			for i := range got {
				got[i] = sentinel
			}
			bf16Transpose(got, stride, s, lda, rows, n)
			for i, w := range got {
				p, r := i/stride, i%stride
				if p >= words || r >= rows {
					if w != sentinel {
						t.Fatalf("bf16Transpose n %d rows %d stride %d wrote word %d (pair %d, row %d)", n, rows, stride, i, p, r)
					}
					continue
				}
				row := s[r*lda:][:n]
				want := bf16Bits(row[2*p])
				if 2*p+1 < n {
					want = bf16Pair(row[2*p], row[2*p+1])
				}
				if !same(w, want) {
					t.Fatalf("bf16Transpose n %d rows %d stride %d: pair %d row %d = %#08x, want %#08x", n, rows, stride, p, r, w, want)
				}
			}
		}
		for _, rows := range []int{1, 5, 16, 17, 32} {
			// bf16PairsRows: n rows of k, each lda = rows+3 long, into
			// rows rows of pairs, stride words apart.
			pairs, lda := n/2, rows+3
			stride := pairs + 3
			s := wide[2 : 2+max(0, 2*pairs*lda)]
			got := make([]uint32, rows*stride)
			for i := range got {
				got[i] = sentinel
			}
			bf16PairsRows(got, stride, s, lda, rows, pairs)
			for i, w := range got {
				r, p := i/stride, i%stride
				if p >= pairs {
					if w != sentinel {
						t.Fatalf("bf16PairsRows n %d rows %d wrote word %d (row %d, pair %d)", n, rows, i, r, p)
					}
					continue
				}
				if want := bf16Pair(s[2*p*lda+r], s[(2*p+1)*lda+r]); !same(w, want) {
					t.Fatalf("bf16PairsRows n %d rows %d: row %d pair %d = %#08x, want %#08x", n, rows, r, p, w, want)
				}
			}
		}
		for _, width := range []int{1, 4, 12, 16, 20, 32, 48} {
			const pad = 5
			r0, r1 := wide[:n], wide[1200:1200+n]
			pstride := width + pad
			got := make([]uint32, (n+width-1)/width*pstride)
			bf16PairsPanels(got, width, pstride, r0, r1, 2)
			for j := 0; j < n; j++ {
				w := got[(j/width)*pstride+j%width]
				if want := bf16Pair(r0[j], r1[j]); !same(w, want) {
					t.Fatalf("bf16PairsPanels n %d width %d: word %d = %#08x, want %#08x", n, width, j, w, want)
				}
			}
			for i := range got {
				if i%pstride >= width && got[i] != 0 {
					t.Fatalf("bf16PairsPanels n %d width %d wrote word %d between panels", n, width, i)
				}
			}
		}
	}
	sub := make([]float32, 32)
	for i := range sub {
		sub[i] = math.Float32frombits(uint32(1 + rng.IntN(0x7fffff)))
	}
	got := make([]uint32, 16)
	bf16Row(got, sub)
	for i, w := range got {
		if d := math.Abs(float64(bf16Lo(w)) - float64(sub[2*i])); d > 0x1p-126 {
			t.Fatalf("subnormal %g became %g", sub[2*i], bf16Lo(w))
		}
	}
}

// goAMXTile is the AMX kernel's arithmetic in Go: the same row-by-row A
// panel (word r*kp + p), B panel and 32×32 tile, summing each k-pair as
// TDPBF16PS does. It lets the AMX kernel's packing and blocking (rowsA, k
// pairs padded to 16) run through the whole driver on any machine.
func goAMXTile(kp int, a, b *uint32, c *float32, ldc int, alpha, beta float32) {
	const mr, nr = 32, 32
	ap := unsafe.Slice(a, mr*kp)
	bp := unsafe.Slice(b, kp*nr)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	for r := 0; r < mr; r++ {
		for j := 0; j < nr; j++ {
			var acc float32
			for p := 0; p < kp; p++ {
				aw, bw := ap[r*kp+p], bp[p*nr+j]
				acc += bf16Hi(aw) * bf16Hi(bw)
				acc += bf16Lo(aw) * bf16Lo(bw)
			}
			if beta == 0 {
				cs[r*ldc+j] = alpha * acc
			} else {
				cs[r*ldc+j] = alpha*acc + beta*cs[r*ldc+j]
			}
		}
	}
}

// TestGemmBF16RowsLayout runs the AMX kernel's layout (rowsA, kAlign 16,
// 32×32 tiles) through the serial and parallel drivers with goAMXTile in
// place of the tile instructions.
func TestGemmBF16RowsLayout(t *testing.T) {
	kern := bf16Kernel{name: "go amx layout 32x32", mr: 32, nr: 32, kc: 96, mc: 64, nc: 128, kAlign: 16, rowsA: true, fn: goAMXTile}
	for _, workers := range []int{1, 3} {
		be := New(workers)
		be.SetPrecision(BF16)
		be.bkern = &kern
		rng := rand.New(rand.NewPCG(9, 10))
		for _, s := range [][3]int{{1, 1, 1}, {33, 31, 17}, {70, 40, 200}, {40, 300, 97}, {300, 80, 130}} {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				t.Run(fmt.Sprintf("w%d/%dx%dx%d/tA=%v,tB=%v", workers, s[0], s[1], s[2], tr[0], tr[1]), func(t *testing.T) {
					checkGemmBF16(t, be, rng, tr[0], tr[1], s[0], s[1], s[2], 2, 1, 0.5)
				})
			}
		}
	}
}

// TestGemmBF16NoAllocs: once its scratch exists the bf16 GEMM on one worker
// allocates nothing (rows are packed through a stack buffer).
func TestGemmBF16NoAllocs(t *testing.T) {
	be := New(1)
	be.SetPrecision(BF16)
	const m, n, k = 40, 70, 300
	a, b, c := be.Alloc(m*k), be.Alloc(k*n), be.Alloc(m*n)
	be.MatMul(c, a, b, m, n, k, false, true, 1, 0)
	if allocs := testing.AllocsPerRun(10, func() { be.MatMul(c, a, b, m, n, k, false, true, 1, 0) }); allocs != 0 {
		t.Fatalf("serial bf16 MatMul: %v allocations", allocs)
	}
}
