package cpu

import (
	"math"
	"sync/atomic"
	"unsafe"
)

// The bf16 GEMM computes C = alpha·op(A)·op(B) + beta·C with op(A) and
// op(B) rounded to bfloat16 (round to nearest even) and the products summed
// in float32: the autocast contract, and what cuBLAS's
// CUBLAS_COMPUTE_32F_FAST_16BF does on the CUDA backend's bf16 precision.
// Its blocking is the SGEMM's (see gemm.go) with the packing doing the
// rounding: packed panels hold 32-bit words, each a pair of bf16 values of
// two consecutive k (the even one in the low half), which is the operand
// layout of VDPBF16PS and of AMX's TDPBF16PS. A k range of odd length is
// padded with a zero.
//
// B micro-panels are k-pair by k-pair: word p*nr + j holds op(B)[2p][j]
// and op(B)[2p+1][j]. A micro-panels are k-pair by k-pair as well (word
// p*mr + r holds op(A)[r][2p] and op(A)[r][2p+1]) for the AVX-512 kernel,
// or row by row (word r*kp + p) for AMX tiles (bf16Kernel.rowsA).

// bf16Kernel is one bf16 micro-kernel and its blocking.
type bf16Kernel struct {
	name   string
	mr, nr int
	// kc (even), mc (a multiple of mr) and nc (a multiple of nr) are the
	// cache blocks, in elements of op(A) and op(B).
	kc, mc, nc int
	// kAlign pads the k pairs of every block to a multiple of it with
	// zeros (AMX tiles take 16 pairs at a time); kc/2 is a multiple of it.
	kAlign int
	// rowsA lays A micro-panels out row by row instead of k-pair by k-pair.
	rowsA bool
	// fn computes C[0:mr, 0:nr] = alpha·Ã·B̃ + beta·C from kp k-pairs of
	// the packed panels; C is not read when beta is 0.
	fn func(kp int, a, b *uint32, c *float32, ldc int, alpha, beta float32)
}

// pairs is the number of packed k-pairs of a block of kc values of k.
func (kern *bf16Kernel) pairs(kc int) int {
	kp := (kc + 1) / 2
	return (kp + kern.kAlign - 1) / kern.kAlign * kern.kAlign
}

// bf16Bits rounds x to bfloat16, to nearest with ties to even, and returns
// its 16 bits. NaNs stay NaNs (quiet, sign kept); values beyond the largest
// bfloat16 round to infinity, as VCVTNEPS2BF16 and CUDA's __float2bfloat16
// do. Subnormal inputs are rounded like any other (the hardware flushes
// them to zero: a difference below 2^-126).
func bf16Bits(x float32) uint32 {
	u := math.Float32bits(x)
	if u&0x7fffffff > 0x7f800000 {
		return u>>16 | 0x40
	}
	return (u + 0x7fff + (u>>16)&1) >> 16
}

// RoundBF16 returns x rounded to the nearest bfloat16 (ties to even), as a
// float32: the value the bf16 GEMM multiplies in place of x.
func RoundBF16(x float32) float32 { return math.Float32frombits(bf16Bits(x) << 16) }

// bf16Pair is the packed word of two values: lo's bfloat16 in the low half.
func bf16Pair(lo, hi float32) uint32 { return bf16Bits(lo) | bf16Bits(hi)<<16 }

// bf16Scratch holds one worker's bf16 packing buffers and edge tile.
type bf16Scratch struct {
	a, b []uint32
	tile []float32
}

func newBF16Scratch(kern *bf16Kernel) *bf16Scratch {
	kp := kern.pairs(kern.kc)
	return &bf16Scratch{
		a:    make([]uint32, kern.mc*kp),
		b:    make([]uint32, kp*kern.nc),
		tile: make([]float32, kern.mr*kern.nr),
	}
}

// getBF16Scratch takes a worker's bf16 scratch from the backend's free list
// (or makes one); putBF16Scratch returns it.
func (be *Backend) getBF16Scratch() *bf16Scratch {
	be.mu.Lock()
	if n := len(be.bscratch); n > 0 {
		s := be.bscratch[n-1]
		be.bscratch = be.bscratch[:n-1]
		be.mu.Unlock()
		return s
	}
	be.mu.Unlock()
	return newBF16Scratch(be.bkern)
}

