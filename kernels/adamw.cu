// adamw.cu: one AdamW step over one parameter tensor (torch.optim.AdamW's
// order: decoupled decay, moments, bias-corrected update), element by
// element as internal/cpu in float32 (see adamw_update in math.cuh). With
// hasTarget the decay pulls toward target (the pretrained weights) instead
// of toward zero.
#include "common.cuh"
#include "math.cuh"

KERNEL void adamw_step(float* p, const float* g, float* m, float* v, const float* target, int hasTarget,
                       long long n, float decay, float lrwd, float b1, float b2, float c1, float c2, float stepSize,
                       float bc2sqrt, float eps, float gradScale, int hasDecay) {
  AdamWScalars s;
  s.decay = decay;
  s.lrwd = lrwd;
  s.b1 = b1;
  s.b2 = b2;
  s.c1 = c1;
  s.c2 = c2;
  s.stepSize = stepSize;
  s.bc2sqrt = bc2sqrt;
  s.eps = eps;
  s.gradScale = gradScale;
  s.hasDecay = hasDecay;
  GRID_STRIDE(i, n) {
    float pi = p[i], mi = m[i], vi = v[i];
    adamw_update(&pi, g[i], &mi, &vi, hasTarget != 0, hasTarget ? target[i] : 0.0f, s);
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
  }
}
REGISTER_KERNEL(adamw_step)
