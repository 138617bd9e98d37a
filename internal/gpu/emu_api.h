// emu_api.h: the C interface of the host emulation of the kernels
// (emu_kernelhost.cc), used by device_emu.go under the kernelhost tag.
#ifndef MIXFT_EMU_API_H
#define MIXFT_EMU_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Memory: allocations carry a red zone after their end (checked after every
// launch and on free) and start filled with 0xFF bytes (NaN as float32), so
// that a kernel reading memory nothing wrote is likely to show it.
uint64_t emu_alloc(size_t bytes);
int emu_free(uint64_t p, char* err, int errlen);
int emu_check_redzones(char* err, int errlen);
void emu_memset0(uint64_t p, size_t bytes);
void emu_htod(uint64_t dst, const void* src, size_t bytes);
void emu_dtoh(void* dst, uint64_t src, size_t bytes);

// emu_launch runs kernel name over grid×block; 0, or -1 with a message.
int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
               unsigned smem, const uint64_t* args, int nargs, char* err, int errlen);
// emu_has_kernel reports whether a kernel of that name is compiled in.
int emu_has_kernel(const char* name);

// emu_gemm is cublasGemmStridedBatchedEx on float32 (column-major), with
// cuBLAS's argument checks; prec 1 rounds the inputs to TF32, 2 to bf16.
int emu_gemm(int transa, int transb, int m, int n, int k, float alpha, uint64_t a, int lda, long long strideA,
             uint64_t b, int ldb, long long strideB, float beta, uint64_t c, int ldc, long long strideC, int batch,
             int prec, char* err, int errlen);

// The arithmetic helpers of kernels/*.cuh, for the host tests.
void emu_philox_block(const uint32_t* ctr, const uint32_t* key, uint32_t* out);
uint32_t emu_philox_stream_word(uint64_t seed, uint64_t step, uint32_t id, uint64_t i);
int emu_philox_keep(uint32_t w, float p);
float emu_activate(float x, int act);
float emu_activate_grad(float x, int act);
double emu_ln_rstd(double sumSqDev, int cols, float eps);
float emu_ln_out(float x, double mean, double rstd, float gamma, float beta);
float emu_ln_grad_dx(float x, float dy, float gamma, double mean, double rstd, double sumG, double sumGX, int cols);
float emu_dropout_apply(float x, int keep, float scale);
float emu_mixout_mix(float w, float u, float m, float inv);
float emu_mixout_grad(float g, float gmix, float m, float scale);
// emu_adamw applies adamw_update to n elements; s holds decay, lrwd, b1,
// b2, c1, c2, stepSize, bc2sqrt, eps, gradScale.
void emu_adamw(float* p, const float* g, float* m, float* v, const float* target, long long n, const float* s,
               int hasDecay);

#ifdef __cplusplus
}
#endif

#endif