func (be *Backend) putBF16Scratch(s *bf16Scratch) {
	be.mu.Lock()
	be.bscratch = append(be.bscratch, s)
	be.mu.Unlock()
}

// blockPairs is the number of packed k-pairs of all of k: every block but
// the last has kc/2 of them.
func (kern *bf16Kernel) blockPairs(k int) int {
	last := (k - 1) / kern.kc * kern.kc
	return last/2 + kern.pairs(k-last)
}

// gemmBF16 is gemm (see there, same arguments and the same two-phase
// parallel schedule) with the bf16 kernel.
func (be *Backend) gemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 {
		scaleC(c, ldc, m, n, beta)
		return
	}
	kern := be.bkern
	w := be.workers
	if m*n*k < gemmParallelMin {
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
		ws := be.getBF16Scratch()
		sgemmBF16(ws, kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		be.putBF16Scratch(ws)
		return
	}
	chunk := min((tiles+4*w-1)/(4*w)*unit, block)
	chunk = max(chunk, min(block, 8*unit))
	chunks := (size + chunk - 1) / chunk

	be.fullMu.Lock()
	defer be.fullMu.Unlock()
	mr, nr := kern.mr, kern.nr
	kpAll := kern.blockPairs(k)
	if splitM {
		panels := (n + nr - 1) / nr
		full := be.bfull.grow(panels * nr * kpAll)
		be.parallel(panels, func(lo, hi int) {
			for pc := 0; pc < k; pc += kern.kc {
				kc := min(kern.kc, k-pc)
				packBF16B(full[lo*nr*kpAll+pc/2*nr:], nr*kpAll, b, ldb, transB, pc, kc, lo*nr, min(hi*nr, n)-lo*nr, nr, kern.pairs(kc))
			}
		})
		var next atomic.Int64
		be.parallel(w, func(int, int) {
			ws := be.getBF16Scratch()
			defer be.putBF16Scratch(ws)
			for {
				ci := int(next.Add(1) - 1)
				if ci >= chunks {
					return
				}
				i0 := ci * chunk
				mc := min(chunk, m-i0)
				for pc := 0; pc < k; pc += kern.kc {
					kc := min(kern.kc, k-pc)
					kp := kern.pairs(kc)
					bt := beta
					if pc > 0 {
						bt = 1
					}
					packBF16A(ws.a, mr*kp, a, lda, transA, i0, mc, pc, kc, mr, kp, kern.rowsA)
					macroBF16(kern, ws.tile, kp, mc, n, ws.a, mr*kp, full[pc/2*nr:], nr*kpAll, c[i0*ldc:], ldc, alpha, bt)
				}
			}
		})
		return
	}
	panels := (m + mr - 1) / mr
	full := be.bfull.grow(panels * mr * kpAll)
	be.parallel(panels, func(lo, hi int) {
		for pc := 0; pc < k; pc += kern.kc {
			kc := min(kern.kc, k-pc)
			packBF16A(full[lo*mr*kpAll+pc/2*mr:], mr*kpAll, a, lda, transA, lo*mr, min(hi*mr, m)-lo*mr, pc, kc, mr, kern.pairs(kc), kern.rowsA)
		}
	})
	var next atomic.Int64
	be.parallel(w, func(int, int) {
		ws := be.getBF16Scratch()
		defer be.putBF16Scratch(ws)
		for {
			ci := int(next.Add(1) - 1)
			if ci >= chunks {
				return
			}
			j0 := ci * chunk
			nc := min(chunk, n-j0)
			for pc := 0; pc < k; pc += kern.kc {
				kc := min(kern.kc, k-pc)
				kp := kern.pairs(kc)
				bt := beta
				if pc > 0 {
					bt = 1
				}
				packBF16B(ws.b, nr*kp, b, ldb, transB, pc, kc, j0, nc, nr, kp)
				for ic := 0; ic < m; ic += kern.mc {
					mc := min(kern.mc, m-ic)
					macroBF16(kern, ws.tile, kp, mc, nc, full[(ic/mr)*mr*kpAll+pc/2*mr:], mr*kpAll, ws.b, nr*kp, c[ic*ldc+j0:], ldc, alpha, bt)
				}
			}
		}
	})
}

