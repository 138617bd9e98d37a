package cpu

import "math"

// Float32 GELU (the erf form) for the Activate and ActivateBackward ops:
// gelu(x) = x·Φ(x), gelu'(x) = Φ(x) + x·φ(x), with Φ and φ the standard
// normal distribution and density, interpolated from tables computed in
// float64: no exp, no division and no branch on the value in the loop.
// Outside [−8, 8], Φ is 0 or 1 to within 7e-16 and x·φ(x) is below 5e-14.

// normTabLo is the low end of the tables' range [−8, 8].
const normTabLo = -8

// Linear-interpolation tables for the bulk ops: Φ (forward) and
// G = Φ + x·φ = gelu' (backward) on [−8, 8] at step h = 1/512. The error of
// linear interpolation is below h²/8·max|f”|: 1.2e-7 for Φ (|Φ”| <= 0.242)
// and 3.7e-7 for G (|G”| <= 0.78), absolute. Each table is 32 KiB.
const (
	linPerX  = 512
	linSteps = 16 * linPerX
)

var cdfLin, gradLin = func() ([]float32, []float32) {
	c, g := make([]float32, linSteps+2), make([]float32, linSteps+2)
	for i := range c {
		x := normTabLo + float64(i)/linPerX
		cdf := 0.5 * math.Erfc(-x/math.Sqrt2)
		c[i] = float32(cdf)
		g[i] = float32(cdf + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi))
	}
	return c, g
}()

// tabulated interpolates tab (Φ or gelu' on the grid of step 1/linPerX over
// [normTabLo, −normTabLo]) linearly at x; 0 below the grid and 1 above, the
// limits of both functions.
func tabulated(tab []float32, x float32) float32 {
	switch {
	case !(x > normTabLo):
		return 0
	case x >= -normTabLo:
		return 1
	}
	// f = x·512 is exact; i its floor (or floor+1 when f+4096 rounds up, u
	// then a hair below 0); u = f − i exact.
	f := x * linPerX
	i := int32(f-normTabLo*linPerX) + normTabLo*linPerX
	u := f - float32(i)
	k := int(i) - normTabLo*linPerX
	c0, c1 := tab[k], tab[k+1]
	return c0 + u*(c1-c0)
}

// geluSlice writes o[i] = gelu(x[i]) = x·Φ(x), Φ interpolated linearly;
// the bulk vectorized where the CPU can (bit for bit the same).
func geluSlice(o, x []float32) {
	o = o[:len(x)]
	i := geluBulk(o, x, cdfLin)
	for j, xv := range x[i:] {
		o[i+j] = xv * tabulated(cdfLin, xv)
	}
}

// geluGradSlice writes dx[i] = dy[i]·gelu'(x[i]), gelu' interpolated
// linearly; the bulk vectorized where the CPU can (bit for bit the same).
func geluGradSlice(dx, dy, x []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	i := geluGradBulk(dx, dy, x, gradLin)
	for j, xv := range x[i:] {
		dx[i+j] = dy[i+j] * tabulated(gradLin, xv)
	}
}
