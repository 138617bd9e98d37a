//go:build ignore

// cublas_abi_check.c: `make cuda-vet` compiles this (syntax only) against
// the toolkit's headers, to prove the constants and function types of
// cublas_shim.h match cuBLAS's. Not part of any Go build.
#include <cublas_v2.h>
#include <library_types.h>

#include "cublas_shim.h"

_Static_assert((int)MIXFT_CUBLAS_OP_N == (int)CUBLAS_OP_N, "CUBLAS_OP_N");
_Static_assert((int)MIXFT_CUBLAS_OP_T == (int)CUBLAS_OP_T, "CUBLAS_OP_T");
_Static_assert((int)MIXFT_CUDA_R_32F == (int)CUDA_R_32F, "CUDA_R_32F");
_Static_assert((int)MIXFT_CUDA_R_16BF == (int)CUDA_R_16BF, "CUDA_R_16BF");
_Static_assert((int)MIXFT_CUBLAS_DEFAULT_MATH == (int)CUBLAS_DEFAULT_MATH, "CUBLAS_DEFAULT_MATH");
_Static_assert((int)MIXFT_CUBLAS_PEDANTIC_MATH == (int)CUBLAS_PEDANTIC_MATH, "CUBLAS_PEDANTIC_MATH");
_Static_assert((int)MIXFT_CUBLAS_TF32_TENSOR_OP_MATH == (int)CUBLAS_TF32_TENSOR_OP_MATH, "CUBLAS_TF32_TENSOR_OP_MATH");
_Static_assert((int)MIXFT_CUBLAS_COMPUTE_32F == (int)CUBLAS_COMPUTE_32F, "CUBLAS_COMPUTE_32F");
_Static_assert((int)MIXFT_CUBLAS_COMPUTE_32F_FAST_16BF == (int)CUBLAS_COMPUTE_32F_FAST_16BF, "CUBLAS_COMPUTE_32F_FAST_16BF");
_Static_assert((int)MIXFT_CUBLAS_COMPUTE_32F_FAST_TF32 == (int)CUBLAS_COMPUTE_32F_FAST_TF32, "CUBLAS_COMPUTE_32F_FAST_TF32");
_Static_assert((int)MIXFT_CUBLAS_GEMM_DEFAULT == (int)CUBLAS_GEMM_DEFAULT, "CUBLAS_GEMM_DEFAULT");
_Static_assert(sizeof(cublasStatus_t) == sizeof(int), "status is an int");
_Static_assert(sizeof(cublasComputeType_t) == sizeof(int), "compute type is an int");
_Static_assert(sizeof(cudaDataType) == sizeof(int), "data type is an int");

// The shim's function-pointer types against the real prototypes, with the
// parameters in the order and kinds the shim passes them (enums as int,
// handle and stream as void*; sizes asserted below): assigning the real
// function to the shim's pointer type without a cast fails to compile
// (-Werror) if the count, order or kind of a parameter differs.
typedef cublasStatus_t (*gemm_ex_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                          const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                          cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
typedef cublasStatus_t (*gemm_strided_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                               const void*, cudaDataType, int, long long, const void*, cudaDataType, int, long long,
                               const void*, void*, cudaDataType, int, long long, int, cublasComputeType_t,
                               cublasGemmAlgo_t);
typedef cublasStatus_t (*create_fn)(cublasHandle_t*);
typedef cublasStatus_t (*destroy_fn)(cublasHandle_t);
typedef cublasStatus_t (*set_stream_fn)(cublasHandle_t, cudaStream_t);
typedef cublasStatus_t (*set_math_mode_fn)(cublasHandle_t, cublasMath_t);
typedef cublasStatus_t (*get_version_fn)(cublasHandle_t, int*);
gemm_ex_fn check_gemm_ex = cublasGemmEx;
gemm_strided_fn check_gemm_strided = cublasGemmStridedBatchedEx;
create_fn check_create = cublasCreate_v2;
destroy_fn check_destroy = cublasDestroy_v2;
set_stream_fn check_set_stream = cublasSetStream_v2;
set_math_mode_fn check_set_math_mode = cublasSetMathMode;
get_version_fn check_get_version = cublasGetVersion_v2;
// The enums the shim passes as int are int-sized; the handle and stream
// are pointers (the shim passes void*).
_Static_assert(sizeof(cublasOperation_t) == sizeof(int), "cublasOperation_t");
_Static_assert(sizeof(cublasMath_t) == sizeof(int), "cublasMath_t");
_Static_assert(sizeof(cublasGemmAlgo_t) == sizeof(int), "cublasGemmAlgo_t");
_Static_assert(sizeof(cublasHandle_t) == sizeof(void*), "cublasHandle_t");
_Static_assert(sizeof(cudaStream_t) == sizeof(void*), "cudaStream_t");
