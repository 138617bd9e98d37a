// Package train finetunes a BERT model on a GLUE task: the regularizers of
// the mixout paper (dropout, weight decay toward zero or toward the
// pretrained weights, mixout), AdamW with Hugging Face's linear schedule and
// global-norm clipping, gradient accumulation, evaluation, checkpoints and
// exact resume.
package train

import (
	"math"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/model"
)

// Param is one parameter as the optimizer sees it.
type Param struct {
	Spec model.ParamSpec
	// P is the parameter, G its gradient, M and V Adam's moments.
	P, G, M, V backend.Buffer
	// Target is the weight-decay anchor (nil: decay toward zero).
	Target backend.Buffer
	// WeightDecay is λ for this parameter (0 for biases and LayerNorm).
	WeightDecay float64
	// LRScale multiplies the learning rate (layer-wise decay).
	LRScale float64
}

// AdamW is torch.optim.AdamW over a model's parameters, with
// clip_grad_norm_ applied to the whole gradient first.
type AdamW struct {
	Beta1, Beta2, Eps float64
	BiasCorrection    bool
	// MaxGradNorm clips the global gradient norm; 0 disables clipping.
	MaxGradNorm float64
	Params      []*Param
	// Steps is the number of steps taken (Adam's t after the next step is Steps+1).
	Steps int
	be    backend.Backend
}

// NewAdamW builds the optimizer state (zero moments) for every parameter.
func NewAdamW(be backend.Backend, params []*Param) *AdamW {
	o := &AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, BiasCorrection: true, MaxGradNorm: 1, Params: params, be: be}
	for _, p := range params {
		n := p.Spec.Size()
		p.M, p.V = be.Alloc(n), be.Alloc(n)
	}
	return o
}

// GradNorm is the global 2-norm of every gradient, as clip_grad_norm_ computes it.
func (o *AdamW) GradNorm() float64 {
	var ss float64
	for _, p := range o.Params {
		ss += o.be.SumSquares(p.G, p.Spec.Size())
	}
	return math.Sqrt(ss)
}

// ClipCoef is the factor clip_grad_norm_ multiplies every gradient by:
// min(1, max_norm / (norm + 1e-6)); 1 when clipping is off.
func ClipCoef(norm, maxNorm float64) float64 {
	if maxNorm <= 0 {
		return 1
	}
	return math.Min(1, maxNorm/(norm+1e-6))
}

// Step clips the gradients and applies one AdamW update at learning rate
// lr (each parameter's LRScale applied); it returns the gradient norm before
// clipping.
func (o *AdamW) Step(lr float64) float64 {
	norm := o.GradNorm()
	coef := float32(ClipCoef(norm, o.MaxGradNorm))
	o.Steps++
	for _, p := range o.Params {
		o.be.AdamW(p.P, p.G, p.M, p.V, p.Target, p.Spec.Size(), backend.AdamWParams{
			LR: lr * p.LRScale, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: p.WeightDecay,
			Step: o.Steps, BiasCorrection: o.BiasCorrection, GradScale: coef,
		})
	}
	return norm
}

// ZeroGrad clears every gradient.
func (o *AdamW) ZeroGrad() {
	for _, p := range o.Params {
		o.be.Zero(p.G, p.Spec.Size())
	}
}

// LinearSchedule is Hugging Face's get_linear_schedule_with_warmup: the
// learning-rate factor after s scheduler steps (s = optimizer steps taken
// before this one), rising linearly over warmup steps, then falling linearly
// to 0 at total.
func LinearSchedule(s, warmup, total int) float64 {
	if s < warmup {
		return float64(s) / float64(max(1, warmup))
	}
	return math.Max(0, float64(total-s)/float64(max(1, total-warmup)))
}
