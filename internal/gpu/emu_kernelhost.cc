//go:build kernelhost && !cuda

// emu_kernelhost.cc: every kernel of kernels/*.cu compiled for the host and
// run by the fiber emulation of kernels/hostemu.h, plus a reference GEMM
// with cuBLAS's semantics. Each kernels/*.cu must be included here (a test
// checks it).
#include "emu_api.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>

#include "adamw.cu"
#include "attention.cu"
#include "disentangled.cu"
#include "dropout.cu"
#include "elementwise.cu"
#include "embed.cu"
#include "layernorm.cu"
#include "loss.cu"
#include "reduce.cu"
#include "rotary.cu"

namespace {

constexpr size_t kRedZone = 64;
constexpr unsigned char kRedByte = 0xCD;

std::mutex mu;        // the allocation table
std::mutex launchMu;  // one launch (one fiber scheduler) at a time
std::map<uint64_t, size_t>& live() {
  static std::map<uint64_t, size_t> m;
  return m;
}

void setErr(char* err, int errlen, const std::string& msg) { snprintf(err, errlen, "%s", msg.c_str()); }

bool redZoneOK(uint64_t p, size_t bytes) {
  const unsigned char* z = reinterpret_cast<const unsigned char*>(p) + bytes;
  for (size_t i = 0; i < kRedZone; ++i)
    if (z[i] != kRedByte) return false;
  return true;
}

std::string redZoneError(uint64_t p, size_t bytes) {
  char buf[160];
  snprintf(buf, sizeof buf, "write past the end of a %zu-byte allocation at 0x%llx", bytes, (unsigned long long)p);
  return buf;
}

float roundMantissa(float x, int bits) {
  uint32_t u;
  memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return x;  // inf, NaN
  const uint32_t drop = 23 - bits;
  const uint32_t lsb = (u >> drop) & 1u;
  u += (1u << (drop - 1)) - 1u + lsb;  // round to nearest even
  u &= ~((1u << drop) - 1u);
  memcpy(&x, &u, 4);
  return x;
}

}  // namespace

extern "C" {

uint64_t emu_alloc(size_t bytes) {
  unsigned char* p = static_cast<unsigned char*>(aligned_alloc(256, ((bytes + kRedZone + 255) / 256) * 256));
  if (!p) return 0;
  memset(p, 0xFF, bytes);
  memset(p + bytes, kRedByte, kRedZone);
  std::lock_guard<std::mutex> l(mu);
  live()[reinterpret_cast<uint64_t>(p)] = bytes;
  return reinterpret_cast<uint64_t>(p);
}

int emu_free(uint64_t p, char* err, int errlen) {
  std::lock_guard<std::mutex> l(mu);
  auto it = live().find(p);
  if (it == live().end()) {
    setErr(err, errlen, "free of an address that is not allocated");
    return -1;
  }
  const bool ok = redZoneOK(p, it->second);
  const std::string msg = ok ? "" : redZoneError(p, it->second);
  live().erase(it);
  free(reinterpret_cast<void*>(p));
  if (!ok) {
    setErr(err, errlen, msg);
    return -1;
  }
  return 0;
}

int emu_check_redzones(char* err, int errlen) {
  std::lock_guard<std::mutex> l(mu);
  for (auto& [p, bytes] : live()) {
    if (!redZoneOK(p, bytes)) {
      setErr(err, errlen, redZoneError(p, bytes));
      return -1;
    }
  }
  return 0;
}

void emu_memset0(uint64_t p, size_t bytes) { memset(reinterpret_cast<void*>(p), 0, bytes); }
void emu_htod(uint64_t dst, const void* src, size_t bytes) { memcpy(reinterpret_cast<void*>(dst), src, bytes); }
void emu_dtoh(void* dst, uint64_t src, size_t bytes) { memcpy(dst, reinterpret_cast<const void*>(src), bytes); }

int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
               unsigned smem, const uint64_t* args, int nargs, char* err, int errlen) {
  std::lock_guard<std::mutex> l(launchMu);
  std::string e = emu::launch(name, dim3(gx, gy, gz), dim3(bx, by, bz), smem, args, nargs);
  if (!e.empty()) {
    setErr(err, errlen, e);
    return -1;
  }
  return 0;
}

int emu_has_kernel(const char* name) { return emu::registry().count(name) ? 1 : 0; }

