// rotary.cu: ModernBERT's attention (rotary position embeddings applied
// inside the kernel, optional sliding window, no seq×seq matrix) and the
// gated activation (GeGLU) of its feed-forward.
//
// Attention is flash-style, one warp per row:
//   rope_attn_fwd: one warp per query (b, h, i); the lanes split the head
//     dimension (lane l holds columns l, l+32, ... of at most kRopeMaxPerLane
//     each). The warp walks the real keys of the window in order with an
//     online softmax: the score s = scale·q'·k'ⱼ (rotated on the fly from the
//     cos/sin tables, a warp_sum per key), the running max m and sum l, and
//     ctx = Σ exp(s − m)·m_drop·vⱼ / l. It writes ctx and lse = m + log l
//     (+inf and a zero ctx row when the window has no real key).
//   rope_attn_bwd_dq: one warp per query: D_i = dctx_i·ctx_i (stored for the
//     next kernel), then over the keys P = exp(s − lse_i), G = dctx_i·vⱼ,
//     dS = P·(m_drop·G − D_i), dq' += scale·dS·k'ⱼ; dq' goes to dqkv's q part.
//   rope_attn_bwd_dkv: one warp per key j: over the queries whose window
//     holds j (none when j is padding), dv += P·m_drop·dctx_i and
//     dk' += scale·dS·q'_i, into dqkv's k and v parts.
//   rope_unrotate: dq and dk = the transpose rotation of dq' and dk', in place.
// Cost: O(seq·window·headDim) per head for a local layer, O(seq²·headDim)
// for a global one; memory O(seq) beyond the inputs. The dropout keep
// decision of (b, h, i, j) is element ((b·heads+h)·seq+i)·seq+j of the
// stream, as the CPU backend.
#include "common.cuh"
#include "math.cuh"
#include "philox.cuh"

// kRopeMaxPerLane bounds the head dimension at 32·kRopeMaxPerLane (256).
#define kRopeMaxPerLane 8

// rope_rot returns column d of the rotated row x (head dimension hd, angle
// table row cs/sn of half entries).
DEV float rope_rot(const float* x, int d, int hd, const float* cs, const float* sn) {
  const int half = hd / 2;
  if (d < half) return x[d] * cs[d] - x[d + half] * sn[d];
  return x[d] * cs[d - half] + x[d - half] * sn[d - half];
}

// rope_keep is the dropout multiplier of (bh, i, j).
DEV float rope_keep(PhiloxStream s, long long bh, int seq, int i, int j, float p, float keepScale) {
  if (p <= 0.0f) return 1.0f;
  const unsigned long long idx = ((unsigned long long)bh * seq + i) * seq + j;
  return philox_keep(philox_stream_word(s, idx), p) ? keepScale : 0.0f;
}

KERNEL void rope_attn_fwd(float* ctx, float* lse, const float* qkv, const float* keyMask, const float* cosT,
                          const float* sinT, int batch, int seq, int heads, int hd, int window, float scale, float p,
                          float keepScale, unsigned long long seed, unsigned long long step, unsigned id) {
  const int lane = threadIdx.x & 31;
  const long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  if (row >= (long long)batch * heads * seq) return;  // whole warps leave together
  const int i = (int)(row % seq);
  const long long bh = row / seq;
  const int h = (int)(bh % heads);
  const long long b = bh / heads;
  const int hidden = heads * hd, ld = 3 * hidden, half = hd / 2;
  const float* mask = keyMask + b * seq;
  const float* qrow = qkv + (b * seq + i) * ld + h * hd;
  float q[kRopeMaxPerLane], acc[kRopeMaxPerLane];
  for (int k = 0; k < kRopeMaxPerLane; ++k) {
    const int d = lane + 32 * k;
    q[k] = d < hd ? rope_rot(qrow, d, hd, cosT + (long long)i * half, sinT + (long long)i * half) * scale : 0.0f;
    acc[k] = 0.0f;
  }
  const PhiloxStream s = philox_stream(seed, step, id);
  const int lo = window < 0 ? 0 : max(0, i - window), hi = window < 0 ? seq : min(seq, i + window + 1);
  float m = -INFINITY;
  double l = 0;
  for (int j = lo; j < hi; ++j) {
    if (mask[j] == 0.0f) continue;
    const float* krow = qkv + (b * seq + j) * ld + hidden + h * hd;
    const float* vrow = krow + hidden;
    float part = 0.0f;
    for (int k = 0; k < kRopeMaxPerLane; ++k) {
      const int d = lane + 32 * k;
      if (d < hd) part += q[k] * rope_rot(krow, d, hd, cosT + (long long)j * half, sinT + (long long)j * half);
    }
    const float sc = warp_sum(part);
    const float mNew = fmaxf(m, sc);
    const float corr = expf(m - mNew), e = expf(sc - mNew);
    l = l * corr + e;
    const float w = e * rope_keep(s, bh, seq, i, j, p, keepScale);
    for (int k = 0; k < kRopeMaxPerLane; ++k) {
      const int d = lane + 32 * k;
      if (d < hd) acc[k] = acc[k] * corr + w * vrow[d];
    }
    m = mNew;
  }
  float* crow = ctx + (b * seq + i) * hidden + h * hd;
  const float inv = l > 0 ? static_cast<float>(1.0 / l) : 0.0f;
  for (int k = 0; k < kRopeMaxPerLane; ++k) {
    const int d = lane + 32 * k;
    if (d < hd) crow[d] = acc[k] * inv;
  }
  if (lane == 0) lse[row] = l > 0 ? m + static_cast<float>(log(l)) : INFINITY;
}
REGISTER_KERNEL(rope_attn_fwd)

