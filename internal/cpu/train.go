package cpu

import (
	"math"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// dropChunk is how many mask words one goroutine draws at a time.
const dropChunk = 4096

// Dropout implements backend.Backend.
func (be *Backend) Dropout(out, x backend.Buffer, n int, p float32, s philox.Stream) {
	o, xd := data(out).Data[:n], data(x).Data[:n]
	scale := backend.KeepScale(p)
	thr := keepThreshold(p)
	chunks := (n + dropChunk - 1) / dropChunk
	be.parallel(chunks, func(lo, hi int) {
		var words [dropChunk]uint32
		for c := lo; c < hi; c++ {
			i0 := c * dropChunk
			i1 := min(i0+dropChunk, n)
			w := words[:i1-i0]
			fillWords(s, w, uint64(i0))
			dropScale(o[i0:i1], xd[i0:i1], w, thr, scale)
		}
	})
}

// KeepMask implements backend.Backend.
func (*Backend) KeepMask(mask backend.Buffer, n int, p float32, s philox.Stream) {
	s.KeepMask(data(mask).Data[:n], 0, p)
}

// Mixout implements backend.Backend.
func (be *Backend) Mixout(wmix, w, u, mask backend.Buffer, rows, cols int, p float32, perElement bool) {
	o, wd, ud, md := data(wmix).Data[:rows*cols], data(w).Data[:rows*cols], data(u).Data[:rows*cols], data(mask).Data
	inv := backend.KeepScale(p)
	be.parallel(rows, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			m := md[:cols]
			if perElement {
				m = md[i*cols : (i+1)*cols]
			}
			r := i * cols
			mixRow(o[r:r+cols], wd[r:r+cols], ud[r:r+cols], m, inv)
		}
	})
}

// MixoutBackward implements backend.Backend.
func (be *Backend) MixoutBackward(gw, gmix, mask backend.Buffer, rows, cols int, scale float32, perElement bool) {
	g, gm, md := data(gw).Data[:rows*cols], data(gmix).Data[:rows*cols], data(mask).Data
	be.parallel(rows, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			m := md[:cols]
			if perElement {
				m = md[i*cols : (i+1)*cols]
			}
			r := i * cols
			mixGradRow(g[r:r+cols], gm[r:r+cols], m, scale)
		}
	})
}

// mixRow writes one row of mixout's mixed weight, o[j] = u[j] +
// m[j]·(w[j]-u[j])·inv; mixRowBulk does what it can vectorized.
func mixRow(o, w, u, m []float32, inv float32) {
	w, u, m = w[:len(o)], u[:len(o)], m[:len(o)]
	for j := mixRowBulk(o, w, u, m, inv); j < len(o); j++ {
		o[j] = u[j] + m[j]*(w[j]-u[j])*inv
	}
}

// mixGradRow adds one row of mixout's backward, gw[j] += gm[j]·m[j]·scale;
// mixGradRowBulk does what it can vectorized.
func mixGradRow(gw, gm, m []float32, scale float32) {
	gm, m = gm[:len(gw)], m[:len(gw)]
	for j := mixGradRowBulk(gw, gm, m, scale); j < len(gw); j++ {
		gw[j] += gm[j] * m[j] * scale
	}
}

// LayerNormBackward implements backend.Backend, in float64 per row.
func (be *Backend) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma backend.Buffer, rows, cols int) {
	dxd, dyd, xd := data(dx).Data[:rows*cols], data(dy).Data[:rows*cols], data(x).Data[:rows*cols]
	md, rd, g := data(mean).Data[:rows], data(rstd).Data[:rows], data(gamma).Data[:cols]
	dg, db := data(dgamma).Data[:cols], data(dbeta).Data[:cols]
	be.rowChunkSums(rows, cols, [][]float32{dg, db}, func(lo, hi int, sums [][]float64) {
		for i := lo; i < hi; i++ {
			r := i * cols
			layerNormBackwardRow(dxd[r:r+cols], dyd[r:r+cols], xd[r:r+cols], g, md[i], rd[i], sums[0], sums[1])
		}
	})
}

// rowChunk is the block of rows whose column sums rowChunkSums computes on
// their own.
const rowChunk = 64

