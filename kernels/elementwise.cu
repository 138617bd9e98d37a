// elementwise.cu: the memory-bound one-pass ops: add, bias, scale,
// activations and their backward, tanh (the pooler), first-token gather and
// scatter. Grid-stride loops over 64-bit indices.
#include "common.cuh"
#include "math.cuh"

// ew_add: out[i] = a[i] + b[i] (out may be a or b).
KERNEL void ew_add(float* out, const float* a, const float* b, long long n) {
  GRID_STRIDE(i, n) { out[i] = a[i] + b[i]; }
}
REGISTER_KERNEL(ew_add)

// ew_add_bias: x[i*cols+j] += bias[j].
KERNEL void ew_add_bias(float* x, const float* bias, long long rows, int cols) {
  GRID_STRIDE(i, rows * cols) { x[i] += bias[i % cols]; }
}
REGISTER_KERNEL(ew_add_bias)

// ew_scale: x[i] *= s.
KERNEL void ew_scale(float* x, float s, long long n) {
  GRID_STRIDE(i, n) { x[i] *= s; }
}
REGISTER_KERNEL(ew_scale)

// ew_activate: out[i] = act(x[i]).
KERNEL void ew_activate(float* out, const float* x, long long n, int act) {
  GRID_STRIDE(i, n) { out[i] = activate(x[i], act); }
}
REGISTER_KERNEL(ew_activate)

// bias_activate: x[i*cols+j] += bias[j] (the pre-activation, kept) and
// out = act(x), as ew_add_bias then ew_activate.
KERNEL void bias_activate(float* out, float* x, const float* bias, long long rows, int cols, int act) {
  GRID_STRIDE(i, rows * cols) {
    const float pre = x[i] + bias[i % cols];
    x[i] = pre;
    out[i] = activate(pre, act);
  }
}
REGISTER_KERNEL(bias_activate)

// bias_activate_bwd_partial: dx = dy * act'(pre) for the rows of chunk
// blockIdx.y (rowsPerChunk rows) and column j, and part[chunk*cols+j] = Σ dx
// over them in double (colsum_finish adds the chunks: the bias gradient).
// One read of dy and pre, one write of dx (dx may be dy).
KERNEL void bias_activate_bwd_partial(double* part, float* dx, const float* dy, const float* pre, int rows, int cols,
                                      int rowsPerChunk, int act) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  const int chunk = blockIdx.y;
  if (j >= cols) return;
  const int r0 = chunk * rowsPerChunk, r1 = min(rows, r0 + rowsPerChunk);
  double s = 0;
  for (int i = r0; i < r1; ++i) {
    const long long k = (long long)i * cols + j;
    const float d = dy[k] * activate_grad(pre[k], act);
    dx[k] = d;
    s += static_cast<double>(d);
  }
  part[(long long)chunk * cols + j] = s;
}
REGISTER_KERNEL(bias_activate_bwd_partial)

// ew_activate_backward: dx[i] = dy[i] * act'(x[i]) (dx may be dy).
KERNEL void ew_activate_backward(float* dx, const float* dy, const float* x, long long n, int act) {
  GRID_STRIDE(i, n) { dx[i] = dy[i] * activate_grad(x[i], act); }
}
REGISTER_KERNEL(ew_activate_backward)

// ew_tanh: out[i] = tanh(x[i]).
KERNEL void ew_tanh(float* out, const float* x, long long n) {
  GRID_STRIDE(i, n) { out[i] = tanhf(x[i]); }
}
REGISTER_KERNEL(ew_tanh)

// ew_tanh_backward: dx[i] = dy[i] * (1 - y[i]^2) (dx may be dy).
KERNEL void ew_tanh_backward(float* dx, const float* dy, const float* y, long long n) {
  GRID_STRIDE(i, n) {
    const float yi = y[i];
    dx[i] = dy[i] * (1.0f - yi * yi);
  }
}
REGISTER_KERNEL(ew_tanh_backward)

// first_token: out[b, :] = x[b, 0, :].
KERNEL void first_token(float* out, const float* x, int batch, int seq, int hidden) {
  GRID_STRIDE(i, (long long)batch * hidden) {
    const long long b = i / hidden, j = i % hidden;
    out[i] = x[b * seq * hidden + j];
  }
}
REGISTER_KERNEL(first_token)

// first_token_backward: dx[b, s, :] = s == 0 ? dcls[b, :] : 0.
KERNEL void first_token_backward(float* dx, const float* dcls, int batch, int seq, int hidden) {
  GRID_STRIDE(i, (long long)batch * seq * hidden) {
    const long long j = i % hidden, t = i / hidden, s = t % seq, b = t / seq;
    dx[i] = s == 0 ? dcls[b * hidden + j] : 0.0f;
  }
}
REGISTER_KERNEL(first_token_backward)