KERNEL void rope_attn_bwd_dq(float* dqkv, float* dD, const float* dctx, const float* ctx, const float* lse,
                             const float* qkv, const float* keyMask, const float* cosT, const float* sinT, int batch,
                             int seq, int heads, int hd, int window, float scale, float p, float keepScale,
                             unsigned long long seed, unsigned long long step, unsigned id) {
  const int lane = threadIdx.x & 31;
  const long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  if (row >= (long long)batch * heads * seq) return;
  const int i = (int)(row % seq);
  const long long bh = row / seq;
  const int h = (int)(bh % heads);
  const long long b = bh / heads;
  const int hidden = heads * hd, ld = 3 * hidden, half = hd / 2;
  const float* mask = keyMask + b * seq;
  const float* qrow = qkv + (b * seq + i) * ld + h * hd;
  const float* dcrow = dctx + (b * seq + i) * hidden + h * hd;
  const float* crow = ctx + (b * seq + i) * hidden + h * hd;
  float q[kRopeMaxPerLane], dc[kRopeMaxPerLane], dq[kRopeMaxPerLane];
  float dpart = 0.0f;
  for (int k = 0; k < kRopeMaxPerLane; ++k) {
    const int d = lane + 32 * k;
    q[k] = d < hd ? rope_rot(qrow, d, hd, cosT + (long long)i * half, sinT + (long long)i * half) * scale : 0.0f;
    dc[k] = d < hd ? dcrow[d] : 0.0f;
    dpart += d < hd ? dc[k] * crow[d] : 0.0f;
    dq[k] = 0.0f;
  }
  const float D = warp_sum(dpart);
  if (lane == 0) dD[row] = D;
  const float L = lse[row];
  const PhiloxStream s = philox_stream(seed, step, id);
  const int lo = window < 0 ? 0 : max(0, i - window), hi = window < 0 ? seq : min(seq, i + window + 1);
  for (int j = lo; j < hi && L != INFINITY; ++j) {
    if (mask[j] == 0.0f) continue;
    const float* krow = qkv + (b * seq + j) * ld + hidden + h * hd;
    const float* vrow = krow + hidden;
    float sp = 0.0f, gp = 0.0f, kr[kRopeMaxPerLane];
    for (int k = 0; k < kRopeMaxPerLane; ++k) {
      const int d = lane + 32 * k;
      kr[k] = d < hd ? rope_rot(krow, d, hd, cosT + (long long)j * half, sinT + (long long)j * half) : 0.0f;
      sp += q[k] * kr[k];
      gp += d < hd ? dc[k] * vrow[d] : 0.0f;
    }
    const float sc = warp_sum(sp), g = warp_sum(gp);
    const float P = expf(sc - L);
    const float dS = P * (rope_keep(s, bh, seq, i, j, p, keepScale) * g - D);
    for (int k = 0; k < kRopeMaxPerLane; ++k) dq[k] += dS * kr[k];
  }
  float* out = dqkv + (b * seq + i) * ld + h * hd;
  for (int k = 0; k < kRopeMaxPerLane; ++k) {
    const int d = lane + 32 * k;
    if (d < hd) out[d] = dq[k] * scale;
  }
}
REGISTER_KERNEL(rope_attn_bwd_dq)

