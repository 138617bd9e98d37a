// disentangled.cu: the non-GEMM parts of DeBERTa's disentangled attention
// (backend.Disentangled). Around them, in cuBLAS strided-batched GEMMs over
// the heads split out as attention.cu splits them: S = Q·Kᵀ per (batch,
// head), C = Q·posKᵀ and D = K·posQᵀ ([seq, R] per (batch, head), R = 2·span
// relative buckets; posQ, posK the head's projections of the relative
// embeddings, shared by the batch), ctx = P'·V, and in the backward
// dQ = dS·K + dC·posK, dK = dSᵀ·Q + dD·posQ, dposK += dCᵀ·Q, dposQ += dDᵀ·K.
//
//   dis_softmax: one warp per score row (b, h, i). A padding query (key
//     mask 0 at i) gets a row of zeros; a real one the scores
//     scale·(S[i,j] + C[i,rel(i,j)] + D[j,rel(i,j)]) over the real keys, their
//     softmax in place over S (probs, before dropout) and, when p > 0, the
//     dropped probabilities P' as attn_softmax draws them (element
//     ((b·heads+h)·seq+i)·seq+j of the stream). The row's scores are added
//     in the CPU backend's order, (S + C) + D, then scaled.
//   dis_rel_grad: from dS (attn_softmax_backward's output, scale included),
//     dC[i,r] = Σ_j dS[i,j]·[rel(i,j) = r] and dD[j,r] = Σ_i dS[i,j]·[rel(i,j) = r].
//     One thread per (b, h, x) owns row x of dC and of dD and adds its terms
//     in increasing j (resp. i): the CPU backend's order, no atomics.
#include "common.cuh"
#include "math.cuh"
#include "philox.cuh"

// dis_softmax: probs holds S = Q·Kᵀ (unscaled) on entry and the
// probabilities on exit; c and d are C and D ([batch·heads, seq, r]), rel
// the bucket of each (query, key) [seq, seq].
KERNEL void dis_softmax(float* probs, float* pdrop, const float* c, const float* d, const int* rel,
                        const float* keyMask, int batch, int heads, int seq, int r, float scale, float p,
                        float keepScale, unsigned long long seed, unsigned long long step, unsigned id) {
  const int lane = threadIdx.x & 31;
  const long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const long long rows = (long long)batch * heads * seq;
  if (row >= rows) return;  // whole warps leave together
  const long long bh = row / seq, b = bh / heads;
  const int i = static_cast<int>(row % seq);
  const float* mask = keyMask + b * seq;
  float* pr = probs + row * seq;
  if (mask[i] == 0.0f) {  // the same for the whole warp: it leaves together
    for (int j = lane; j < seq; j += 32) {
      pr[j] = 0.0f;
      if (p > 0.0f) pdrop[row * seq + j] = 0.0f;
    }
    return;
  }
  const float* cr = c + row * r;
  const float* dm = d + bh * seq * r;
  const int* ri = rel + (long long)i * seq;
  float mx = -INFINITY;
  for (int j = lane; j < seq; j += 32) {
    if (mask[j] != 0.0f) {
      const int k = ri[j];
      const float s = scale * ((pr[j] + cr[k]) + dm[(long long)j * r + k]);
      pr[j] = s;
      mx = fmaxf(mx, s);
    }
  }
  mx = warp_max(mx);
  double sum = 0;
  for (int j = lane; j < seq; j += 32) {
    if (mask[j] != 0.0f) {
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
REGISTER_KERNEL(dis_softmax)

// dis_rel_grad: dc and dd ([bh, seq, r]) from ds ([bh, seq, seq]) and rel.
KERNEL void dis_rel_grad(float* dc, float* dd, const float* ds, const int* rel, int bh, int seq, int r) {
  GRID_STRIDE(t, (long long)bh * seq) {
    const long long m = t / seq;
    const int x = static_cast<int>(t % seq);
    float* dcr = dc + t * r;
    float* ddr = dd + t * r;
    for (int k = 0; k < r; ++k) {
      dcr[k] = 0.0f;
      ddr[k] = 0.0f;
    }
    const float* g = ds + m * seq * seq;
    const int* rx = rel + (long long)x * seq;
    for (int j = 0; j < seq; ++j) dcr[rx[j]] += g[(long long)x * seq + j];
    for (int i = 0; i < seq; ++i) ddr[rel[(long long)i * seq + x]] += g[(long long)i * seq + x];
  }
}
REGISTER_KERNEL(dis_rel_grad)
