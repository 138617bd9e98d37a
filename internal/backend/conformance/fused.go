package conformance

// Conformance tests of the fused layer ops and of View. Each fused op is
// checked twice: against a float64 reference written from its definition
// (the unfused ops' float64 references of this package), and against the
// unfused ops of the same backend, whose results it must reproduce bit for
// bit (the bias gradients, float64 sums in another order, within a float32
// rounding), which also shows that its dropout masks are Dropout's.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// fusedShapes are the rows×cols the fused row ops run on: tails, rows not
// starting on a Philox block (cols 7, 33), 33×257 past two 4096-element
// mask chunks, and 65 rows past one 64-row block of the column sums.
var fusedShapes = [][2]int{{1, 7}, {7, 33}, {33, 7}, {33, 257}, {65, 64}}

// same fails unless got and want are equal bit for bit.
func same(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: element %d = %g, the unfused ops give %g", what, i, got[i], want[i])
		}
	}
}

// addBias64 returns x + bias per row, in float64.
func addBias64(x, bias []float32, rows, cols int) []float64 {
	v := make([]float64, rows*cols)
	for i := range v {
		v[i] = float64(x[i]) + float64(bias[i%cols])
	}
	return v
}

func testView(t *testing.T, be backend.Backend) {
	rng := rand.New(rand.NewPCG(41, 0xe0))
	const n, off, m = 100, 37, 41
	x := randn(rng, n, 1)
	b := up(be, x)
	v := be.View(b, off, m)
	if v.Len() != m {
		t.Fatalf("View(b, %d, %d).Len() = %d", off, m, v.Len())
	}
	// Reads through the view see the parent; writes through it land in the parent.
	check(t, "read through a view", down(be, v, m), f64(x[off:off+m]))
	be.Scale(v, m, 2)
	want := f64(x)
	for i := off; i < off+m; i++ {
		want[i] *= 2
	}
	check(t, "write through a view", down(be, b, n), want)
	w := be.View(v, 3, 5)
	be.Upload(w, []float32{1, 2, 3, 4, 5})
	for i := range 5 {
		want[off+3+i] = float64(i + 1)
	}
	check(t, "view of a view", down(be, b, n), want)
}

// testFusedQKVMixout is the fused QKV projection with mixout: three
// weights in views of one [3h, h] buffer, each with its own per-column mask
// from its own parameter stream, W~ written into views of one concatenated
// W~, one GEMM into [tokens, 3h], and the weight gradient as one GEMM read
// back per weight by MixoutBackward through views.
func testFusedQKVMixout(t *testing.T, be backend.Backend) {
	rng := rand.New(rand.NewPCG(42, 0xe1))
	const h, tokens = 33, 7
	const p = float32(0.7)
	hh := h * h
	w, u := randn(rng, 3*hh, 0.1), randn(rng, 3*hh, 0.1)
	x, dy := randn(rng, tokens*h, 1), randn(rng, tokens*3*h, 1)
	g0 := randn(rng, 3*hh, 0.1)
	seed, step := rng.Uint64(), rng.Uint64()
	wb, ub, gb, xb := up(be, w), up(be, u), up(be, g0), up(be, x)
	wmix, gmix := nanUp(be, 3*hh), nanUp(be, 3*hh)
	view := func(b backend.Buffer, part int) backend.Buffer { return be.View(b, part*hh, hh) }
	masks, maskBufs := make([][]float32, 3), make([]backend.Buffer, 3)
	for part := range 3 {
		s := philox.Stream{Seed: seed, Step: step, ID: philox.ParamID(4 + part)}
		masks[part] = mixoutMask(s, h, p)
		maskBufs[part] = nanUp(be, h)
		be.KeepMask(maskBufs[part], h, p, s)
		be.Mixout(view(wmix, part), view(wb, part), view(ub, part), maskBufs[part], h, h, p, false)
	}
	qkv := nanUp(be, tokens*3*h)
	be.MatMul(qkv, xb, wmix, tokens, 3*h, h, false, true, 1, 0)
	be.MatMul(gmix, up(be, dy), xb, 3*h, h, tokens, true, false, 1, 0)
	for part := range 3 {
		be.MixoutBackward(view(gb, part), view(gmix, part), maskBufs[part], h, h, 1/(1-p), false)
	}

	wantMix := make([]float64, 3*hh)
	for k := range wantMix {
		part, j := k/hh, k%h
		wantMix[k] = float64(u[k]) + float64(masks[part][j])*(float64(w[k])-float64(u[k]))/(1-float64(p))
	}
	check(t, "concatenated W~", down(be, wmix, 3*hh), wantMix)
	wantQKV := make([]float64, tokens*3*h)
	for i := 0; i < tokens; i++ {
		for o := 0; o < 3*h; o++ {
			var s float64
			for j := 0; j < h; j++ {
				s += float64(x[i*h+j]) * wantMix[o*h+j]
			}
			wantQKV[i*3*h+o] = s
		}
	}
	check(t, "qkv", down(be, qkv, tokens*3*h), wantQKV)
	wantG := make([]float64, 3*hh)
	for k := range wantG {
		part, o, j := k/hh, k/h, k%h
		var s float64
		for i := 0; i < tokens; i++ {
			s += float64(dy[i*3*h+o]) * float64(x[i*h+j])
		}
		wantG[k] = float64(g0[k]) + float64(masks[part][j])*s/(1-float64(p))
	}
	checkTol(t, "concatenated gradient", down(be, gb, 3*hh), wantG, Abs*math.Sqrt(tokens)*4, Rel)
}

