// common.cuh: what every kernel file shares: the qualifiers that let the same
// source compile with nvcc (to PTX) and with a host C++ compiler (the kernel
// tests, through hostemu.h), the grid-stride loop, and warp/block reductions.
#pragma once

#ifdef __CUDACC__
// HD marks arithmetic helpers that the host tests call directly.
#define HD __host__ __device__ __forceinline__
#define DEV __device__ __forceinline__
// Kernels have C names so that the Go side finds them in the PTX by name.
#define KERNEL extern "C" __global__
#define REGISTER_KERNEL(name)
#define DYN_SHARED(T, name) extern __shared__ T name[]
#else
#include "hostemu.h"
#define HD inline
#define DEV inline
#define KERNEL extern "C"
#define REGISTER_KERNEL(name) static ::emu::Registrar emu_registrar_##name(#name, name);
#define DYN_SHARED(T, name) T* name = reinterpret_cast<T*>(::emu::dynamicShared())
#define __shared__ static
#define __syncthreads() ::emu::syncthreads()
#endif

// GRID_STRIDE loops i over [0, n) across the whole grid (64-bit indices).
#define GRID_STRIDE(i, n)                                                              \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)(n); \
       i += (long long)gridDim.x * blockDim.x)

// kFullMask names every lane of a warp.
#define kFullMask 0xffffffffu

// warp_sum returns the sum of v over the warp to every lane (a butterfly:
// the order of the additions is fixed, so the result is deterministic).
template <class T>
DEV T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

template <class T>
DEV T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) {
    T w = __shfl_xor_sync(kFullMask, v, o);
    v = w > v ? w : v;
  }
  return v;
}

// block_sum returns the sum of v over the block to every thread. blockDim.x
// must be a multiple of 32 (at most 1024) and every thread must call it.
template <class T>
DEV T block_sum(T v) {
  __shared__ T partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // a previous block_sum may still be reading partial
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  T r = lane < nwarps ? partial[lane] : T(0);
  return warp_sum(r);
}