KERNEL void rope_attn_bwd_dkv(float* dqkv, const float* dD, const float* dctx, const float* lse, const float* qkv,
                              const float* keyMask, const float* cosT, const float* sinT, int batch, int seq,
                              int heads, int hd, int window, float scale, float p, float keepScale,
                              unsigned long long seed, unsigned long long step, unsigned id) {
  const int lane = threadIdx.x & 31;
  const long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  if (row >= (long long)batch * heads * seq) return;
  const int j = (int)(row % seq);
  const long long bh = row / seq;
  const int h = (int)(bh % heads);
  const long long b = bh / heads;
  const int hidden = heads * hd, ld = 3 * hidden, half = hd / 2;
  const float* krow = qkv + (b * seq + j) * ld + hidden + h * hd;
  const float* vrow = krow + hidden;
  float kr[kRopeMaxPerLane], v[kRopeMaxPerLane], dk[kRopeMaxPerLane], dv[kRopeMaxPerLane];
  for (int k = 0; k < kRopeMaxPerLane; ++k) {
    const int d = lane + 32 * k;
    kr[k] = d < hd ? rope_rot(krow, d, hd, cosT + (long long)j * half, sinT + (long long)j * half) : 0.0f;
    v[k] = d < hd ? vrow[d] : 0.0f;
    dk[k] = dv[k] = 0.0f;
  }
  const PhiloxStream s = philox_stream(seed, step, id);
  const bool real = keyMask[b * seq + j] != 0.0f;
  const int lo = window < 0 ? 0 : max(0, j - window), hi = window < 0 ? seq : min(seq, j + window + 1);
  for (int i = lo; i < hi && real; ++i) {
    const long long qr = bh * seq + i;
    const float L = lse[qr];
    if (L == INFINITY) continue;
    const float* qrow = qkv + (b * seq + i) * ld + h * hd;
    const float* dcrow = dctx + (b * seq + i) * hidden + h * hd;
    float sp = 0.0f, gp = 0.0f, q[kRopeMaxPerLane], dc[kRopeMaxPerLane];
    for (int k = 0; k < kRopeMaxPerLane; ++k) {
      const int d = lane + 32 * k;
      q[k] = d < hd ? rope_rot(qrow, d, hd, cosT + (long long)i * half, sinT + (long long)i * half) * scale : 0.0f;
      dc[k] = d < hd ? dcrow[d] : 0.0f;
      sp += q[k] * kr[k];
      gp += dc[k] * v[k];
    }
    const float sc = warp_sum(sp), g = warp_sum(gp);
    const float P = expf(sc - L), keep = rope_keep(s, bh, seq, i, j, p, keepScale);
    const float dS = P * (keep * g - dD[qr]);
    for (int k = 0; k < kRopeMaxPerLane; ++k) {
      dv[k] += P * keep * dc[k];
      dk[k] += dS * q[k];
    }
  }
  float* outK = dqkv + (b * seq + j) * ld + hidden + h * hd;
  for (int k = 0; k < kRopeMaxPerLane; ++k) {
    const int d = lane + 32 * k;
    if (d < hd) {
      outK[d] = dk[k];
      outK[hidden + d] = dv[k];
    }
  }
}
REGISTER_KERNEL(rope_attn_bwd_dkv)

// rope_unrotate: for the q and k parts of every row of dqkv, each pair
// (c, c+half) of each head is replaced by its transpose rotation.
KERNEL void rope_unrotate(float* dqkv, const float* cosT, const float* sinT, int batch, int seq, int heads, int hd) {
  const int half = hd / 2, hidden = heads * hd;
  GRID_STRIDE(x, (long long)batch * seq * 2 * heads * half) {
    const int c = (int)(x % half);
    const long long r = x / half;  // ((t·2 + part)·heads + h)
    const int h = (int)(r % heads);
    const long long tp = r / heads;
    const int part = (int)(tp % 2);
    const long long t = tp / 2;
    const int i = (int)(t % seq);
    float* row = dqkv + t * 3 * hidden + part * hidden + h * hd;
    const float cs = cosT[(long long)i * half + c], sn = sinT[(long long)i * half + c];
    const float g1 = row[c], g2 = row[c + half];
    row[c] = g1 * cs + g2 * sn;
    row[c + half] = g2 * cs - g1 * sn;
  }
}
REGISTER_KERNEL(rope_unrotate)

// gated_activate: out[r, j] = act(x[r, j]) · x[r, cols+j] for x [rows, 2·cols].
KERNEL void gated_activate(float* out, const float* x, long long rows, int cols, int act) {
  GRID_STRIDE(i, rows * cols) {
    const long long r = i / cols, j = i % cols;
    out[i] = activate(x[2 * r * cols + j], act) * x[(2 * r + 1) * cols + j];
  }
}
REGISTER_KERNEL(gated_activate)

// gated_activate_backward: dx of gated_activate from dy.
KERNEL void gated_activate_backward(float* dx, const float* dy, const float* x, long long rows, int cols, int act) {
  GRID_STRIDE(i, rows * cols) {
    const long long r = i / cols, j = i % cols;
    const float a = x[2 * r * cols + j], g = x[(2 * r + 1) * cols + j];
    dx[2 * r * cols + j] = dy[i] * g * activate_grad(a, act);
    dx[(2 * r + 1) * cols + j] = dy[i] * activate(a, act);
  }
}
REGISTER_KERNEL(gated_activate_backward)
