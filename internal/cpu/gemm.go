package cpu

import (
	"sync/atomic"

	"github.com/mixft/mixft/internal/backend"
)

// The SGEMM is Goto/BLIS style. C (m×n) is computed in blocks: for each
// NC-column block of op(B) and each KC-deep slice of k, the KC×NC block of
// op(B) is packed into NR-column micro-panels (each k step's NR values
// contiguous); then for each MC-row block of op(A) the MC×KC block is packed
// into MR-row micro-panels, and the micro-kernel computes every MR×NR tile
// of the block from one A and one B micro-panel. The B micro-panel (KC×NR)
// stays in L1 while the kernel walks down the A block, which stays in L2.
// Edge tiles (m or n not a multiple of MR/NR) are computed into a scratch
// tile from zero-padded panels and copied out, so the kernel never reads or
// writes outside C.

// microKernel is one architecture's inner kernel and its blocking.
type microKernel struct {
	name   string
	mr, nr int
	// kc, mc, nc are the cache blocks: kc deep, mc rows (a multiple of mr),
	// nc columns (a multiple of nr).
	kc, mc, nc int
	// fn computes C[0:mr, 0:nr] = alpha·Ã·B̃ + beta·C with Ã the packed
	// mr×k panel and B̃ the packed k×nr panel; C is not read when beta is 0.
	fn func(k int, a, b, c *float32, ldc int, alpha, beta float32)
	// direct, when not nil, is fn reading A in place (element (r, p) of the
	// mr×k panel at byte offset r*rs + p*ks from a): full-height panels of
	// op(A) then need no packing.
	direct func(k int, a *float32, rs, ks int, b, c *float32, ldc int, alpha, beta float32)
}

// gemmScratch holds one worker's packing buffers and edge tile.
type gemmScratch struct {
	a, b []float32
	tile []float32
}

func newGemmScratch(kern *microKernel) *gemmScratch {
	return &gemmScratch{
		a:    make([]float32, kern.mc*kern.kc),
		b:    make([]float32, kern.kc*kern.nc),
		tile: make([]float32, kern.mr*kern.nr),
	}
}

// getScratch takes a worker's scratch from the backend's free list (or makes
// one); putScratch returns it. The list keeps packing buffers alive across
// calls, so the hot path allocates nothing.
func (be *Backend) getScratch() *gemmScratch {
	be.mu.Lock()
	if n := len(be.scratch); n > 0 {
		s := be.scratch[n-1]
		be.scratch = be.scratch[:n-1]
		be.mu.Unlock()
		return s
	}
	be.mu.Unlock()
	return newGemmScratch(be.kern)
}

func (be *Backend) putScratch(s *gemmScratch) {
	be.mu.Lock()
	be.scratch = append(be.scratch, s)
	be.mu.Unlock()
}

// gemmParallelMin is the number of multiply-adds below which a GEMM runs on
// one worker: splitting costs a few microseconds.
const gemmParallelMin = 1 << 18

// MatMul implements backend.Backend with the packed SGEMM (or the bf16
// GEMM at precision BF16), in parallel over blocks of C's rows (or
// columns, when C is wider than tall).
func (be *Backend) MatMul(c, a, b backend.Buffer, m, n, k int, transA, transB bool, alpha, beta float32) {
	cd, ad, bd := data(c).Data[:m*n], data(a).Data[:m*k], data(b).Data[:k*n]
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	if be.prec == BF16 {
		be.gemmBF16(transA, transB, m, n, k, alpha, ad, lda, bd, ldb, beta, cd, n)
		return
	}
	be.gemm(transA, transB, m, n, k, alpha, ad, lda, bd, ldb, beta, cd, n)
}

