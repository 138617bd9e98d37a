package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refGemm is C = alpha·op(A)·op(B) + beta·C in float64 on strided matrices.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
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
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = v
		}
	}
	return out
}

func randMat(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// checkGemm runs one strided GEMM on be and compares it with refGemm; the
// padding around C (ldc > n, extra rows) must stay untouched.
func checkGemm(t *testing.T, be *Backend, rng *rand.Rand, transA, transB bool, m, n, k, pad int, alpha, beta float32) {
	t.Helper()
	lda, ldb, ldc := k+pad, n+pad, n+pad
	if transA {
		lda = m + pad
	}
	if transB {
		ldb = k + pad
	}
	rowsA, rowsB := m, k
	if transA {
		rowsA = k
	}
	if transB {
		rowsB = n
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
	want := refGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	be.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	tol := 1e-5 * math.Sqrt(float64(k)+1) * 4
	for i := 0; i < m+1; i++ {
		for j := 0; j < ldc; j++ {
			got := c[i*ldc+j]
			if i >= m || j >= n {
				if got != orig[i*ldc+j] && !(math.IsNaN(float64(got)) && math.IsNaN(float64(orig[i*ldc+j]))) {
					t.Fatalf("%s %dx%dx%d tA=%v tB=%v: wrote outside C at (%d,%d)", be.Kernel(), m, n, k, transA, transB, i, j)
				}
				continue
			}
			w := want[i*n+j]
			if d := math.Abs(float64(got) - w); !(d <= tol+1e-4*math.Abs(w)) {
				t.Fatalf("%s %dx%dx%d tA=%v tB=%v alpha=%g beta=%g pad=%d: C[%d,%d] = %g, want %g",
					be.Kernel(), m, n, k, transA, transB, alpha, beta, pad, i, j, got, w)
			}
		}
	}
}

// TestGemmSmall covers every shape with m, n, k in 1..70 on a sparse grid
// that still hits every tail of every kernel, all transposes.
func TestGemmSmall(t *testing.T) {
	for _, name := range Kernels() {
		t.Run(name, func(t *testing.T) {
			be := New(1)
			if err := be.SetKernel(name); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, 11))
			sizes := []int{1, 2, 3, 5, 6, 7, 8, 9, 12, 15, 16, 17, 23, 24, 31, 32, 33, 47, 48, 63, 64, 65, 70}
			for _, m := range sizes {
				for _, n := range sizes {
					k := sizes[(m+n)%len(sizes)]
					for tr := 0; tr < 4; tr++ {
						ab := [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}}[(m+n+tr)%3]
						checkGemm(t, be, rng, tr&1 != 0, tr&2 != 0, m, n, k, (m+tr)%3, ab[0], ab[1])
					}
				}
			}
			for k := 1; k <= 70; k++ {
				checkGemm(t, be, rng, k%2 == 0, k%3 == 0, 9, 33, k, 1, 1, 0)
			}
		})
	}
}

// TestGemmLarge covers random shapes past the cache blocks (k > KC, m > MC,
// n > NC) on several workers.
func TestGemmLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, name := range Kernels() {
		for _, workers := range []int{1, 2, 3} {
			be := New(workers)
			if err := be.SetKernel(name); err != nil {
				t.Fatal(err)
			}
			shapes := [][3]int{{397, 2100, 300}, {1000, 67, 530}, {61, 700, 257}, {777, 390, 9}}
			if testing.Short() {
				shapes = shapes[1:]
			}
			for i, sh := range shapes {
				t.Run(fmt.Sprintf("%s/w%d/%v", name, workers, sh), func(t *testing.T) {
					checkGemm(t, be, rng, i%2 == 1, i/2 == 1, sh[0], sh[1], sh[2], 3, 1.5, float32(i%2))
				})
			}
		}
	}
}

// TestGemmZeroK checks k = 0: C = beta·C, zeros for beta 0 whatever C held.
func TestGemmZeroK(t *testing.T) {
	be := New(2)
	c := []float32{float32(math.NaN()), 2, 3, 4}
	be.gemm(false, false, 2, 2, 0, 1, nil, 0, nil, 2, 0, c, 2)
	for i, v := range c {
		if v != 0 {
			t.Fatalf("beta 0, k 0: C[%d] = %g, want 0", i, v)
		}
	}
	c = []float32{1, 2, 3, 4}
	be.gemm(false, false, 2, 2, 0, 1, nil, 0, nil, 2, 0.5, c, 2)
	if c[3] != 2 {
		t.Fatalf("beta 0.5, k 0: C[3] = %g, want 2", c[3])
	}
}