func testBiasActivate(t *testing.T, be backend.Backend) {
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xe2))
		for _, act := range []backend.Activation{backend.GeluErf, backend.GeluTanh, backend.ReLU} {
			for _, sh := range fusedShapes {
				rows, cols := sh[0], sh[1]
				n := rows * cols
				what := fmt.Sprintf("act %d %dx%d", act, rows, cols)
				x, bias := randn(rng, n, 3), randn(rng, cols, 1)
				pre := addBias64(x, bias, rows, cols)
				want := make([]float64, n)
				for i, v := range pre {
					want[i] = actForward64(v, act)
				}
				xb, bb, out := up(be, x), up(be, bias), nanUp(be, n)
				be.BiasActivate(out, xb, bb, rows, cols, act)
				gotPre, gotOut := down(be, xb, n), down(be, out, n)
				check(t, what+" pre-activation", gotPre, pre)
				check(t, what+" out", gotOut, want)
				// The unfused ops.
				ub, uo := up(be, x), nanUp(be, n)
				be.AddBias(ub, bb, rows, cols)
				be.Activate(uo, ub, n, act)
				same(t, what+" pre-activation", gotPre, down(be, ub, n))
				same(t, what+" out", gotOut, down(be, uo, n))

				// Backward, out of place and in place (dx = dy).
				dy, db0 := randn(rng, n, 1), randn(rng, cols, 1)
				wantDx, wantDb := make([]float64, n), f64(db0)
				for i, v := range gotPre {
					wantDx[i] = float64(dy[i]) * actGrad64(float64(v), act)
					wantDb[i%cols] += wantDx[i]
				}
				dx, db := nanUp(be, n), up(be, db0)
				be.BiasActivateBackward(dx, db, up(be, dy), xb, rows, cols, act)
				gotDx, gotDb := down(be, dx, n), down(be, db, cols)
				check(t, what+" dx", gotDx, wantDx)
				checkTol(t, what+" db", gotDb, wantDb, Abs*math.Sqrt(float64(rows)), Rel)
				dyb, db2 := up(be, dy), up(be, db0)
				be.BiasActivateBackward(dyb, db2, dyb, xb, rows, cols, act)
				same(t, what+" dx in place", down(be, dyb, n), gotDx)
				same(t, what+" db in place", down(be, db2, cols), gotDb)
				ux, udb := nanUp(be, n), up(be, db0)
				be.ActivateBackward(ux, up(be, dy), xb, n, act)
				be.BiasGrad(udb, ux, rows, cols)
				same(t, what+" dx", gotDx, down(be, ux, n))
				checkTol(t, what+" db against BiasGrad", gotDb, f64(down(be, udb, cols)), 1e-6, 1e-6)
			}
		}
	}
}

