package cpu

import "github.com/mixft/mixft/internal/backend"

// rowBlock is how many rows of C one pass of the kernel updates together, so
// that every element of B loaded is used that many times.
const rowBlock = 4

// colBlock bounds the slice of a C row kept hot while the kernel streams B.
const colBlock = 512

// MatMul implements backend.Backend. It brings op(B) into k×n row-major
// layout (a transposed copy when transB), gathers rows of op(A), and runs a
// register-blocked axpy kernel in parallel over blocks of C's rows.
func (be *Backend) MatMul(c, a, b backend.Buffer, m, n, k int, transA, transB bool, alpha, beta float32) {
	cd, ad, bd := data(c).Data[:m*n], data(a).Data[:m*k], data(b).Data[:k*n]
	if transB {
		t := make([]float32, k*n)
		for j := 0; j < n; j++ {
			row := bd[j*k : (j+1)*k]
			for p, v := range row {
				t[p*n+j] = v
			}
		}
		bd = t
	}
	blocks := (m + rowBlock - 1) / rowBlock
	be.parallel(blocks, func(lo, hi int) {
		var arows [rowBlock][]float32
		scratch := make([]float32, rowBlock*k)
		for blk := lo; blk < hi; blk++ {
			i0 := blk * rowBlock
			r := min(rowBlock, m-i0)
			for q := 0; q < r; q++ {
				if transA {
					row := scratch[q*k : (q+1)*k]
					for p := range row {
						row[p] = ad[p*m+i0+q]
					}
					arows[q] = row
				} else {
					arows[q] = ad[(i0+q)*k : (i0+q+1)*k]
				}
			}
			for q := 0; q < r; q++ {
				crow := cd[(i0+q)*n : (i0+q+1)*n]
				if beta == 0 {
					clear(crow)
				} else if beta != 1 {
					for j := range crow {
						crow[j] *= beta
					}
				}
			}
			for j0 := 0; j0 < n; j0 += colBlock {
				j1 := min(j0+colBlock, n)
				if r == rowBlock {
					kernel4(cd, bd, arows, i0, j0, j1, n, k, alpha)
				} else {
					for q := 0; q < r; q++ {
						kernel1(cd[(i0+q)*n+j0:(i0+q)*n+j1], bd, arows[q], j0, j1, n, alpha)
					}
				}
			}
		}
	})
}

// kernel4 adds alpha * a[q] · B[:, j0:j1] to rows i0..i0+3 of C.
func kernel4(cd, bd []float32, a [rowBlock][]float32, i0, j0, j1, n, k int, alpha float32) {
	w := j1 - j0
	c0 := cd[(i0+0)*n+j0:][:w]
	c1 := cd[(i0+1)*n+j0:][:w]
	c2 := cd[(i0+2)*n+j0:][:w]
	c3 := cd[(i0+3)*n+j0:][:w]
	a0, a1, a2, a3 := a[0][:k], a[1][:k], a[2][:k], a[3][:k]
	for p := 0; p < k; p++ {
		s0, s1, s2, s3 := alpha*a0[p], alpha*a1[p], alpha*a2[p], alpha*a3[p]
		brow := bd[p*n+j0:][:w]
		for j, bv := range brow {
			c0[j] += s0 * bv
			c1[j] += s1 * bv
			c2[j] += s2 * bv
			c3[j] += s3 * bv
		}
	}
}

// kernel1 adds alpha * a · B[:, j0:j1] to one row slice of C.
func kernel1(crow, bd, a []float32, j0, j1, n int, alpha float32) {
	w := j1 - j0
	for p, av := range a {
		s := alpha * av
		brow := bd[p*n+j0:][:w]
		for j, bv := range brow {
			crow[j] += s * bv
		}
	}
}
