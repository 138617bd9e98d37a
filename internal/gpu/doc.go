//go:build cuda || kernelhost

// Package gpu is the CUDA backend of mixft, built only with -tags cuda (or,
// for the host kernel tests, -tags kernelhost).
//
// The kernels are the CUDA C++ sources in kernels/ at the repository root,
// compiled by `make ptx` (nvcc, compute_80 and compute_90 PTX) into
// internal/gpu/ptx/, which the cuda build embeds and the driver JIT-compiles
// for the card at start. GEMMs run in cuBLAS, loaded at run time with dlopen
// (libcublas.so.13, .12 or .11) so that one binary runs with whichever CUDA
// the machine has; the precision of the GEMMs is FP32 (default), TF32 or
// BF16 (FP32 master weights and buffers, bf16 tensor-core products).
//
// The ops are written once (backend.go, ops.go, train_ops.go) against a
// small device interface: launch a named kernel, run a column-major GEMM,
// allocate, copy. Two devices implement it:
//
//   - cudaDevice (tag cuda): gorgonia.org/cu on the card's primary context,
//     and the cuBLAS shim;
//   - emuDevice (tag kernelhost): the same kernels compiled by the host C++
//     compiler and run by a fiber emulation of the CUDA execution model
//     (kernels/hostemu.h), with a reference GEMM. It lets every op pass the
//     backend conformance suite on a machine without a GPU, which checks the
//     kernels' indexing and reductions as well as the launch code here.
//
// gorgonia.org/cu calls os.Exit in its init when no GPU is present, so every
// file that imports it carries the cuda build tag, and the default build of
// mixft never links it. In the cuda build, cuinit_shim.c defines cuInit in
// the executable: gorgonia's init calls it, it records the driver's answer
// and lets the process start; New reports a failure as one error. So the
// cuda binary runs its CPU commands on machines without a GPU.
package gpu