// gemm is MatMul on strided matrices: element (i, j) of a row-major matrix
// with leading dimension ld is at i*ld+j.
//
// In parallel it runs in two phases. First the workers pack the whole of the
// smaller-side operand once, shared (op(B) when C is at least as tall as
// wide, else op(A)), each full-K micro-panel contiguous. Then they take
// chunks of C's rows (or columns) from a shared counter, pack their chunk of
// the other operand block by block and run the macro-kernel. Chunks are
// handed out as workers free up, so a core slowed by another process gets
// fewer; each element of C is still summed by one worker in a fixed order,
// so results do not depend on the schedule.
func (be *Backend) gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	kern := be.kern
	w := be.workers
	if m*n*k < gemmParallelMin || k <= 0 {
		w = 1
	}
	splitM := m >= n
	unit, size, block := kern.mr, m, kern.mc
	if !splitM {
		unit, size, block = kern.nr, n, kern.nc
	}
	tiles := (size + unit - 1) / unit
	w = min(w, tiles)
	if w <= 1 {
		ws := be.getScratch()
		sgemm(ws, kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		be.putScratch(ws)
		return
	}
	// Chunks: about four per worker, whole micro-tiles, at most one cache block.
	chunk := min((tiles+4*w-1)/(4*w)*unit, block)
	chunk = max(chunk, min(block, 8*unit))
	chunks := (size + chunk - 1) / chunk

	// One shared buffer per backend, kept at its largest size: parallel
	// GEMMs take turns (the model runs its ops one after another anyway).
	be.fullMu.Lock()
	defer be.fullMu.Unlock()
	shared := &be.full
	mr, nr := kern.mr, kern.nr
	if splitM {
		panels := (n + nr - 1) / nr
		full := shared.grow(panels * nr * k)
		be.parallel(panels, func(lo, hi int) {
			packB(full[lo*nr*k:], nr*k, b, ldb, transB, 0, k, lo*nr, min(hi*nr, n)-lo*nr, nr)
		})
		var next atomic.Int64
		be.parallel(w, func(int, int) {
			ws := be.getScratch()
			defer be.putScratch(ws)
			for {
				ci := int(next.Add(1) - 1)
				if ci >= chunks {
					return
				}
				i0 := ci * chunk
				mc := min(chunk, m-i0)
				for pc := 0; pc < k; pc += kern.kc {
					kc := min(kern.kc, k-pc)
					bt := beta
					if pc > 0 {
						bt = 1
					}
					ad, rs, ks := prepA(ws, kern, a, lda, transA, i0, mc, pc, kc)
					macroKernel(kern, ws.tile, kc, mc, n, ws.a, mr*kc, ad, rs, ks, full[pc*nr:], nr*k, c[i0*ldc:], ldc, alpha, bt)
				}
			}
		})
		return
	}
	panels := (m + mr - 1) / mr
	full := shared.grow(panels * mr * k)
	be.parallel(panels, func(lo, hi int) {
		packA(full[lo*mr*k:], mr*k, a, lda, transA, lo*mr, min(hi*mr, m)-lo*mr, 0, k, mr)
	})
	var next atomic.Int64
	be.parallel(w, func(int, int) {
		ws := be.getScratch()
		defer be.putScratch(ws)
		for {
			ci := int(next.Add(1) - 1)
			if ci >= chunks {
				return
			}
			j0 := ci * chunk
			nc := min(chunk, n-j0)
			for pc := 0; pc < k; pc += kern.kc {
				kc := min(kern.kc, k-pc)
				bt := beta
				if pc > 0 {
					bt = 1
				}
				packB(ws.b, nr*kc, b, ldb, transB, pc, kc, j0, nc, nr)
				for ic := 0; ic < m; ic += kern.mc {
					mc := min(kern.mc, m-ic)
					macroKernel(kern, ws.tile, kc, mc, nc, full[(ic/mr)*mr*k+pc*mr:], mr*k, nil, 0, 0, ws.b, nr*kc, c[ic*ldc+j0:], ldc, alpha, bt)
				}
			}
		}
	})
}

// sharedBuf is the whole packed operand shared by the workers of a
// parallel GEMM.
type sharedBuf struct{ buf []float32 }

// grow returns the buffer with at least n elements.
func (s *sharedBuf) grow(n int) []float32 {
	if cap(s.buf) < n {
		s.buf = make([]float32, n)
	}
	return s.buf[:n]
}

// sgemm computes C = alpha·op(A)·op(B) + beta·C on one goroutine with the
// scratch ws. Matrices are strided as in gemm; slices may start at the first
// element used and end anywhere past the last.
func sgemm(ws *gemmScratch, kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 {
		scaleC(c, ldc, m, n, beta)
		return
	}
	mr, nr := kern.mr, kern.nr
	for jc := 0; jc < n; jc += kern.nc {
		nc := min(kern.nc, n-jc)
		for pc := 0; pc < k; pc += kern.kc {
			kc := min(kern.kc, k-pc)
			bt := beta
			if pc > 0 {
				bt = 1
			}
			packB(ws.b, nr*kc, b, ldb, transB, pc, kc, jc, nc, nr)
			for ic := 0; ic < m; ic += kern.mc {
				mc := min(kern.mc, m-ic)
				ad, rs, ks := prepA(ws, kern, a, lda, transA, ic, mc, pc, kc)
				macroKernel(kern, ws.tile, kc, mc, nc, ws.a, mr*kc, ad, rs, ks, ws.b, nr*kc, c[ic*ldc+jc:], ldc, alpha, bt)
			}
		}
	}
}

