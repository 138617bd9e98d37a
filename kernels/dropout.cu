// dropout.cu: Philox masks. Each thread draws one Philox block, i.e. four
// consecutive stream elements 4q..4q+3 (stream element i is the mask
// decision of element i: the streams start at 0 here).
#include "common.cuh"
#include "math.cuh"
#include "philox.cuh"

// dropout_fwd: out[i] = keep(i) ? x[i] / (1 - p) : 0 (out may be x);
// scale = 1/(1-p) computed in float32 on the host.
KERNEL void dropout_fwd(float* out, const float* x, long long n, float p, float scale,
                        unsigned long long seed, unsigned long long step, unsigned id) {
  const PhiloxStream s = philox_stream(seed, step, id);
  GRID_STRIDE(q, (n + 3) / 4) {
    const PhiloxWords w = philox_stream_block(s, static_cast<unsigned>(q));
    const long long i = q * 4;
    out[i] = dropout_apply(x[i], philox_keep(w.w0, p), scale);
    if (i + 1 < n) out[i + 1] = dropout_apply(x[i + 1], philox_keep(w.w1, p), scale);
    if (i + 2 < n) out[i + 2] = dropout_apply(x[i + 2], philox_keep(w.w2, p), scale);
    if (i + 3 < n) out[i + 3] = dropout_apply(x[i + 3], philox_keep(w.w3, p), scale);
  }
}
REGISTER_KERNEL(dropout_fwd)

// keep_mask: mask[i] = keep(i) ? 1 : 0.
KERNEL void keep_mask(float* mask, long long n, float p, unsigned long long seed, unsigned long long step,
                      unsigned id) {
  const PhiloxStream s = philox_stream(seed, step, id);
  GRID_STRIDE(q, (n + 3) / 4) {
    const PhiloxWords w = philox_stream_block(s, static_cast<unsigned>(q));
    const long long i = q * 4;
    mask[i] = philox_keep(w.w0, p) ? 1.0f : 0.0f;
    if (i + 1 < n) mask[i + 1] = philox_keep(w.w1, p) ? 1.0f : 0.0f;
    if (i + 2 < n) mask[i + 2] = philox_keep(w.w2, p) ? 1.0f : 0.0f;
    if (i + 3 < n) mask[i + 3] = philox_keep(w.w3, p) ? 1.0f : 0.0f;
  }
}
REGISTER_KERNEL(keep_mask)

// mixout_weights: wmix = U + M ⊙ (W − U)·inv for a rows×cols weight; M is
// mask[j] (per input column) or mask[i*cols+j] (perElement).
KERNEL void mixout_weights(float* wmix, const float* w, const float* u, const float* mask, long long rows, int cols,
                       float inv, int perElement) {
  GRID_STRIDE(k, rows * cols) {
    const float m = perElement ? mask[k] : mask[k % cols];
    wmix[k] = mixout_mix(w[k], u[k], m, inv);
  }
}
REGISTER_KERNEL(mixout_weights)

// mixout_backward: gw += gmix ⊙ M ⊙ scale.
KERNEL void mixout_backward(float* gw, const float* gmix, const float* mask, long long rows, int cols, float scale,
                            int perElement) {
  GRID_STRIDE(k, rows * cols) {
    const float m = perElement ? mask[k] : mask[k % cols];
    gw[k] = mixout_grad(gw[k], gmix[k], m, scale);
  }
}
REGISTER_KERNEL(mixout_backward)