// rowChunkSums runs fn over fixed blocks of rowChunk rows in parallel; fn
// adds float64 column sums of its rows [lo, hi) into sums[k] (cols
// elements each, zeroed), and then dst[k][j] += float32 of the blocks' sums,
// added in block order: the result does not depend on the number of
// workers. The partial sums live in one slab kept across calls.
func (be *Backend) rowChunkSums(rows, cols int, dst [][]float32, fn func(lo, hi int, sums [][]float64)) {
	blocks, k := (rows+rowChunk-1)/rowChunk, len(dst)
	be.mu.Lock()
	slab := be.sums
	be.sums = nil
	be.mu.Unlock()
	if cap(slab) < blocks*k*cols {
		slab = make([]float64, blocks*k*cols)
	}
	slab = slab[:blocks*k*cols]
	part := func(b, i int) []float64 { return slab[(b*k+i)*cols:][:cols] }
	be.parallel(blocks, func(lo, hi int) {
		sums := make([][]float64, k)
		for b := lo; b < hi; b++ {
			for i := range sums {
				sums[i] = part(b, i)
				clear(sums[i])
			}
			fn(b*rowChunk, min((b+1)*rowChunk, rows), sums)
		}
	})
	for i, d := range dst {
		for j := range d[:cols] {
			var s float64
			for b := 0; b < blocks; b++ {
				s += part(b, i)[j]
			}
			d[j] += float32(s)
		}
	}
	be.mu.Lock()
	be.sums = slab
	be.mu.Unlock()
}

// layerNormBackwardRow writes the LayerNorm backward dx of one row (input x,
// upstream dy, statistics mu and rstd) and adds dy·x̂ and dy to the column
// sums pg and pb, in float64. layerNormSumsBulk and layerNormDxBulk do
// what they can of its two passes vectorized (the same operations; the row
// sums in other partial sums).
func layerNormBackwardRow(dxr, dyr, xr, g []float32, mu32, rstd32 float32, pg, pb []float64) {
	mu, r := float64(mu32), float64(rstd32)
	dyr, dxr = dyr[:len(xr)], dxr[:len(xr)]
	g, pg, pb = g[:len(xr)], pg[:len(xr)], pb[:len(xr)]
	// Two partial sums of each (even and odd j) halve the chains of
	// dependent adds.
	j, sumG0, sumGX0 := layerNormSumsBulk(dyr, xr, g, pg, pb, mu, r)
	var sumG1, sumGX1 float64
	for ; j+2 <= len(xr); j += 2 {
		xh0, xh1 := (float64(xr[j])-mu)*r, (float64(xr[j+1])-mu)*r
		dy0, dy1 := float64(dyr[j]), float64(dyr[j+1])
		g0, g1 := dy0*float64(g[j]), dy1*float64(g[j+1])
		sumG0 += g0
		sumG1 += g1
		sumGX0 += g0 * xh0
		sumGX1 += g1 * xh1
		pg[j] += dy0 * xh0
		pg[j+1] += dy1 * xh1
		pb[j] += dy0
		pb[j+1] += dy1
	}
	for ; j < len(xr); j++ {
		xhat := (float64(xr[j]) - mu) * r
		gj := float64(dyr[j]) * float64(g[j])
		sumG0 += gj
		sumGX0 += gj * xhat
		pg[j] += float64(dyr[j]) * xhat
		pb[j] += float64(dyr[j])
	}
	sumG, sumGX := sumG0+sumG1, sumGX0+sumGX1
	n := float64(len(xr))
	for j := layerNormDxBulk(dxr, dyr, xr, g, mu, r, sumG/n, sumGX, n); j < len(xr); j++ {
		xhat := (float64(xr[j]) - mu) * r
		gj := float64(dyr[j]) * float64(g[j])
		dxr[j] = float32(r * (gj - sumG/n - xhat*sumGX/n))
	}
}

// ActivateBackward implements backend.Backend.
func (be *Backend) ActivateBackward(dx, dy, x backend.Buffer, n int, act backend.Activation) {
	o, dyd, xd := data(dx).Data[:n], data(dy).Data[:n], data(x).Data[:n]
	be.parallel(n, func(lo, hi int) {
		if act == backend.GeluErf {
			geluGradSlice(o[lo:hi], dyd[lo:hi], xd[lo:hi])
			return
		}
		for i := lo; i < hi; i++ {
			o[i] = float32(float64(dyd[i]) * activateGrad(float64(xd[i]), act))
		}
	})
}

