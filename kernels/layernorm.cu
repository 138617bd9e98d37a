// layernorm.cu: LayerNorm forward and backward, their fused forms with a
// sublayer's bias, dropout and residual sum, and the atomic-free column
// sums that produce dgamma, dbeta and bias gradients (per-chunk partial sums
// in double, then one pass adding the chunks in order: deterministic).
//
// One block per row; blockDim.x a multiple of 32. Statistics in double, as
// internal/cpu, so the outputs agree with the CPU backend to float rounding.
#include "common.cuh"
#include "math.cuh"
#include "philox.cuh"

// layernorm_row: the LayerNorm of row row (xr) into orow by the whole
// block: out = (x - mean)/sqrt(var + eps)*gamma + beta, with the biased
// variance from a second pass (no E[x²] − E[x]² cancellation); thread 0
// stores mean and rstd as float32 for the backward. Each thread reads only
// the elements j ≡ threadIdx.x (mod blockDim.x) of xr, so a caller may have
// written them just before without a barrier.
DEV void layernorm_row(float* orow, float* mean, float* rstd, const float* xr, const float* gamma, const float* beta,
                       int row, int cols, float eps) {
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
  for (int j = threadIdx.x; j < cols; j += blockDim.x) orow[j] = ln_out(xr[j], mu, r, gamma[j], beta[j]);
}

// layernorm_fwd: LayerNorm of each row, one block per row.
KERNEL void layernorm_fwd(float* out, float* mean, float* rstd, const float* x, const float* gamma,
                          const float* beta, int rows, int cols, float eps) {
  const long long off = (long long)blockIdx.x * cols;
  layernorm_row(out + off, mean, rstd, x + off, gamma, beta, blockIdx.x, cols, eps);
}
REGISTER_KERNEL(layernorm_fwd)

// bias_dropout_add_ln_fwd: sum = dropout(x + bias) + residual, out =
// LayerNorm(sum), one block per row (sum may be x). Element (row, j) keeps
// with element row·cols + j of the stream, as dropout_fwd over the whole
// buffer; p 0 keeps every element (keepScale is then 1).
KERNEL void bias_dropout_add_ln_fwd(float* out, float* sum, float* mean, float* rstd, const float* x,
                                    const float* bias, const float* residual, const float* gamma, const float* beta,
                                    int rows, int cols, float eps, float p, float keepScale, unsigned long long seed,
                                    unsigned long long step, unsigned id) {
  const long long off = (long long)blockIdx.x * cols;
  const PhiloxStream s = philox_stream(seed, step, id);
  for (int j = threadIdx.x; j < cols; j += blockDim.x) {
    const bool keep = p > 0.0f ? philox_keep(philox_stream_word(s, (unsigned long long)(off + j)), p) : true;
    sum[off + j] = bias_dropout_add(x[off + j], bias[j], keep, keepScale, residual[off + j]);
  }
  layernorm_row(out + off, mean, rstd, sum + off, gamma, beta, blockIdx.x, cols, eps);
}
REGISTER_KERNEL(bias_dropout_add_ln_fwd)

// layernorm_bwd_row: dx of row row by the whole block, from the stored mean
// and rstd; each thread writes the elements j ≡ threadIdx.x of dx.
DEV void layernorm_bwd_row(float* dx, const float* dy, const float* x, const float* mean, const float* rstd,
                           const float* gamma, int row, int cols) {
  const double mu = static_cast<double>(mean[row]), r = static_cast<double>(rstd[row]);
  double sg = 0, sgx = 0;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) {
    const double xhat = (static_cast<double>(x[j]) - mu) * r;
    const double gj = static_cast<double>(dy[j]) * static_cast<double>(gamma[j]);
    sg += gj;
    sgx += gj * xhat;
  }
  sg = block_sum(sg);
  sgx = block_sum(sgx);
  for (int j = threadIdx.x; j < cols; j += blockDim.x) dx[j] = ln_grad_dx(x[j], dy[j], gamma[j], mu, r, sg, sgx, cols);
}

// layernorm_bwd_dx: dx of one row per block.
KERNEL void layernorm_bwd_dx(float* dx, const float* dy, const float* x, const float* mean, const float* rstd,
                             const float* gamma, int rows, int cols) {
  const long long off = (long long)blockIdx.x * cols;
  layernorm_bwd_row(dx + off, dy + off, x + off, mean, rstd, gamma, blockIdx.x, cols);
}
REGISTER_KERNEL(layernorm_bwd_dx)

// ln_dropout_bwd_dx: the backward of bias_dropout_add_ln_fwd per row (one
// block each): dsum as layernorm_bwd_dx, and dx = dropout(dsum) with the
// forward's mask.
KERNEL void ln_dropout_bwd_dx(float* dsum, float* dx, const float* dy, const float* sum, const float* mean,
                              const float* rstd, const float* gamma, int rows, int cols, float p, float keepScale,
                              unsigned long long seed, unsigned long long step, unsigned id) {
  const long long off = (long long)blockIdx.x * cols;
  layernorm_bwd_row(dsum + off, dy + off, sum + off, mean, rstd, gamma, blockIdx.x, cols);
  const PhiloxStream s = philox_stream(seed, step, id);
  for (int j = threadIdx.x; j < cols; j += blockDim.x) {
    const bool keep = p > 0.0f ? philox_keep(philox_stream_word(s, (unsigned long long)(off + j)), p) : true;
    dx[off + j] = dropout_apply(dsum[off + j], keep, keepScale);
  }
}
REGISTER_KERNEL(ln_dropout_bwd_dx)

// ln_params_partial: for the rows of chunk blockIdx.y (rowsPerChunk rows)
// and column j, pg[chunk*cols+j] = Σ dy·x̂ and pb[chunk*cols+j] = Σ dy, and
// when pdb is not null pdb[chunk*cols+j] = Σ dbsrc (a fused bias gradient).
KERNEL void ln_params_partial(double* pg, double* pb, double* pdb, const float* dy, const float* x,
                              const float* mean, const float* rstd, const float* dbsrc, int rows, int cols,
                              int rowsPerChunk) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  const int chunk = blockIdx.y;
  if (j >= cols) return;
  const int r0 = chunk * rowsPerChunk, r1 = min(rows, r0 + rowsPerChunk);
  double g = 0, b = 0, db = 0;
  for (int i = r0; i < r1; ++i) {
    const long long k = (long long)i * cols + j;
    const double d = static_cast<double>(dy[k]);
    const double xhat = (static_cast<double>(x[k]) - static_cast<double>(mean[i])) * static_cast<double>(rstd[i]);
    g += d * xhat;
    b += d;
    if (pdb != nullptr) db += static_cast<double>(dbsrc[k]);
  }
  pg[(long long)chunk * cols + j] = g;
  pb[(long long)chunk * cols + j] = b;
  if (pdb != nullptr) pdb[(long long)chunk * cols + j] = db;
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
