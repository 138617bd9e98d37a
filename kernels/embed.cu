// embed.cu: the embeddings' gather-and-sum and its backward.
//
// The backward is an atomic-free scatter: the host groups the tokens by the
// table row they read (for the word, position and type tables alike) into
// segments (row, tokens in increasing order); one block column per segment
// owns its row and adds the tokens' gradients in token order, which is the
// order of the CPU backend's sequential loop, so the sums are bit-identical.
#include "common.cuh"

// embed_fwd: out[t,:] = word[ids[t],:] + pos[positions[t],:] + typ[types[t],:]
// (without the last term when withTyp is 0: a model without token types).
KERNEL void embed_fwd(float* out, const float* word, const float* pos, const float* typ, const int* ids,
                      const int* positions, const int* types, int withTyp, int tokens, int hidden) {
  GRID_STRIDE(i, (long long)tokens * hidden) {
    const long long t = i / hidden, j = i % hidden;
    const float w = word[(long long)ids[t] * hidden + j];
    const float p = pos[(long long)positions[t] * hidden + j];
    if (withTyp) {
      out[i] = w + p + typ[(long long)types[t] * hidden + j];
    } else {
      out[i] = w + p;
    }
  }
}
REGISTER_KERNEL(embed_fwd)

// embed_bwd_segments: seg holds rowOf[nseg], offs[nseg+1], toks[offs[nseg]];
// dst[rowOf[s],j] += Σ dy[toks[k],j] for k in offs[s]..offs[s+1], in order.
// Grid: (nseg, ceil(hidden / blockDim.x)).
KERNEL void embed_bwd_segments(float* dst, const float* dy, const int* seg, int nseg, int hidden) {
  const int s = blockIdx.x;
  const int j = blockIdx.y * blockDim.x + threadIdx.x;
  if (j >= hidden) return;
  const int* rowOf = seg;
  const int* offs = seg + nseg;
  const int* toks = offs + nseg + 1;
  float* d = dst + (long long)rowOf[s] * hidden + j;
  float acc = *d;
  for (int k = offs[s]; k < offs[s + 1]; ++k) acc += dy[(long long)toks[k] * hidden + j];
  *d = acc;
}
REGISTER_KERNEL(embed_bwd_segments)