// sharedWords is the packed bf16 operand shared by the workers of a
// parallel bf16 GEMM.
type sharedWords struct{ buf []uint32 }

// grow returns the buffer with at least n elements.
func (s *sharedWords) grow(n int) []uint32 {
	if cap(s.buf) < n {
		s.buf = make([]uint32, n)
	}
	return s.buf[:n]
}

// sgemmBF16 is gemmBF16 on one goroutine with the scratch ws (the bf16
// counterpart of sgemm).
func sgemmBF16(ws *bf16Scratch, kern *bf16Kernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
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
			kp := kern.pairs(kc)
			bt := beta
			if pc > 0 {
				bt = 1
			}
			packBF16B(ws.b, nr*kp, b, ldb, transB, pc, kc, jc, nc, nr, kp)
			for ic := 0; ic < m; ic += kern.mc {
				mc := min(kern.mc, m-ic)
				packBF16A(ws.a, mr*kp, a, lda, transA, ic, mc, pc, kc, mr, kp, kern.rowsA)
				macroBF16(kern, ws.tile, kp, mc, nc, ws.a, mr*kp, ws.b, nr*kp, c[ic*ldc+jc:], ldc, alpha, bt)
			}
		}
	}
}

// macroBF16 computes the mc×nc block of C at c from A panel i at
// ap[i*aStride:] and B panel j at bp[j*bStride:], kp k-pairs each; edge
// tiles go through the scratch tile.
func macroBF16(kern *bf16Kernel, tile []float32, kp, mc, nc int, ap []uint32, aStride int, bp []uint32, bStride int, c []float32, ldc int, alpha, bt float32) {
	mr, nr := kern.mr, kern.nr
	for jr := 0; jr < nc; jr += nr {
		bpj := bp[(jr/nr)*bStride:][:nr*kp]
		nw := min(nr, nc-jr)
		for ir := 0; ir < mc; ir += mr {
			mh := min(mr, mc-ir)
			ci := ir*ldc + jr
			api := ap[(ir/mr)*aStride:][:mr*kp]
			if mh == mr && nw == nr {
				_ = c[ci+(mr-1)*ldc+nr-1]
				kern.fn(kp, &api[0], &bpj[0], &c[ci], ldc, alpha, bt)
				continue
			}
			kern.fn(kp, &api[0], &bpj[0], &tile[0], nr, 1, 0)
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

// bf16Row packs consecutive pairs of src: dst[i] = bf16Pair(src[2i],
// src[2i+1]), and for an odd length a last word of src's last value and
// a zero. bf16RowBulk does what it can vectorized.
func bf16Row(dst []uint32, src []float32) {
	n, i := len(src), bf16RowBulk(dst, src)
	for ; i+1 < n; i += 2 {
		dst[i/2] = bf16Pair(src[i], src[i+1])
	}
	if i < n {
		dst[i/2] = bf16Bits(src[i])
	}
}

// bf16Transpose packs rows rows of src, lda apart and n values each, into
// a k-pair-major panel: dst[p*stride+r] = bf16Pair(src[r*lda+2p],
// src[r*lda+2p+1]), and for an odd n a last word of row r's last value and
// a zero. bf16TransposeBulk does what it can vectorized, 16 rows at a time.
func bf16Transpose(dst []uint32, stride int, src []float32, lda, rows, n int) {
	for r0 := 0; r0 < rows; r0 += 16 {
		nr := min(16, rows-r0)
		i := bf16TransposeBulk(dst[r0:], stride, src[r0*lda:], lda, nr, n)
		for r := r0; r < r0+nr; r++ {
			s := src[r*lda:][:n]
			j := i
			for ; j+1 < n; j += 2 {
				dst[j/2*stride+r] = bf16Pair(s[j], s[j+1])
			}
			if j < n {
				dst[j/2*stride+r] = bf16Bits(s[j])
			}
		}
	}
}

// bf16PairsRows packs k-pairs of rows columns of src (a transposed
// operand, k rows lda apart) row by row: dst[r*stride+p] =
// bf16Pair(src[2p*lda+r], src[(2p+1)*lda+r]) for r < rows and p < pairs.
// bf16PairsRowsBulk does what it can vectorized, 16 columns at a time.
func bf16PairsRows(dst []uint32, stride int, src []float32, lda, rows, pairs int) {
	if pairs == 0 {
		return
	}
	for r0 := 0; r0 < rows; r0 += 16 {
		nr := min(16, rows-r0)
		p0 := bf16PairsRowsBulk(dst[r0*stride:], stride, src[r0:], lda, nr, pairs)
		for r := r0; r < r0+nr; r++ {
			d := dst[r*stride:][:pairs]
			for p := p0; p < pairs; p++ {
				d[p] = bf16Pair(src[2*p*lda+r], src[(2*p+1)*lda+r])
			}
		}
	}
}

// bf16PairsPanels packs two rows side by side, dst's word j the pair of
// r0[j] and r1[j] (r0's in the low half), into panels of width words,
// pstride words apart: word j goes to dst[(j/width)*pstride + j%width].
// bf16PairsPanelsBulk does the whole panels it can vectorized, prefetching
// both rows ahead elements on (the next pair's; 0: none).
func bf16PairsPanels(dst []uint32, width, pstride int, r0, r1 []float32, ahead int) {
	n := len(r0)
	r1 = r1[:n]
	for j := bf16PairsPanelsBulk(dst, width, pstride, r0, r1, ahead); j < n; j++ {
		dst[(j/width)*pstride+j%width] = bf16Pair(r0[j], r1[j])
	}
}

// packBF16A packs rows ic..ic+mc and k columns pc..pc+kc of op(A), rounded
// to bf16 pairs, into mr-row micro-panels pstride words apart, kp pairs
// deep (pairs past kc/2 zero, as are the last panel's missing rows): word
// (r, p) of a panel is at p*mr + r, or r*kp + p when rows is set.
func packBF16A(dst []uint32, pstride int, a []float32, lda int, transA bool, ic, mc, pc, kc, mr, kp int, rows bool) {
	words := (kc + 1) / 2
	if transA && !rows {
		// op(A)[i][p] = a[p*lda+i]: a k-pair's words for every row come
		// from two rows of a, converted mc at a time across the panels.
		panels := (mc + mr - 1) / mr
		for p := 0; p < kc/2; p++ {
			bf16PairsPanels(dst[p*mr:], mr, pstride, a[(pc+2*p)*lda+ic:][:mc], a[(pc+2*p+1)*lda+ic:][:mc], 2*lda)
		}
		if kc%2 == 1 {
			last := a[(pc+kc-1)*lda+ic:][:mc]
			for i, v := range last {
				dst[(i/mr)*pstride+kc/2*mr+i%mr] = bf16Bits(v)
			}
		}
		for ip := 0; ip < panels; ip++ {
			panel := dst[ip*pstride:][:mr*kp]
			if nrows := min(mr, mc-ip*mr); nrows < mr {
				for p := 0; p < words; p++ {
					clear(panel[p*mr+nrows : (p+1)*mr])
				}
			}
			clear(panel[words*mr:])
		}
		return
	}
	for ir := 0; ir < mc; ir += mr {
		panel := dst[(ir/mr)*pstride:][:mr*kp]
		nrows := min(mr, mc-ir)
		switch {
		case transA:
			bf16PairsRows(panel, kp, a[pc*lda+ic+ir:], lda, nrows, kc/2)
			for r := 0; r < nrows; r++ {
				d := panel[r*kp:][:kp]
				if kc%2 == 1 {
					d[kc/2] = bf16Bits(a[(pc+kc-1)*lda+ic+ir+r])
				}
				clear(d[words:])
			}
		case rows:
			// op(A)[i][p] = a[i*lda+p]: each row is contiguous along k.
			for r := 0; r < nrows; r++ {
				d := panel[r*kp:][:kp]
				bf16Row(d[:words], a[(ic+ir+r)*lda+pc:][:kc])
				clear(d[words:])
			}
		default:
			bf16Transpose(panel, mr, a[(ic+ir)*lda+pc:], lda, nrows, kc)
			clear(panel[words*mr:])
		}
		// The last panel's missing rows.
		for r := nrows; r < mr; r++ {
			if rows {
				clear(panel[r*kp:][:kp])
				continue
			}
			for p := 0; p < kp; p++ {
				panel[p*mr+r] = 0
			}
		}
	}
}

// packBF16B packs k rows pc..pc+kc and columns jc..jc+nc of op(B), rounded
// to bf16 pairs, into nr-column micro-panels pstride words apart, kp pairs
// deep: word p*nr + j of a panel holds op(B)[pc+2p][j] and
// op(B)[pc+2p+1][j]; pairs past kc/2 and the last panel's missing columns
// are zero.
func packBF16B(dst []uint32, pstride int, b []float32, ldb int, transB bool, pc, kc, jc, nc, nr, kp int) {
	words := (kc + 1) / 2
	for jr := 0; jr < nc; jr += nr {
		panel := dst[(jr/nr)*pstride:][:nr*kp]
		cols := min(nr, nc-jr)
		if !transB {
			// Packed below, a k-pair across every panel at a time.
			if cols < nr {
				for p := 0; p < words; p++ {
					clear(panel[p*nr+cols : (p+1)*nr])
				}
			}
		} else {
			// op(B)[p][j] = b[j*ldb+p]: each column is contiguous along k.
			bf16Transpose(panel, nr, b[(jc+jr)*ldb+pc:], ldb, cols, kc)
			for p := 0; p < words; p++ {
				clear(panel[p*nr+cols : (p+1)*nr])
			}
		}
		clear(panel[words*nr:])
	}
	if !transB {
		// op(B)[p][j] = b[p*ldb+j]: two rows of b give a k-pair's words,
		// converted nc at a time across the panels.
		for p := 0; p < kc/2; p++ {
			bf16PairsPanels(dst[p*nr:], nr, pstride, b[(pc+2*p)*ldb+jc:][:nc], b[(pc+2*p+1)*ldb+jc:][:nc], 2*ldb)
		}
		if kc%2 == 1 {
			for j, v := range b[(pc+kc-1)*ldb+jc:][:nc] {
				dst[(j/nr)*pstride+kc/2*nr+j%nr] = bf16Bits(v)
			}
		}
	}
}

// bf16Lo and bf16Hi are the float32 values of a packed word's halves.
func bf16Lo(w uint32) float32 { return math.Float32frombits(w << 16) }
func bf16Hi(w uint32) float32 { return math.Float32frombits(w &^ 0xffff) }

// goBF16Kernel is the portable bf16 micro-kernel, 4×16 in plain Go, and
// the reference of the others: each k-pair adds the odd k's product, then
// the even one's, to the float32 sum, as VDPBF16PS does. The products of
// two bfloat16 values are exact in float32, so each step rounds once.
func goBF16Kernel(kp int, a, b *uint32, c *float32, ldc int, alpha, beta float32) {
	const mr, nr = 4, 16
	ap := unsafe.Slice(a, kp*mr)
	bp := unsafe.Slice(b, kp*nr)
	var acc [mr][nr]float32
	for p := 0; p < kp; p++ {
		bv := bp[p*nr:][:nr]
		av := ap[p*mr:][:mr]
		for r := 0; r < mr; r++ {
			a0, a1 := bf16Lo(av[r]), bf16Hi(av[r])
			row := &acc[r]
			for j, w := range bv {
				s := row[j] + a1*bf16Hi(w)
				row[j] = s + a0*bf16Lo(w)
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

// goBF16MicroKernel is the portable bf16 kernel with its blocking.
var goBF16MicroKernel = bf16Kernel{name: "go bf16 4x16", mr: 4, nr: 16, kc: 256, mc: 128, nc: 1024, kAlign: 1, fn: goBF16Kernel}
