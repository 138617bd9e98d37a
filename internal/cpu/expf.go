package cpu

import "math"

// expf is e^x in float32 to within 2 ulp, for the softmax and GELU: x =
// n·ln2 + r with |r| <= ln2/2 (n rounded by the 1.5·2²³ trick, no branch),
// e^r by Cephes' degree-6 polynomial, scaled by 2^n built in the exponent
// bits. Inputs below -87.33 give 0 (where e^x leaves float32's normal
// range); above 88 it falls back to math.Exp.
func expf(x float32) float32 {
	if !(x > -87.33654) {
		if x != x {
			return x
		}
		return 0
	}
	if x > 88 {
		return float32(math.Exp(float64(x)))
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
		magic = 12582912 // 1.5·2²³: adding it rounds to an integer in the low mantissa bits
	)
	t := x*log2e + magic
	n := t - magic
	ni := int32(math.Float32bits(t)&0x7fffff) - 0x400000
	r := x - n*ln2hi
	r -= n * ln2lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	return y * math.Float32frombits(uint32(ni+127)<<23)
}
