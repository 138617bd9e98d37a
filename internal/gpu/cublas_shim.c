//go:build cuda

// cublas_shim.c: see cublas_shim.h.
#define _GNU_SOURCE
#include "cublas_shim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef int (*create_fn)(void**);
typedef int (*destroy_fn)(void*);
typedef int (*set_stream_fn)(void*, void*);
typedef int (*set_math_mode_fn)(void*, int);
typedef int (*get_version_fn)(void*, int*);
typedef int (*gemm_ex_fn)(void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int,
                          int, const void*, void*, int, int, int, int);
typedef int (*gemm_strided_fn)(void*, int, int, int, int, int, const void*, const void*, int, int, long long,
                               const void*, int, int, long long, const void*, void*, int, int, long long, int, int,
                               int);

static void* lib;
static create_fn p_create;
static destroy_fn p_destroy;
static set_stream_fn p_set_stream;
static set_math_mode_fn p_set_math_mode;
static get_version_fn p_get_version;
static gemm_ex_fn p_gemm_ex;
static gemm_strided_fn p_gemm_strided;

static void* sym(void* h, const char* name, char* err, int errlen, int* bad) {
  void* p = dlsym(h, name);
  if (!p && !*bad) {
    snprintf(err, errlen, "%s: %s", name, dlerror());
    *bad = 1;
  }
  return p;
}

int mixft_cublas_open(const char* path, char* err, int errlen) {
  // The same directory's libcublasLt first (libcublas needs it; a
  // library directory outside the loader's path would not be searched).
  char lt[4096];
  const char* slash = strrchr(path, '/');
  const char* dot = strstr(path, ".so.");
  if (slash && dot && dot > slash) {
    snprintf(lt, sizeof lt, "%.*s/libcublasLt%s", (int)(slash - path), path, dot);
    dlopen(lt, RTLD_NOW | RTLD_GLOBAL);
  }
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(err, errlen, "%s", dlerror());
    return -1;
  }
  int bad = 0;
  create_fn c = (create_fn)sym(h, "cublasCreate_v2", err, errlen, &bad);
  destroy_fn d = (destroy_fn)sym(h, "cublasDestroy_v2", err, errlen, &bad);
  set_stream_fn s = (set_stream_fn)sym(h, "cublasSetStream_v2", err, errlen, &bad);
  set_math_mode_fn mm = (set_math_mode_fn)sym(h, "cublasSetMathMode", err, errlen, &bad);
  get_version_fn v = (get_version_fn)sym(h, "cublasGetVersion_v2", err, errlen, &bad);
  gemm_ex_fn g = (gemm_ex_fn)sym(h, "cublasGemmEx", err, errlen, &bad);
  gemm_strided_fn gs = (gemm_strided_fn)sym(h, "cublasGemmStridedBatchedEx", err, errlen, &bad);
  if (bad) {
    dlclose(h);
    return -1;
  }
  lib = h;
  p_create = c;
  p_destroy = d;
  p_set_stream = s;
  p_set_math_mode = mm;
  p_get_version = v;
  p_gemm_ex = g;
  p_gemm_strided = gs;
  return 0;
}

int mixft_cublas_create(void** handle) { return p_create(handle); }
int mixft_cublas_destroy(void* handle) { return p_destroy(handle); }
int mixft_cublas_set_stream(void* handle, void* stream) { return p_set_stream(handle, stream); }
int mixft_cublas_set_math_mode(void* handle, int mode) { return p_set_math_mode(handle, mode); }
int mixft_cublas_get_version(void* handle, int* version) { return p_get_version(handle, version); }

int mixft_cublas_gemm(void* handle, int transa, int transb, int m, int n, int k, float alpha, uint64_t a, int lda,
                      long long strideA, uint64_t b, int ldb, long long strideB, float beta, uint64_t c, int ldc,
                      long long strideC, int batch, int computeType) {
  const void* A = (const void*)(uintptr_t)a;
  const void* B = (const void*)(uintptr_t)b;
  void* C = (void*)(uintptr_t)c;
  if (batch == 1) {
    return p_gemm_ex(handle, transa, transb, m, n, k, &alpha, A, MIXFT_CUDA_R_32F, lda, B, MIXFT_CUDA_R_32F, ldb,
                     &beta, C, MIXFT_CUDA_R_32F, ldc, computeType, MIXFT_CUBLAS_GEMM_DEFAULT);
  }
  return p_gemm_strided(handle, transa, transb, m, n, k, &alpha, A, MIXFT_CUDA_R_32F, lda, strideA, B,
                        MIXFT_CUDA_R_32F, ldb, strideB, &beta, C, MIXFT_CUDA_R_32F, ldc, strideC, batch,
                        computeType, MIXFT_CUBLAS_GEMM_DEFAULT);
}
