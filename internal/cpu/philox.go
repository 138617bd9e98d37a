package cpu

import (
	"math"

	"github.com/mixft/mixft/internal/philox"
)

// fillWords writes s.Uint32(start+i) to dst[i], as s.Fill does: sixteen
// Philox4x32-10 blocks at a time in AVX-512 where the CPU has it, then two
// at a time in Go (the rounds of one block are a chain of dependent
// multiplies, so computing two side by side keeps the multiplier busy).
// The tests check it word for word against philox.
func fillWords(s philox.Stream, dst []uint32, start uint64) {
	if off := int(start % 4); off != 0 || len(dst) < 8 || start+uint64(len(dst)) > philox.MaxIndex {
		// Unaligned head (or a short or out-of-range fill): let philox do it.
		n := len(dst)
		if off != 0 {
			n = min(n, 4-off)
		}
		if len(dst) < 8 || start+uint64(len(dst)) > philox.MaxIndex {
			n = len(dst)
		}
		s.Fill(dst[:n], start)
		dst, start = dst[n:], start+uint64(n)
		if len(dst) == 0 {
			return
		}
	}
	k0, k1 := uint32(s.Seed), uint32(s.Seed>>32)
	id, st0, st1 := s.ID, uint32(s.Step), uint32(s.Step>>32)
	b := uint32(start / 4)
	if nb := philoxBulk(dst, b, id, st0, st1, k0, k1); nb > 0 {
		dst, b = dst[4*nb:], b+uint32(nb)
	}
	for len(dst) >= 8 {
		a0, a2 := b, st0
		c0, c2 := b+1, st0
		a1, a3, c1, c3 := id, st1, id, st1
		r0, r1 := k0, k1
		for r := 0; r < philox.Rounds; r++ {
			pa := uint64(philox.M0) * uint64(a0)
			qa := uint64(philox.M1) * uint64(a2)
			pc := uint64(philox.M0) * uint64(c0)
			qc := uint64(philox.M1) * uint64(c2)
			a0, a1, a2, a3 = uint32(qa>>32)^a1^r0, uint32(qa), uint32(pa>>32)^a3^r1, uint32(pa)
			c0, c1, c2, c3 = uint32(qc>>32)^c1^r0, uint32(qc), uint32(pc>>32)^c3^r1, uint32(pc)
			r0 += philox.W0
			r1 += philox.W1
		}
		d := (*[8]uint32)(dst)
		d[0], d[1], d[2], d[3] = a0, a1, a2, a3
		d[4], d[5], d[6], d[7] = c0, c1, c2, c3
		dst = dst[8:]
		b += 2
	}
	if len(dst) > 0 {
		s.Fill(dst, uint64(b)*4)
	}
}

// keepThreshold returns t with philox.Keep(w, p) == (w>>8 >= t) for every
// word w: Keep compares the exact value (w>>8)/2²⁴ with p, so it keeps w
// exactly when w>>8 >= ⌈p·2²⁴⌉.
func keepThreshold(p float32) uint32 {
	switch {
	case p != p:
		return math.MaxUint32 // Keep(w, NaN) is false
	case p <= 0:
		return 0
	case p >= 1:
		return 1 << 24
	}
	return uint32(math.Ceil(float64(p) * (1 << 24)))
}

// dropScale writes dst[j] = src[j]·scale where words[j] keeps it
// (words[j]>>8 >= thr, thr from keepThreshold), else 0: dropout of
// len(words) elements, vectorized where the CPU can (the same values).
// dst may be src.
func dropScale(dst, src []float32, words []uint32, thr uint32, scale float32) {
	dst, src = dst[:len(words)], src[:len(words)]
	for j := dropScaleBulk(dst, src, words, thr, scale); j < len(words); j++ {
		if words[j]>>8 >= thr {
			dst[j] = src[j] * scale
		} else {
			dst[j] = 0
		}
	}
}
