package backend

import "math"

// The scalar math of the training ops, written once: the model and every
// backend (the CPU's loops, the GPU's kernel arguments) take their scalars
// from here, so that they cannot drift apart.

// KeepScale is 1/(1−p) in float32 arithmetic: the factor by which dropout
// at probability p scales the elements it keeps, and by which Mixout
// scales W − U in its kept columns. Every backend's Dropout, Mixout and
// fused dropout ops use it.
func KeepScale(p float32) float32 { return 1 / (1 - p) }

// MixoutMode is which weight a training pass of a Linear under mixout uses.
type MixoutMode int

// The mixout modes.
const (
	// MixoutOff (p 0): W itself; no mask is drawn.
	MixoutOff MixoutMode = iota
	// MixoutMixed (0 < p < 1): W~ = U + M ⊙ (W − U)/(1 − p).
	MixoutMixed
	// MixoutTarget (p ≥ 1): U, every column replaced; no mask is drawn
	// and W gets no gradient.
	MixoutTarget
)

// MixoutModeOf is the mode of mixout at probability p.
func MixoutModeOf(p float32) MixoutMode {
	switch {
	case p == 0:
		return MixoutOff
	case p >= 1:
		return MixoutTarget
	}
	return MixoutMixed
}

// MixoutGradScale is the factor MixoutBackward applies to M ⊙ dL/dW~ to
// give dL/dW: the exact derivative's 1/(1−p), computed in float64 from the
// setting p and rounded once; 1 for the mixout authors' reference gradient
// (M ⊙ dL/dW~), and for p ≥ 1 (no column is kept).
func MixoutGradScale(p float64, reference bool) float32 {
	if reference || p >= 1 {
		return 1
	}
	return float32(1 / (1 - p))
}

// AdamWScalars are the float32 scalars of one AdamW step, computed from
// AdamWParams in float64 as torch.optim.AdamW does and rounded once. Per
// element, with g the gradient times GradScale:
//
//	p -= LRWD·(p − target)   or   p *= Decay   (when HasDecay)
//	m = m·B1 + g·C1;  v = v·B2 + C2·g·g
//	p -= StepSize · m / (sqrt(v)/BC2Sqrt + Eps)
//
// (kernels/math.cuh's adamw_update, and the CPU backend's loop.)
type AdamWScalars struct {
	Decay, LRWD, B1, B2, C1, C2, StepSize, BC2Sqrt, Eps, GradScale float32
	HasDecay                                                       bool
}

// Scalars computes the step's scalars.
func (h AdamWParams) Scalars() AdamWScalars {
	bc1, bc2 := 1.0, 1.0
	if h.BiasCorrection {
		bc1 = 1 - math.Pow(h.Beta1, float64(h.Step))
		bc2 = 1 - math.Pow(h.Beta2, float64(h.Step))
	}
	return AdamWScalars{
		Decay: float32(1 - h.LR*h.WeightDecay), LRWD: float32(h.LR * h.WeightDecay),
		B1: float32(h.Beta1), B2: float32(h.Beta2), C1: float32(1 - h.Beta1), C2: float32(1 - h.Beta2),
		StepSize: float32(h.LR / bc1), BC2Sqrt: float32(math.Sqrt(bc2)), Eps: float32(h.Eps), GradScale: h.GradScale,
		HasDecay: h.WeightDecay != 0,
	}
}