int emu_gemm(int transa, int transb, int m, int n, int k, float alpha, uint64_t a, int lda, long long strideA,
             uint64_t b, int ldb, long long strideB, float beta, uint64_t c, int ldc, long long strideC, int batch,
             int prec, char* err, int errlen) {
  // cuBLAS's checks (CUBLAS_STATUS_INVALID_VALUE).
  const int rowsA = transa ? k : m, rowsB = transb ? n : k;
  if (m < 0 || n < 0 || k < 0 || batch < 1 || lda < std::max(1, rowsA) || ldb < std::max(1, rowsB) ||
      ldc < std::max(1, m) || (transa != 0 && transa != 1) || (transb != 0 && transb != 1)) {
    char buf[256];
    snprintf(buf, sizeof buf, "invalid GEMM arguments: m %d n %d k %d transa %d transb %d lda %d ldb %d ldc %d batch %d",
             m, n, k, transa, transb, lda, ldb, ldc, batch);
    setErr(err, errlen, buf);
    return -1;
  }
  const int bits = prec == 1 ? 10 : prec == 2 ? 7 : 23;
  auto in = [bits](float x) { return bits == 23 ? x : roundMantissa(x, bits); };
  for (int bi = 0; bi < batch; ++bi) {
    const float* A = reinterpret_cast<const float*>(a) + bi * strideA;
    const float* B = reinterpret_cast<const float*>(b) + bi * strideB;
    float* C = reinterpret_cast<float*>(c) + bi * strideC;
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        // float32 accumulation by fused multiply-adds along k, as a GEMM
        // kernel's inner loop does: the emulation shows the float32 drift
        // cuBLAS has (a float64 sum would hide it). The products of
        // TF32/bf16-rounded inputs are exact in float32.
        float s = 0;
        for (int p = 0; p < k; ++p) {
          const float av = transa ? A[p + (long long)i * lda] : A[i + (long long)p * lda];
          const float bv = transb ? B[j + (long long)p * ldb] : B[p + (long long)j * ldb];
          s = std::fma(in(av), in(bv), s);
        }
        float& cv = C[i + (long long)j * ldc];
        const float prod = alpha * s;
        cv = beta == 0.0f ? prod : prod + beta * cv;
      }
  }
  return 0;
}

void emu_philox_block(const uint32_t* ctr, const uint32_t* key, uint32_t* out) {
  PhiloxWords w = philox_block(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1]);
  out[0] = w.w0;
  out[1] = w.w1;
  out[2] = w.w2;
  out[3] = w.w3;
}

uint32_t emu_philox_stream_word(uint64_t seed, uint64_t step, uint32_t id, uint64_t i) {
  return philox_stream_word(philox_stream(seed, step, id), i);
}

int emu_philox_keep(uint32_t w, float p) { return philox_keep(w, p) ? 1 : 0; }
float emu_activate(float x, int act) { return activate(x, act); }
float emu_activate_grad(float x, int act) { return activate_grad(x, act); }
double emu_ln_rstd(double sumSqDev, int cols, float eps) { return ln_rstd(sumSqDev, cols, eps); }
float emu_ln_out(float x, double mean, double rstd, float gamma, float beta) {
  return ln_out(x, mean, rstd, gamma, beta);
}
float emu_ln_grad_dx(float x, float dy, float gamma, double mean, double rstd, double sumG, double sumGX, int cols) {
  return ln_grad_dx(x, dy, gamma, mean, rstd, sumG, sumGX, cols);
}
float emu_dropout_apply(float x, int keep, float scale) { return dropout_apply(x, keep != 0, scale); }
float emu_mixout_mix(float w, float u, float m, float inv) { return mixout_mix(w, u, m, inv); }
float emu_mixout_grad(float g, float gmix, float m, float scale) { return mixout_grad(g, gmix, m, scale); }

void emu_adamw(float* p, const float* g, float* m, float* v, const float* target, long long n, const float* s,
               int hasDecay) {
  AdamWScalars sc;
  sc.decay = s[0];
  sc.lrwd = s[1];
  sc.b1 = s[2];
  sc.b2 = s[3];
  sc.c1 = s[4];
  sc.c2 = s[5];
  sc.stepSize = s[6];
  sc.bc2sqrt = s[7];
  sc.eps = s[8];
  sc.gradScale = s[9];
  sc.hasDecay = hasDecay;
  for (long long i = 0; i < n; ++i)
    adamw_update(&p[i], g[i], &m[i], &v[i], target != nullptr, target ? target[i] : 0.0f, sc);
}

}  // extern "C"
