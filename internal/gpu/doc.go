//go:build cuda

// Package gpu is the CUDA backend, built only with -tags cuda. It is empty
// until the CUDA backend lands; the default build answers --device cuda:N
// with an error saying it was built without CUDA.
package gpu
