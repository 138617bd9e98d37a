// layernorm.cu: LayerNorm forward and backward, and the atomic-free column
// sums that produce dgamma, dbeta and bias gradients (per-chunk partial sums
// in double, then one pass adding the chunks in order: deterministic).
//
// One block per row; blockDim.x a multiple of 32. Statistics in double, as
// internal/cpu, so the outputs agree with the CPU backend to float rounding.
#include "common.cuh"
#include "math.cuh"

// layernorm_fwd: out = (x - mean)/sqrt(var + eps)*gamma + beta per row, with
// the biased variance from a second pass (no E[x²] − E[x]² cancellation);
// stores mean and rstd as float32 for the backward.
KERNEL void layernorm_fwd(float* out, float* mean, float* rstd, const float* x, const float* gamma,
                          const float* beta, int rows, int cols, float eps) {
  const int row = blockIdx.x;
  const float* xr = x + (long long)row * cols;
  double s = 0;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) s += static_cast<double>(xr[j]);
  const double mu = block_sum(s) / static_cast<double>(cols);
  double ss = 0;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) {
    const double d = static_cast<double>(xr[j]) - mu;
    ss += d * d;
  }
  const double r = ln_rstd(block_sum(ss), cols, eps);
  if (threadIdx.x == 0) {
    mean[row] = static_cast<float>(mu);
    rstd[row] = static_cast<float>(r);
  }
  float* orow = out + (long long)row * cols;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) orow[j] = ln_out(xr[j], mu, r, gamma[j], beta[j]);
}
REGISTER_KERNEL(layernorm_fwd)

// layernorm_bwd_dx: dx of one row per block, from the stored mean and rstd.
KERNEL void layernorm_bwd_dx(float* dx, const float* dy, const float* x, const float* mean, const float* rstd,
                             const float* gamma, int rows, int cols) {
  const int row = blockIdx.x;
  const long long off = (long long)row * cols;
  const double mu = static_cast<double>(mean[row]), r = static_cast<double>(rstd[row]);
  double sg = 0, sgx = 0;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) {
    const double xhat = (static_cast<double>(x[off + j]) - mu) * r;
    const double gj = static_cast<double>(dy[off + j]) * static_cast<double>(gamma[j]);
    sg += gj;
    sgx += gj * xhat;
  }
  sg = block_sum(sg);
  sgx = block_sum(sgx);
  for (int j = threadIdx.x; j < cols; j += blockDim.x)
    dx[off + j] = ln_grad_dx(x[off + j], dy[off + j], gamma[j], mu, r, sg, sgx, cols);
}
REGISTER_KERNEL(layernorm_bwd_dx)

// ln_params_partial: for the rows of chunk blockIdx.y (rowsPerChunk rows)
// and column j, pg[chunk*cols+j] = Σ dy·x̂ and pb[chunk*cols+j] = Σ dy.
KERNEL void ln_params_partial(double* pg, double* pb, const float* dy, const float* x, const float* mean,
                              const float* rstd, int rows, int cols, int rowsPerChunk) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  const int chunk = blockIdx.y;
  if (j >= cols) return;
  const int r0 = chunk * rowsPerChunk, r1 = min(rows, r0 + rowsPerChunk);
  double g = 0, b = 0;
  for (int i = r0; i < r1; ++i) {
    const long long k = (long long)i * cols + j;
    const double d = static_cast<double>(dy[k]);
    const double xhat = (static_cast<double>(x[k]) - static_cast<double>(mean[i])) * static_cast<double>(rstd[i]);
    g += d * xhat;
    b += d;
  }
  pg[(long long)chunk * cols + j] = g;
  pb[(long long)chunk * cols + j] = b;
}
REGISTER_KERNEL(ln_params_partial)

// colsum_partial: part[chunk*cols+j] = Σ dy[i*cols+j] over the chunk's rows.
KERNEL void colsum_partial(double* part, const float* dy, int rows, int cols, int rowsPerChunk) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  const int chunk = blockIdx.y;
  if (j >= cols) return;
  const int r0 = chunk * rowsPerChunk, r1 = min(rows, r0 + rowsPerChunk);
  double s = 0;
  for (int i = r0; i < r1; ++i) s += static_cast<double>(dy[(long long)i * cols + j]);
  part[(long long)chunk * cols + j] = s;
}
REGISTER_KERNEL(colsum_partial)

// colsum_finish: dst[j] += float32(Σ_c part[c*cols+j]), chunks in order.
KERNEL void colsum_finish(float* dst, const double* part, int chunks, int cols) {
  GRID_STRIDE(j, cols) {
    double s = 0;
    for (int c = 0; c < chunks; ++c) s += part[(long long)c * cols + j];
    dst[j] += static_cast<float>(s);
  }
}
REGISTER_KERNEL(colsum_finish)
