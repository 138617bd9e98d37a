// cublas_shim.h: the few cuBLAS entry points the CUDA backend uses, resolved
// at run time with dlopen/dlsym so that the binary does not link a
// particular libcublas major version (the build machine's CUDA and the GPU
// machine's may differ). No CUDA header is needed: handles and streams are
// opaque pointers, enums are ints with cuBLAS's stable ABI values.
#ifndef MIXFT_CUBLAS_SHIM_H
#define MIXFT_CUBLAS_SHIM_H

#include <stdint.h>

// cuBLAS ABI constants (cublas_api.h, library_types.h; unchanged 11..13).
enum {
  MIXFT_CUBLAS_OP_N = 0,
  MIXFT_CUBLAS_OP_T = 1,
  MIXFT_CUDA_R_32F = 0,
  MIXFT_CUDA_R_16BF = 14,
  MIXFT_CUBLAS_DEFAULT_MATH = 0,
  MIXFT_CUBLAS_PEDANTIC_MATH = 2,
  MIXFT_CUBLAS_TF32_TENSOR_OP_MATH = 3,
  MIXFT_CUBLAS_COMPUTE_32F = 68,
  MIXFT_CUBLAS_COMPUTE_32F_FAST_16BF = 75,
  MIXFT_CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
  MIXFT_CUBLAS_GEMM_DEFAULT = -1
};

// mixft_cublas_open dlopens path and resolves every entry point; 0 on
// success, else -1 with a message in err.
int mixft_cublas_open(const char* path, char* err, int errlen);
int mixft_cublas_create(void** handle);
int mixft_cublas_destroy(void* handle);
int mixft_cublas_set_stream(void* handle, void* stream);
int mixft_cublas_set_math_mode(void* handle, int mode);
int mixft_cublas_get_version(void* handle, int* version);
// mixft_cublas_gemm runs cublasGemmEx (batch 1) or
// cublasGemmStridedBatchedEx on float32 matrices with computeType.
int mixft_cublas_gemm(void* handle, int transa, int transb, int m, int n, int k, float alpha, uint64_t a, int lda,
                      long long strideA, uint64_t b, int ldb, long long strideB, float beta, uint64_t c, int ldc,
                      long long strideC, int batch, int computeType);

#endif
