package cpu

import (
	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// The fused layer ops: each runs over a row at a time while it is in cache,
// with the arithmetic, in the same order, of the unfused ops it replaces, so
// that its results are theirs bit for bit (the bias gradients up to the
// order of their float64 sums).

// View implements backend.Backend.
func (*Backend) View(b backend.Buffer, off, n int) backend.Buffer {
	return &Tensor{Data: data(b).Data[off : off+n : off+n]}
}

// BiasActivate implements backend.Backend.
func (be *Backend) BiasActivate(out, x, bias backend.Buffer, rows, cols int, act backend.Activation) {
	o, xd, bd := data(out).Data[:rows*cols], data(x).Data[:rows*cols], data(bias).Data[:cols]
	be.parallel(rows, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xr, or := xd[i*cols:(i+1)*cols], o[i*cols:(i+1)*cols]
			addF32(xr, xr, bd)
			if act == backend.GeluErf {
				geluSlice(or, xr)
				continue
			}
			for j, v := range xr {
				or[j] = Activate(v, act)
			}
		}
	})
}

// BiasActivateBackward implements backend.Backend.
func (be *Backend) BiasActivateBackward(dx, db, dy, pre backend.Buffer, rows, cols int, act backend.Activation) {
	dxd, dyd, pd := data(dx).Data[:rows*cols], data(dy).Data[:rows*cols], data(pre).Data[:rows*cols]
	dbd := data(db).Data[:cols]
	be.rowChunkSums(rows, cols, [][]float32{dbd}, func(lo, hi int, sums [][]float64) {
		sb := sums[0]
		for i := lo; i < hi; i++ {
			dxr, dyr, pr := dxd[i*cols:(i+1)*cols], dyd[i*cols:(i+1)*cols], pd[i*cols:(i+1)*cols]
			if act == backend.GeluErf {
				geluGradSlice(dxr, dyr, pr)
			} else {
				for j, v := range pr {
					dxr[j] = float32(float64(dyr[j]) * activateGrad(float64(v), act))
				}
			}
			accF64(sb, dxr)
		}
	})
}

// BiasDropoutAddLayerNorm implements backend.Backend.
func (be *Backend) BiasDropoutAddLayerNorm(out, sum, mean, rstd, x, bias, residual, gamma, beta backend.Buffer, rows, cols int, eps, p float32, s philox.Stream) {
	n := rows * cols
	o, sd, xd, rd := data(out).Data[:n], data(sum).Data[:n], data(x).Data[:n], data(residual).Data[:n]
	md, sdv := data(mean).Data[:rows], data(rstd).Data[:rows]
	bd, g, b := data(bias).Data[:cols], data(gamma).Data[:cols], data(beta).Data[:cols]
	scale, thr := backend.KeepScale(p), keepThreshold(p)
	be.parallel(rows, func(lo, hi int) {
		var words []uint32
		if p > 0 {
			words = make([]uint32, cols)
		}
		for i := lo; i < hi; i++ {
			xr, rr, sr := xd[i*cols:(i+1)*cols], rd[i*cols:(i+1)*cols], sd[i*cols:(i+1)*cols]
			if p > 0 {
				fillWords(s, words, uint64(i*cols))
				addF32(sr, xr, bd)
				dropScale(sr, sr, words, thr, scale)
				addF32(sr, sr, rr)
			} else {
				addF32(sr, xr, bd)
				addF32(sr, sr, rr)
			}
			md[i], sdv[i] = layerNormRow(o[i*cols:(i+1)*cols], sr, g, b, eps)
		}
	})
}

// BiasDropoutAddLayerNormBackward implements backend.Backend.
func (be *Backend) BiasDropoutAddLayerNormBackward(dsum, dx, dgamma, dbeta, db, dy, sum, mean, rstd, gamma backend.Buffer, rows, cols int, p float32, s philox.Stream) {
	n := rows * cols
	dsd, dxd, dyd, sd := data(dsum).Data[:n], data(dx).Data[:n], data(dy).Data[:n], data(sum).Data[:n]
	md, rd, g := data(mean).Data[:rows], data(rstd).Data[:rows], data(gamma).Data[:cols]
	dg, dbe, dbd := data(dgamma).Data[:cols], data(dbeta).Data[:cols], data(db).Data[:cols]
	scale, thr := backend.KeepScale(p), keepThreshold(p)
	be.rowChunkSums(rows, cols, [][]float32{dg, dbe, dbd}, func(lo, hi int, sums [][]float64) {
		var words []uint32
		if p > 0 {
			words = make([]uint32, cols)
		}
		sb := sums[2]
		for i := lo; i < hi; i++ {
			r := i * cols
			dsr, dxr := dsd[r:r+cols], dxd[r:r+cols]
			layerNormBackwardRow(dsr, dyd[r:r+cols], sd[r:r+cols], g, md[i], rd[i], sums[0], sums[1])
			if p > 0 {
				fillWords(s, words, uint64(r))
				dropScale(dxr, dsr, words, thr, scale)
			} else {
				copy(dxr, dsr)
			}
			accF64(sb, dxr)
		}
	})
}