// bdal64 is BiasDropoutAddLayerNorm's sum, from its definition in float64:
// dropout(x + bias) + residual with d the dropout multipliers (nil: none).
func bdal64(x, bias, residual []float32, d []float64, rows, cols int) []float64 {
	sum := addBias64(x, bias, rows, cols)
	for i := range sum {
		if d != nil {
			sum[i] *= d[i]
		}
		sum[i] += float64(residual[i])
	}
	return sum
}

func testBiasDropoutAddLayerNorm(t *testing.T, be backend.Backend) {
	for _, seed := range trainSeeds {
		rng := rand.New(rand.NewPCG(seed, 0xe3))
		for _, sh := range fusedShapes {
			for _, p := range []float32{0, 0.1, 0.5} {
				rows, cols := sh[0], sh[1]
				n := rows * cols
				what := fmt.Sprintf("%dx%d p %g", rows, cols, p)
				const eps = 1e-12
				x, bias, res := randn(rng, n, 1), randn(rng, cols, 1), randn(rng, n, 2)
				for i := range res {
					res[i] += 3 // a mean far from 0, as the LayerNorm test
				}
				g, b := randn(rng, cols, 1), randn(rng, cols, 1)
				s := randStream(rng, philox.DropoutID(rng.IntN(1<<20)))
				d := dropMul(s, n, p)
				wantSum := bdal64(x, bias, res, d, rows, cols)
				wantOut := lnForward64(wantSum, f64(g), f64(b), rows, cols, eps)

				xb, bb, rb, gb, betab := up(be, x), up(be, bias), up(be, res), up(be, g), up(be, b)
				out, sum, mean, rstd := nanUp(be, n), nanUp(be, n), nanUp(be, rows), nanUp(be, rows)
				be.BiasDropoutAddLayerNorm(out, sum, mean, rstd, xb, bb, rb, gb, betab, rows, cols, eps, p, s)
				gotSum, gotOut := down(be, sum, n), down(be, out, n)
				gotMean, gotRstd := down(be, mean, rows), down(be, rstd, rows)
				check(t, what+" sum", gotSum, wantSum)
				check(t, what+" out", gotOut, wantOut)
				check(t, what+" x unchanged", down(be, xb, n), f64(x))

				// The unfused ops: AddBias, Dropout, Add, LayerNorm.
				us := up(be, x)
				be.AddBias(us, bb, rows, cols)
				if p > 0 {
					be.Dropout(us, us, n, p, s)
				}
				be.Add(us, us, rb, n)
				uo, um, ur := nanUp(be, n), nanUp(be, rows), nanUp(be, rows)
				be.LayerNorm(uo, um, ur, us, gb, betab, rows, cols, eps)
				same(t, what+" sum", gotSum, down(be, us, n))
				same(t, what+" out", gotOut, down(be, uo, n))
				same(t, what+" mean", gotMean, down(be, um, rows))
				same(t, what+" rstd", gotRstd, down(be, ur, rows))

				// In place: sum = x.
				xin, o2 := up(be, x), nanUp(be, n)
				be.BiasDropoutAddLayerNorm(o2, xin, nanUp(be, rows), nanUp(be, rows), xin, bb, rb, gb, betab, rows, cols, eps, p, s)
				same(t, what+" in place sum", down(be, xin, n), gotSum)
				same(t, what+" in place out", down(be, o2, n), gotOut)

				// Backward, against the float64 LayerNorm backward at the
				// stored sum, the dropout multipliers and the column sums.
				dy := randn(rng, n, 1)
				dg0, dbe0, db0 := randn(rng, cols, 1), randn(rng, cols, 1), randn(rng, cols, 1)
				wantDs, wantDg, wantDbe := lnBackward64(f64(dy), f64(gotSum), f64(g), rows, cols, eps)
				wantDx, wantDb := make([]float64, n), f64(db0)
				for i, v := range wantDs {
					wantDx[i] = v
					if d != nil {
						wantDx[i] *= d[i]
					}
					wantDb[i%cols] += wantDx[i]
				}
				for j := range wantDg {
					wantDg[j] += float64(dg0[j])
					wantDbe[j] += float64(dbe0[j])
				}
				dsum, dx := nanUp(be, n), nanUp(be, n)
				dgb, dbeb, dbb := up(be, dg0), up(be, dbe0), up(be, db0)
				dyb := up(be, dy)
				be.BiasDropoutAddLayerNormBackward(dsum, dx, dgb, dbeb, dbb, dyb, sum, mean, rstd, gb, rows, cols, p, s)
				gotDs, gotDx := down(be, dsum, n), down(be, dx, n)
				gotDg, gotDbe, gotDb := down(be, dgb, cols), down(be, dbeb, cols), down(be, dbb, cols)
				sumTol := Abs * math.Sqrt(float64(rows))
				if cols > 1 {
					check(t, what+" dsum", gotDs, wantDs)
					check(t, what+" dx", gotDx, wantDx)
					checkTol(t, what+" dgamma", gotDg, wantDg, sumTol, Rel)
					checkTol(t, what+" db", gotDb, wantDb, sumTol, Rel)
				}
				checkTol(t, what+" dbeta", gotDbe, wantDbe, sumTol, Rel)

				// The unfused ops: LayerNormBackward, Dropout, BiasGrad.
				uds, udx := nanUp(be, n), nanUp(be, n)
				udg, udbe, udb := up(be, dg0), up(be, dbe0), up(be, db0)
				be.LayerNormBackward(uds, udg, udbe, dyb, sum, mean, rstd, gb, rows, cols)
				be.Dropout(udx, uds, n, p, s)
				be.BiasGrad(udb, udx, rows, cols)
				same(t, what+" dsum", gotDs, down(be, uds, n))
				same(t, what+" dx", gotDx, down(be, udx, n))
				same(t, what+" dgamma", gotDg, down(be, udg, cols))
				same(t, what+" dbeta", gotDbe, down(be, udbe, cols))
				checkTol(t, what+" db against BiasGrad", gotDb, f64(down(be, udb, cols)), 1e-6, 1e-6)
			}
		}
	}
}

// packQKV interleaves q, k, v [tokens, hidden] into rows of 3·hidden, the
// layout of AttentionQKV.
func packQKV(q, k, v []float32, tokens, hidden int) []float32 {
	x := make([]float32, 3*tokens*hidden)
	for t := 0; t < tokens; t++ {
		copy(x[(3*t)*hidden:], q[t*hidden:(t+1)*hidden])
		copy(x[(3*t+1)*hidden:], k[t*hidden:(t+1)*hidden])
		copy(x[(3*t+2)*hidden:], v[t*hidden:(t+1)*hidden])
	}
	return x
}

// packQKV64 is packQKV on float64 slices.
func packQKV64(q, k, v []float64, tokens, hidden int) []float64 {
	x := make([]float64, 3*tokens*hidden)
	for t := 0; t < tokens; t++ {
		copy(x[(3*t)*hidden:], q[t*hidden:(t+1)*hidden])
		copy(x[(3*t+1)*hidden:], k[t*hidden:(t+1)*hidden])
		copy(x[(3*t+2)*hidden:], v[t*hidden:(t+1)*hidden])
	}
	return x
}