// activateGrad is the derivative of the activation at x.
func activateGrad(x float64, act backend.Activation) float64 {
	switch act {
	case backend.GeluErf:
		cdf := 0.5 * (1 + math.Erf(x/math.Sqrt2))
		pdf := math.Exp(-0.5*x*x) / math.Sqrt(2*math.Pi)
		return cdf + x*pdf
	case backend.GeluTanh:
		const c = 0.7978845608028654 // sqrt(2/pi)
		u := c * (x + 0.044715*x*x*x)
		t := math.Tanh(u)
		return 0.5*(1+t) + 0.5*x*(1-t*t)*c*(1+3*0.044715*x*x)
	case backend.ReLU:
		if x > 0 {
			return 1
		}
		return 0
	}
	panic("cpu: unknown activation")
}

// TanhBackward implements backend.Backend.
func (*Backend) TanhBackward(dx, dy, y backend.Buffer, n int) {
	o, dyd, yd := data(dx).Data[:n], data(dy).Data[:n], data(y).Data[:n]
	for i := range o {
		o[i] = dyd[i] * (1 - yd[i]*yd[i])
	}
}

// BiasGrad implements backend.Backend, summing each column in float64.
func (be *Backend) BiasGrad(db, dy backend.Buffer, rows, cols int) {
	d, dyd := data(db).Data[:cols], data(dy).Data[:rows*cols]
	be.parallel(cols, func(lo, hi int) {
		acc := make([]float64, hi-lo)
		w := hi - lo
		i := 0
		// Four rows per pass: a quarter of the accumulator loads and stores.
		for ; i+4 <= rows; i += 4 {
			r0 := dyd[i*cols+lo:][:w]
			r1 := dyd[(i+1)*cols+lo:][:w]
			r2 := dyd[(i+2)*cols+lo:][:w]
			r3 := dyd[(i+3)*cols+lo:][:w]
			a := acc[:w]
			for j := range a {
				a[j] += (float64(r0[j]) + float64(r1[j])) + (float64(r2[j]) + float64(r3[j]))
			}
		}
		for ; i < rows; i++ {
			row := dyd[i*cols+lo:][:w]
			a := acc[:w]
			for j, v := range row {
				a[j] += float64(v)
			}
		}
		for j, v := range acc {
			d[lo+j] += float32(v)
		}
	})
}

// EmbedBackward implements backend.Backend.
func (*Backend) EmbedBackward(dword, dpos, dtyp, dy backend.Buffer, ids, positions, types []int32, batch, seq, hidden, padID int) {
	dw, dp, dyd := data(dword).Data, data(dpos).Data, data(dy).Data
	var dt []float32
	if dtyp != nil {
		dt = data(dtyp).Data
	}
	for t := 0; t < batch*seq; t++ {
		g := dyd[t*hidden : (t+1)*hidden]
		pr := dp[int(positions[t])*hidden:][:hidden]
		addF32(pr, pr, g)
		if dt != nil {
			tr := dt[int(types[t])*hidden:][:hidden]
			addF32(tr, tr, g)
		}
		if int(ids[t]) == padID {
			continue
		}
		wr := dw[int(ids[t])*hidden:][:hidden]
		addF32(wr, wr, g)
	}
}

// FirstTokenBackward implements backend.Backend.
func (be *Backend) FirstTokenBackward(dx, dcls backend.Buffer, batch, seq, hidden int) {
	o, d := data(dx).Data[:batch*seq*hidden], data(dcls).Data
	be.parallelElems(len(o), func(lo, hi int) { clear(o[lo:hi]) })
	for b := 0; b < batch; b++ {
		copy(o[b*seq*hidden:b*seq*hidden+hidden], d[b*hidden:(b+1)*hidden])
	}
}

