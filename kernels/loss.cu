// loss.cu: cross-entropy and MSE over a batch of logits, one thread per
// example, in double as internal/cpu. Each writes its example's loss term to
// rowLoss; the host adds them in order (the CPU backend's order).
#include "common.cuh"

// cross_entropy: rowLoss[b] = logsumexp(row) − row[label]; dl = (softmax −
// onehot)·gradScale/batch.
KERNEL void cross_entropy(float* dl, double* rowLoss, const float* logits, const int* labels, int batch,
                          int classes, float gradScale) {
  GRID_STRIDE(b, batch) {
    const float* row = logits + b * classes;
    double mx = -INFINITY;
    for (int j = 0; j < classes; ++j) mx = fmax(mx, static_cast<double>(row[j]));
    double sum = 0;
    for (int j = 0; j < classes; ++j) sum += exp(static_cast<double>(row[j]) - mx);
    const double lse = mx + log(sum);
    const int y = labels[b];
    rowLoss[b] = lse - static_cast<double>(row[y]);
    for (int j = 0; j < classes; ++j) {
      double p = exp(static_cast<double>(row[j]) - lse);
      if (j == y) p -= 1.0;
      dl[b * classes + j] = static_cast<float>(p * static_cast<double>(gradScale) / static_cast<double>(batch));
    }
  }
}
REGISTER_KERNEL(cross_entropy)

// mse: rowLoss[b] = (logits[b] − targets[b])²; dl = 2(logits − targets)·gradScale/batch.
KERNEL void mse(float* dl, double* rowLoss, const float* logits, const float* targets, int batch, float gradScale) {
  GRID_STRIDE(b, batch) {
    const double d = static_cast<double>(logits[b]) - static_cast<double>(targets[b]);
    rowLoss[b] = d * d;
    dl[b] = static_cast<float>(2.0 * d * static_cast<double>(gradScale) / static_cast<double>(batch));
  }
}
REGISTER_KERNEL(mse)