// TestMatMulNoAlloc checks that a warm MatMul allocates nothing on one
// worker (several workers allocate only the goroutines' closures).
func TestMatMulNoAlloc(t *testing.T) {
	be := New(1)
	const m, n, k = 64, 96, 80
	a, b, c := be.Alloc(m*k), be.Alloc(k*n), be.Alloc(m*n)
	be.MatMul(c, a, b, m, n, k, false, true, 1, 0)
	if allocs := testing.AllocsPerRun(10, func() { be.MatMul(c, a, b, m, n, k, false, true, 1, 0) }); allocs != 0 {
		t.Fatalf("MatMul allocates %v times per call", allocs)
	}
}

func BenchmarkSgemm(b *testing.B) {
	for _, sh := range [][3]int{{512, 512, 512}, {1024, 1024, 1024}, {4096, 256, 256}, {4096, 1024, 256}, {4096, 256, 1024}} {
		for _, name := range Kernels()[:1] {
			be := New(0)
			_ = be.SetKernel(name)
			m, n, k := sh[0], sh[1], sh[2]
			a, bb, c := be.Alloc(m*k), be.Alloc(k*n), be.Alloc(m*n)
			b.Run(fmt.Sprintf("%s/%dx%dx%d", name, m, n, k), func(b *testing.B) {
				for b.Loop() {
					be.MatMul(c, a, bb, m, n, k, false, true, 1, 0)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func TestExpf(t *testing.T) {
	worst := 0.0
	for x := -90.0; x < 89; x += 0.000731 {
		got := float64(expf(float32(x)))
		want := math.Exp(float64(float32(x)))
		if want < 1.2e-38 { // denormals: absolute error only
			if math.Abs(got-want) > 1e-44 && got != 0 {
				t.Fatalf("expf(%g) = %g, want %g", x, got, want)
			}
			continue
		}
		if want > math.MaxFloat32 {
			continue
		}
		rel := math.Abs(got-want) / want
		worst = max(worst, rel)
	}
	if worst > 3e-7 {
		t.Fatalf("expf: worst relative error %g", worst)
	}
	if expf(0) != 1 || expf(float32(math.Inf(-1))) != 0 {
		t.Fatal("expf(0) or expf(-Inf) wrong")
	}
}

func TestGeluErf(t *testing.T) {
	var xs []float32
	for x := -12.0; x < 12; x += 0.000917 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, -8, 8, float32(math.Nextafter32(-8, 0)), float32(math.Nextafter32(8, 0)), 0, float32(math.Inf(1)), float32(math.Inf(-1)))
	val, grad, ones := make([]float32, len(xs)), make([]float32, len(xs)), make([]float32, len(xs))
	for i := range ones {
		ones[i] = 1
	}
	geluSlice(val, xs)
	geluGradSlice(grad, ones, xs)
	worstF, worstG := 0.0, 0.0
	for i, xf := range xs {
		v := float64(xf)
		if math.IsInf(v, 0) {
			continue
		}
		want := v * 0.5 * math.Erfc(-v/math.Sqrt2)
		wantG := 0.5*math.Erfc(-v/math.Sqrt2) + v*math.Exp(-0.5*v*v)/math.Sqrt(2*math.Pi)
		// Error relative to max(|value|, 0.1): absolute in the tails and
		// near the derivative's zero at x = -0.75.
		worstF = max(worstF, math.Abs(float64(val[i])-want)/max(math.Abs(want), 0.1))
		worstG = max(worstG, math.Abs(float64(grad[i])-wantG)/max(math.Abs(wantG), 0.1))
	}
	if worstF > 3e-6 || worstG > 1e-5 {
		t.Fatalf("gelu: worst relative error %g (value) %g (derivative)", worstF, worstG)
	}
	t.Logf("gelu worst relative error: value %.3g, derivative %.3g", worstF, worstG)
	geluSlice(val[:2], []float32{float32(math.NaN()), float32(math.Inf(1))})
	if val[0] == val[0] || !math.IsInf(float64(val[1]), 1) {
		t.Fatalf("gelu(NaN), gelu(+Inf) = %g, %g", val[0], val[1])
	}
}