// CrossEntropy implements backend.Backend, in float64 per row.
func (*Backend) CrossEntropy(dlogits, logits backend.Buffer, labels []int32, batch, classes int, gradScale float32) float64 {
	dl, l := data(dlogits).Data[:batch*classes], data(logits).Data[:batch*classes]
	var loss float64
	for b := 0; b < batch; b++ {
		row := l[b*classes : (b+1)*classes]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(sum)
		y := int(labels[b])
		loss += lse - float64(row[y])
		for j, v := range row {
			p := math.Exp(float64(v) - lse)
			if j == y {
				p--
			}
			dl[b*classes+j] = float32(p * float64(gradScale) / float64(batch))
		}
	}
	return loss / float64(batch)
}

// MSE implements backend.Backend.
func (*Backend) MSE(dlogits, logits backend.Buffer, targets []float32, batch int, gradScale float32) float64 {
	dl, l := data(dlogits).Data[:batch], data(logits).Data[:batch]
	var loss float64
	for b := 0; b < batch; b++ {
		d := float64(l[b]) - float64(targets[b])
		loss += d * d
		dl[b] = float32(2 * d * float64(gradScale) / float64(batch))
	}
	return loss / float64(batch)
}

// Zero implements backend.Backend.
func (be *Backend) Zero(x backend.Buffer, n int) {
	d := data(x).Data[:n]
	be.parallelElems(n, func(lo, hi int) { clear(d[lo:hi]) })
}

// Scale implements backend.Backend.
func (be *Backend) Scale(x backend.Buffer, n int, s float32) {
	d := data(x).Data[:n]
	be.parallelElems(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] *= s
		}
	})
}

// sumChunk is the block SumSquares sums on its own before adding the blocks
// in order: the result does not depend on the number of workers.
const sumChunk = 1 << 14

// SumSquares implements backend.Backend: float64 sums of fixed blocks,
// added in order.
func (be *Backend) SumSquares(x backend.Buffer, n int) float64 {
	d := data(x).Data[:n]
	blocks := (n + sumChunk - 1) / sumChunk
	var stack [64]float64
	part := stack[:0]
	if blocks <= len(stack) {
		part = stack[:blocks]
	} else {
		part = make([]float64, blocks)
	}
	sum := func(lo, hi int) {
		for b := lo; b < hi; b++ {
			var s float64
			for _, v := range d[b*sumChunk : min((b+1)*sumChunk, n)] {
				s += float64(v) * float64(v)
			}
			part[b] = s
		}
	}
	if n < parallelMin {
		sum(0, blocks)
	} else {
		be.parallel(blocks, sum)
	}
	var s float64
	for _, v := range part {
		s += v
	}
	return s
}

// AdamW implements backend.Backend with torch.optim.AdamW's operations in
// float32 and its scalars computed in float64, as torch does
// (AdamWParams.Scalars).
func (be *Backend) AdamW(p, g, m, v, target backend.Buffer, n int, h backend.AdamWParams) {
	pd, gd, md, vd := data(p).Data[:n], data(g).Data[:n], data(m).Data[:n], data(v).Data[:n]
	var td []float32
	if target != nil {
		td = data(target).Data[:n]
	}
	sc := h.Scalars()
	be.parallel(n, func(lo, hi int) {
		var t []float32
		if td != nil {
			t = td[lo:hi]
		}
		adamwRange(pd[lo:hi], gd[lo:hi], md[lo:hi], vd[lo:hi], t, &sc)
	})
}

// adamwRange is AdamW's update of p from g with the moments m and v (and
// with weight decay toward t when t is not nil, mixout's target, else
// toward zero). adamwBulk does what it can vectorized, bit for bit this
// loop.
func adamwRange(p, g, m, v, t []float32, sc *backend.AdamWScalars) {
	decay, lrwd, b1, b2, c1, c2, stepSize, bc2sqrt, eps := sc.Decay, sc.LRWD, sc.B1, sc.B2, sc.C1, sc.C2, sc.StepSize, sc.BC2Sqrt, sc.Eps
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	for i := adamwBulk(p, g, m, v, t, sc); i < len(p); i++ {
		gi := g[i] * sc.GradScale
		if sc.HasDecay {
			if t != nil {
				p[i] -= lrwd * (p[i] - t[i])
			} else {
				p[i] *= decay
			}
		}
		m[i] = m[i]*b1 + gi*c1
		v[i] = v[i]*b2 + c2*gi*gi
		denom := float32(math.Sqrt(float64(v[i])))/bc2sqrt + eps
		p[i] -= stepSize * (m[i] / denom)
	}
}
