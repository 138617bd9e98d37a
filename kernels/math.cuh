// math.cuh: the per-element arithmetic of the kernels, as small host+device
// functions. The host tests (internal/gpu, tag kernelhost) call these
// directly and compare them with the Go implementations: internal/cpu for
// AdamW, mixout, dropout and the LayerNorm row math (bit-identical: the PTX
// is compiled with --fmad=false and these follow the Go code's operation
// order), float64 formulas for the activations.
#pragma once

#include "common.cuh"

// Activations: the values of backend.Activation.
#define ACT_GELU_ERF 0
#define ACT_GELU_TANH 1
#define ACT_RELU 2

#define MIXFT_SQRT1_2 0.70710678118654752440f
#define MIXFT_INV_SQRT_2PI 0.39894228040143267794f
#define MIXFT_SQRT_2_OVER_PI 0.79788456080286535588f
#define MIXFT_GELU_A 0.044715f

// norm_cdf is Φ(x) through erfc, accurate in the far left tail too (where
// 1 + erf(x/√2) would cancel).
HD float norm_cdf(float x) { return 0.5f * erfcf(-x * MIXFT_SQRT1_2); }

// gelu_erf is x·Φ(x) ("gelu").
HD float gelu_erf(float x) { return x * norm_cdf(x); }

// gelu_erf_grad is Φ(x) + x·φ(x).
HD float gelu_erf_grad(float x) { return norm_cdf(x) + x * (expf(-0.5f * x * x) * MIXFT_INV_SQRT_2PI); }

// gelu_tanh is ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³), written as
// x·σ(2u) = x / (1 + e^(−2u)), which does not cancel for negative x.
HD float gelu_tanh(float x) {
  const float u = MIXFT_SQRT_2_OVER_PI * (x + MIXFT_GELU_A * x * x * x);
  return x / (1.0f + expf(-2.0f * u));
}

// gelu_tanh_grad is ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²) with
// t = tanh u; with s = σ(2u): ½(1 + t) = s and ½(1 − t²) = 2s(1 − s),
// 1 − s = σ(−2u) computed on its own.
HD float gelu_tanh_grad(float x) {
  const float u = MIXFT_SQRT_2_OVER_PI * (x + MIXFT_GELU_A * x * x * x);
  const float s = 1.0f / (1.0f + expf(-2.0f * u));
  const float sm = 1.0f / (1.0f + expf(2.0f * u));
  const float du = MIXFT_SQRT_2_OVER_PI * (1.0f + 3.0f * MIXFT_GELU_A * x * x);
  return s + 2.0f * x * s * sm * du;
}

HD float relu(float x) { return x > 0.0f ? x : 0.0f; }
// relu_grad is 0 at 0, as torch's threshold_backward.
HD float relu_grad(float x) { return x > 0.0f ? 1.0f : 0.0f; }

HD float activate(float x, int act) {
  return act == ACT_GELU_ERF ? gelu_erf(x) : act == ACT_GELU_TANH ? gelu_tanh(x) : relu(x);
}

HD float activate_grad(float x, int act) {
  return act == ACT_GELU_ERF ? gelu_erf_grad(x) : act == ACT_GELU_TANH ? gelu_tanh_grad(x) : relu_grad(x);
}

// ---- LayerNorm row math (as internal/cpu, statistics in double) ----

// ln_rstd is 1/sqrt(var + eps) from the sum of squared deviations.
HD double ln_rstd(double sumSqDev, int cols, float eps) {
  return 1.0 / sqrt(sumSqDev / static_cast<double>(cols) + static_cast<double>(eps));
}

// ln_out is float32((x − mean)·rstd)·gamma + beta.
HD float ln_out(float x, double mean, double rstd, float gamma, float beta) {
  return static_cast<float>((static_cast<double>(x) - mean) * rstd) * gamma + beta;
}

// ln_grad_dx is float32(r·(g·dy − ΣG/n − x̂·ΣGX/n)), where sumG = Σ g·dy
// and sumGX = Σ g·dy·x̂ over the row, all in double.
HD float ln_grad_dx(float x, float dy, float gamma, double mean, double rstd, double sumG, double sumGX, int cols) {
  const double xhat = (static_cast<double>(x) - mean) * rstd;
  const double gj = static_cast<double>(dy) * static_cast<double>(gamma);
  const double n = static_cast<double>(cols);
  return static_cast<float>(rstd * (gj - sumG / n - xhat * sumGX / n));
}

// ---- masks, mixout ----

// dropout_apply is x·scale when kept, else 0 (scale = 1/(1−p) in float32).
HD float dropout_apply(float x, bool keep, float scale) { return keep ? x * scale : 0.0f; }

// bias_dropout_add is dropout(x + b) + r, the sum of a fused sublayer end
// (keep true and scale 1 without dropout), in the order of the unfused ops.
HD float bias_dropout_add(float x, float b, bool keep, float scale, float r) {
  return dropout_apply(x + b, keep, scale) + r;
}

// mixout_mix is W~ = U + M·(W − U)·inv, inv = 1/(1−p), in the Go order.
HD float mixout_mix(float w, float u, float m, float inv) { return u + m * (w - u) * inv; }

// mixout_grad accumulates g + gmix·M·scale.
HD float mixout_grad(float g, float gmix, float m, float scale) { return g + gmix * m * scale; }

// ---- AdamW (torch.optim.AdamW in float32, as internal/cpu) ----

// AdamWScalars are the step's float32 constants, computed on the host in
// float64 exactly as internal/cpu does.
struct AdamWScalars {
  float decay;     // 1 − lr·λ
  float lrwd;      // lr·λ
  float b1, b2;    // β1, β2
  float c1, c2;    // 1 − β1, 1 − β2
  float stepSize;  // lr / bias correction 1
  float bc2sqrt;   // sqrt(bias correction 2)
  float eps;
  float gradScale;
  int hasDecay;  // λ ≠ 0
};

// adamw_update applies one step to one element; target is used when
// hasTarget (decay toward it instead of toward 0).
HD void adamw_update(float* p, float g, float* m, float* v, bool hasTarget, float target, AdamWScalars s) {
  const float gi = g * s.gradScale;
  float pi = *p;
  if (s.hasDecay) {
    if (hasTarget) {
      pi -= s.lrwd * (pi - target);
    } else {
      pi *= s.decay;
    }
  }
  const float mi = *m * s.b1 + gi * s.c1;
  const float vi = *v * s.b2 + s.c2 * gi * gi;
  const float denom = sqrtf(vi) / s.bc2sqrt + s.eps;
  pi -= s.stepSize * (mi / denom);
  *p = pi;
  *m = mi;
  *v = vi;
}
