package backend

import "math"

// RopeTables returns cos and sin [seq, headDim/2] of RotaryAttention's
// angles i·θ_c, as transformers' rotary embeddings compute them in
// float32: θ_c = 1 / theta^(2c/headDim), angle = float32(i·θ_c). Every
// backend rotates with these tables (the GPU uploads them), so that the
// angles are the same bits everywhere.
func RopeTables(seq, headDim int, theta float32) (cos, sin []float32) {
	half := headDim / 2
	inv := make([]float32, half)
	for c := range inv {
		e := float32(2*c) / float32(headDim)
		inv[c] = 1 / float32(math.Pow(float64(theta), float64(e)))
	}
	cos, sin = make([]float32, seq*half), make([]float32, seq*half)
	for i := 0; i < seq; i++ {
		for c, f := range inv {
			a := float64(float32(i) * f)
			cos[i*half+c], sin[i*half+c] = float32(math.Cos(a)), float32(math.Sin(a))
		}
	}
	return cos, sin
}
