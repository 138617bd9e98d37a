// reduce.cu: Σ x² in double (the global gradient norm is the root of the
// sum over every parameter). Two passes: blocks of fixed chunks, then one
// block over the chunk sums; the grid depends only on n, so the result is
// the same on every run and every card.
#include "common.cuh"

// sumsq_partial: part[blockIdx.x] = Σ x[i]² over chunk blockIdx.x of
// chunk elements.
KERNEL void sumsq_partial(double* part, const float* x, long long n, int chunk) {
  const long long lo = (long long)blockIdx.x * chunk;
  const long long hi = lo + chunk < n ? lo + chunk : n;
  double s = 0;
  for (long long i = lo + threadIdx.x; i < hi; i += blockDim.x) {
    const double v = static_cast<double>(x[i]);
    s += v * v;
  }
  s = block_sum(s);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}
REGISTER_KERNEL(sumsq_partial)

// sumsq_finish: out[0] = Σ part[0..nparts) (one block).
KERNEL void sumsq_finish(double* out, const double* part, int nparts) {
  double s = 0;
  for (int i = threadIdx.x; i < nparts; i += blockDim.x) s += part[i];
  s = block_sum(s);
  if (threadIdx.x == 0) out[0] = s;
}
REGISTER_KERNEL(sumsq_finish)

// sumsq_multi_partial: Σx² over many tensors in one launch. Tensor k has
// ns[k] elements at ptrs[k] and owns blocks partStart[k]..partStart[k+1]
// of the grid (one per chunk of its elements); block b writes part[b].
KERNEL void sumsq_multi_partial(double* part, const unsigned long long* ptrs, const long long* ns,
                                const int* partStart, int nkeys, int chunk) {
  const int b = blockIdx.x;
  int lo = 0, hi = nkeys - 1;  // the k with partStart[k] <= b < partStart[k+1]
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (partStart[mid] <= b)
      lo = mid;
    else
      hi = mid - 1;
  }
  const float* x = reinterpret_cast<const float*>(ptrs[lo]);
  const long long n = ns[lo];
  const long long i0 = (long long)(b - partStart[lo]) * chunk;
  const long long i1 = i0 + chunk < n ? i0 + chunk : n;
  double s = 0;
  for (long long i = i0 + threadIdx.x; i < i1; i += blockDim.x) {
    const double v = static_cast<double>(x[i]);
    s += v * v;
  }
  s = block_sum(s);
  if (threadIdx.x == 0) part[b] = s;
}
REGISTER_KERNEL(sumsq_multi_partial)

// sumsq_multi_finish: out[k] = Σ part[partStart[k]..partStart[k+1]), one
// block per tensor.
KERNEL void sumsq_multi_finish(double* out, const double* part, const int* partStart) {
  const int k = blockIdx.x;
  double s = 0;
  for (int i = partStart[k] + threadIdx.x; i < partStart[k + 1]; i += blockDim.x) s += part[i];
  s = block_sum(s);
  if (threadIdx.x == 0) out[k] = s;
}
REGISTER_KERNEL(sumsq_multi_finish)
