//go:build cuda

package main

import (
	"fmt"
	"os"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/gpu"
)

// newBackend returns the backend --device names. This build (-tags cuda)
// adds the CUDA backend:
//
//	cpu                 the pure-Go backend
//	cuda, cuda:N        GPU N (default 0)
//	cuda:N:PRECISION    with GEMMs in fp32 (default), tf32 or bf16
//
// The GEMM precision may also come from the environment,
// MIXFT_PRECISION=fp32|tf32|bf16; a precision in the device string wins.
// (It is read here rather than from a flag so that the cuda build adds no
// flag the default build lacks.)
func newBackend(device string, threads int) (backend.Backend, error) {
	if device == "cpu" {
		return cpu.New(threads), nil
	}
	ordinal, prec, err := gpu.ParseDevice(device, os.Getenv("MIXFT_PRECISION"))
	if err != nil {
		return nil, err
	}
	be, err := gpu.New(ordinal, prec)
	if err != nil {
		return nil, fmt.Errorf("--device %s: %w", device, err)
	}
	return be, nil
}
