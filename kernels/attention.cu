// attention.cu: the non-GEMM parts of multi-head attention. The GEMMs
// (S = scale·Q·Kᵀ, ctx = P'·V and the four of the backward) run in cuBLAS as
// strided-batched products over the batch·heads pairs, on copies of Q, K, V
// rearranged from [batch, seq, heads, headDim] to [batch, heads, seq,
// headDim] (attn_split_heads; attn_merge_heads goes back; both take the
// row stride, so the packed qkv of the fused projection is read and its
// gradient written in place). In between:
//
//   attn_softmax: one warp per score row (b, h, i): the masked softmax over
//     the real keys (every key when the row's batch entry has none), written
//     in place over the scores (probs, before dropout), and when p > 0 the
//     dropped probabilities P' = P·keep/(1−p) for the P'·V product. The
//     keep decision of (b, h, i, j) is element ((b·heads+h)·seq+i)·seq+j of
//     the dropout stream, as the CPU backend.
//   attn_softmax_backward: with G = dctx·Vᵀ, dS = scale·(P'⊙G − P⊙rowsum(P'⊙G))
//     in place over G, and P' again (recomputed from P and the stream).
//
// A fused flash-style kernel would save the round trips of the score
// matrix; the interface stores probs anyway (the backward reads them).
#include "common.cuh"
#include "math.cuh"
#include "philox.cuh"

// attn_split_heads: out[b,h,s,d] = in[(b·seq+s)·ld + h·hd + d]: the heads
// of rows of ld elements (3·heads·hd for q, k or v in the packed qkv, in at
// the part's first column; heads·hd for dctx).
KERNEL void attn_split_heads(float* out, const float* in, int batch, int seq, int heads, int hd, int ld) {
  GRID_STRIDE(i, (long long)batch * seq * heads * hd) {
    const long long d = i % hd, r = i / hd;  // r = (b*heads + h)*seq + s
    const long long s = r % seq, bh = r / seq;
    const long long h = bh % heads, b = bh / heads;
    out[i] = in[(b * seq + s) * ld + h * hd + d];
  }
}
REGISTER_KERNEL(attn_split_heads)

// attn_merge_heads: out[(b·seq+s)·ld + h·hd + d] = in[b,h,s,d], the
// inverse of attn_split_heads.
KERNEL void attn_merge_heads(float* out, const float* in, int batch, int seq, int heads, int hd, int ld) {
  GRID_STRIDE(i, (long long)batch * seq * heads * hd) {
    const long long d = i % hd, r = i / hd;  // r = (b*seq + s)*heads + h
    const long long h = r % heads, bs = r / heads;
    const long long s = bs % seq, b = bs / seq;
    out[bs * ld + h * hd + d] = in[((b * heads + h) * seq + s) * hd + d];
  }
}
REGISTER_KERNEL(attn_merge_heads)

// attn_softmax: rows = batch·heads·seq score rows of seq entries, one warp
// each (blockDim.x a multiple of 32). probs holds the scaled scores on entry
// and the probabilities on exit; pdrop (when p > 0) gets P'.
KERNEL void attn_softmax(float* probs, float* pdrop, const float* keyMask, int batch, int heads, int seq, float p,
                         float keepScale, unsigned long long seed, unsigned long long step, unsigned id) {
  const int lane = threadIdx.x & 31;
  const long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const long long rows = (long long)batch * heads * seq;
  if (row >= rows) return;  // whole warps leave together
  const long long b = row / ((long long)heads * seq);
  const float* mask = keyMask + b * seq;
  float* pr = probs + row * seq;
  int real = 0;
  for (int j = lane; j < seq; j += 32) real += mask[j] != 0.0f;
  real = warp_sum(real);
  float mx = -INFINITY;
  for (int j = lane; j < seq; j += 32)
    if (real == 0 || mask[j] != 0.0f) mx = fmaxf(mx, pr[j]);
  mx = warp_max(mx);
  double sum = 0;
  for (int j = lane; j < seq; j += 32) {
    if (real == 0 || mask[j] != 0.0f) {
      const float e = expf(pr[j] - mx);
      pr[j] = e;
      sum += static_cast<double>(e);
    } else {
      pr[j] = 0.0f;
    }
  }
  sum = warp_sum(sum);
  const float inv = static_cast<float>(1.0 / sum);
  const PhiloxStream s = philox_stream(seed, step, id);
  for (int j = lane; j < seq; j += 32) {
    const float v = pr[j] * inv;
    pr[j] = v;
    if (p > 0.0f) {
      const bool keep = philox_keep(philox_stream_word(s, (unsigned long long)(row * seq + j)), p);
      pdrop[row * seq + j] = dropout_apply(v, keep, keepScale);
    }
  }
}
REGISTER_KERNEL(attn_softmax)

// attn_softmax_backward: per score row (one warp), g holds G = dctx·Vᵀ on
// entry and dS on exit; pdrop (when p > 0) gets P'.
KERNEL void attn_softmax_backward(float* g, float* pdrop, const float* probs, int rows, int seq, float scale,
                                  float p, float keepScale, unsigned long long seed, unsigned long long step,
                                  unsigned id) {
  const int lane = threadIdx.x & 31;
  const long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  if (row >= rows) return;
  const PhiloxStream s = philox_stream(seed, step, id);
  const float* pr = probs + row * seq;
  float* gr = g + row * seq;
  double dot = 0;
  for (int j = lane; j < seq; j += 32) {
    float pv = pr[j];
    if (p > 0.0f) {
      const bool keep = philox_keep(philox_stream_word(s, (unsigned long long)(row * seq + j)), p);
      pv = dropout_apply(pv, keep, keepScale);
      pdrop[row * seq + j] = pv;
    }
    dot += static_cast<double>(pv) * static_cast<double>(gr[j]);
  }
  const float d = static_cast<float>(warp_sum(dot));
  for (int j = lane; j < seq; j += 32) {
    const float pv = p > 0.0f ? pdrop[row * seq + j] : pr[j];
    gr[j] = scale * (pv * gr[j] - pr[j] * d);
  }
}
REGISTER_KERNEL(attn_softmax_backward)