// prepA readies rows i0..i0+mc, columns pc..pc+kc of op(A) for macroKernel:
// with a direct kernel (and a leading dimension that suits it) it returns the block in place (ad, with element
// strides rs along rows and ks along k) and packs only a last partial panel
// into ws.a; otherwise it packs the whole block into ws.a and returns nil.
func prepA(ws *gemmScratch, kern *microKernel, a []float32, lda int, transA bool, i0, mc, pc, kc int) (ad []float32, rs, ks int) {
	mr := kern.mr
	// A leading dimension of a multiple of 1024 floats (4 KiB) makes the
	// panel's rows (or k steps) collide in the caches: measured 30% slower
	// than packing on Zen 4, where other strides are up to 20% faster.
	if kern.direct == nil || lda%1024 == 0 {
		packA(ws.a, mr*kc, a, lda, transA, i0, mc, pc, kc, mr)
		return nil, 0, 0
	}
	if full := mc / mr * mr; full < mc {
		packA(ws.a[(full/mr)*mr*kc:], mr*kc, a, lda, transA, i0+full, mc-full, pc, kc, mr)
	}
	if transA {
		return a[pc*lda+i0:], 1, lda
	}
	return a[i0*lda+pc:], lda, 1
}

// macroKernel computes the mc×nc block of C at c: A panel i (rows i*mr..)
// read in place from ad (element (r, p) at ad[(i*mr+r)*rs + p*ks]) when ad
// is not nil and the panel is whole, else packed at ap[i*aStride:]; B panel
// j (columns j*nr..) packed at bp[j*bStride:]; kc steps deep. Full tiles go
// straight to C, edge tiles through the scratch tile.
func macroKernel(kern *microKernel, tile []float32, kc, mc, nc int, ap []float32, aStride int, ad []float32, rs, ks int, bp []float32, bStride int, c []float32, ldc int, alpha, bt float32) {
	mr, nr := kern.mr, kern.nr
	if ad != nil && mc >= mr {
		// The kernel reads up to element (mc/mr*mr-1)*rs + (kc-1)*ks.
		_ = ad[(mc/mr*mr-1)*rs+(kc-1)*ks]
	}
	for jr := 0; jr < nc; jr += nr {
		bpj := bp[(jr/nr)*bStride:][:nr*kc]
		nw := min(nr, nc-jr)
		for ir := 0; ir < mc; ir += mr {
			mh := min(mr, mc-ir)
			ci := ir*ldc + jr
			if ad != nil && mh == mr {
				if nw == nr {
					kern.direct(kc, &ad[ir*rs], rs*4, ks*4, &bpj[0], &c[ci], ldc, alpha, bt)
					continue
				}
				kern.direct(kc, &ad[ir*rs], rs*4, ks*4, &bpj[0], &tile[0], nr, 1, 0)
			} else {
				api := ap[(ir/mr)*aStride:][:mr*kc]
				if mh == mr && nw == nr {
					kern.fn(kc, &api[0], &bpj[0], &c[ci], ldc, alpha, bt)
					continue
				}
				kern.fn(kc, &api[0], &bpj[0], &tile[0], nr, 1, 0)
			}
			for r := 0; r < mh; r++ {
				crow := c[ci+r*ldc:][:nw]
				trow := tile[r*nr:][:nw]
				if bt == 0 {
					for j, v := range trow {
						crow[j] = alpha * v
					}
				} else {
					for j, v := range trow {
						crow[j] = alpha*v + bt*crow[j]
					}
				}
			}
		}
	}
}

