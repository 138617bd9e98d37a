//go:build cuda

package main

import (
	"fmt"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/gpu"
)

// newBackend returns the backend --device names. This build (-tags cuda)
// adds the CUDA backend:
//
//	cpu                 the pure-Go backend
//	cuda, cuda:N        GPU N (default 0)
//	cuda:N:PRECISION    with GEMMs in fp32 (default), tf32 or bf16
//
// The GEMM precision may also come from the precision setting (--precision,
// MIXFT_PRECISION, precision: in --config); a precision in the device
// string wins.
func newBackend(device string, threads int, precision string) (backend.Backend, error) {
	if device == "cpu" {
		return newCPUBackend(threads, precision)
	}
	if _, err := gpu.ParsePrecision(precision); err != nil {
		return nil, err
	}
	ordinal, prec, err := gpu.ParseDevice(device, precision)
	if err != nil {
		return nil, err
	}
	be, err := gpu.New(ordinal, prec)
	if err != nil {
		return nil, fmt.Errorf("--device %s: %w", device, err)
	}
	return be, nil
}