// scaleC multiplies C by beta (beta 0 writes zeros, ignoring NaNs in C).
func scaleC(c []float32, ldc, m, n int, beta float32) {
	for i := 0; i < m; i++ {
		row := c[i*ldc:][:n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// packA packs rows ic..ic+mc and columns pc..pc+kc of op(A) into mr-row
// micro-panels pstride apart: dst[(i/mr)*pstride + p*mr + i%mr] =
// op(A)[ic+i][pc+p], with the last panel's missing rows zero.
func packA(dst []float32, pstride int, a []float32, lda int, transA bool, ic, mc, pc, kc, mr int) {
	for ir := 0; ir < mc; ir += mr {
		panel := dst[(ir/mr)*pstride:][:mr*kc]
		rows := min(mr, mc-ir)
		if transA {
			// op(A)[i][p] = a[p*lda+i]: each k step's rows are contiguous.
			if rows == 8 && mr == 8 {
				for p := 0; p < kc; p++ {
					*(*[8]float32)(panel[p*8:]) = *(*[8]float32)(a[(pc+p)*lda+ic+ir:])
				}
				continue
			}
			for p := 0; p < kc; p++ {
				src := a[(pc+p)*lda+ic+ir:][:rows]
				d := panel[p*mr:][:mr]
				copy(d, src)
				clear(d[rows:])
			}
			continue
		}
		// op(A)[i][p] = a[i*lda+p]: each row is contiguous along k.
		switch {
		case rows == 8 && mr == 8:
			packRows8(panel, 8, a, lda, ic+ir, pc, kc)
		default:
			for r := 0; r < rows; r++ {
				src := a[(ic+ir+r)*lda+pc:][:kc]
				for p, v := range src {
					panel[p*mr+r] = v
				}
			}
			for r := rows; r < mr; r++ {
				for p := 0; p < kc; p++ {
					panel[p*mr+r] = 0
				}
			}
		}
	}
}

// packRows8 interleaves 8 rows of length kc, starting at a[row*lda+pc],
// into dst with a stride: dst[p*stride+r] = a[(row+r)*lda+pc+p] for r < 8.
func packRows8(dst []float32, stride int, a []float32, lda, row, pc, kc int) {
	r0 := a[(row+0)*lda+pc:][:kc]
	r1 := a[(row+1)*lda+pc:][:kc]
	r2 := a[(row+2)*lda+pc:][:kc]
	r3 := a[(row+3)*lda+pc:][:kc]
	r4 := a[(row+4)*lda+pc:][:kc]
	r5 := a[(row+5)*lda+pc:][:kc]
	r6 := a[(row+6)*lda+pc:][:kc]
	r7 := a[(row+7)*lda+pc:][:kc]
	for p := 0; p < kc; p++ {
		d := (*[8]float32)(dst[p*stride:])
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
	}
}

// packB packs rows pc..pc+kc and columns jc..jc+nc of op(B) into nr-column
// micro-panels pstride apart: dst[(j/nr)*pstride + p*nr + j%nr] =
// op(B)[pc+p][jc+j], with the last panel's missing columns zero.
func packB(dst []float32, pstride int, b []float32, ldb int, transB bool, pc, kc, jc, nc, nr int) {
	for jr := 0; jr < nc; jr += nr {
		panel := dst[(jr/nr)*pstride:][:nr*kc]
		cols := min(nr, nc-jr)
		if !transB {
			// op(B)[p][j] = b[p*ldb+j]: each k step's columns are contiguous.
			if cols == 32 && nr == 32 {
				for p := 0; p < kc; p++ {
					*(*[32]float32)(panel[p*32:]) = *(*[32]float32)(b[(pc+p)*ldb+jc+jr:])
				}
				continue
			}
			for p := 0; p < kc; p++ {
				d := panel[p*nr:][:nr]
				copy(d, b[(pc+p)*ldb+jc+jr:][:cols])
				clear(d[cols:])
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: each column is contiguous along k; eight
		// columns at a time make each k step's writes one 32-byte run.
		cc := 0
		for ; cc+8 <= cols; cc += 8 {
			packRows8(panel[cc:], nr, b, ldb, jc+jr+cc, pc, kc)
		}
		for ; cc < cols; cc++ {
			src := b[(jc+jr+cc)*ldb+pc:][:kc]
			for p, v := range src {
				panel[p*nr+cc] = v
			}
		}
		if cols < nr {
			for p := 0; p < kc; p++ {
				clear(panel[p*nr+cols : (p+1)*nr])
			}
		}
	}
}

// goKernel is the portable micro-kernel: 4×16 in plain Go.
func goKernel(k int, a, b, c *float32, ldc int, alpha, beta float32) {
	const mr, nr = 4, 16
	ap := unsafeSlice(a, k*mr)
	bp := unsafeSlice(b, k*nr)
	var acc [mr][nr]float32
	for p := 0; p < k; p++ {
		bv := bp[p*nr:][:nr]
		av := ap[p*mr:][:mr]
		for r := 0; r < mr; r++ {
			x := av[r]
			row := &acc[r]
			for j := range row {
				row[j] += x * bv[j]
			}
		}
	}
	cs := unsafeSlice(c, (mr-1)*ldc+nr)
	for r := 0; r < mr; r++ {
		crow := cs[r*ldc:][:nr]
		if beta == 0 {
			for j := range crow {
				crow[j] = alpha * acc[r][j]
			}
		} else {
			for j := range crow {
				crow[j] = alpha*acc[r][j] + beta*crow[j]
			}
		}
	}
}

// goMicroKernel is the portable kernel with its blocking.
var goMicroKernel = microKernel{name: "go 4x16", mr: 4, nr: 16, kc: 256, mc: 128, nc: 1024, fn: goKernel}
