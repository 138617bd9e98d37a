//go:build cuda

package main

import "github.com/mixft/mixft/internal/gpu"

// The CUDA backend must be an accelerator to bench: otherwise bench would
// read the clock before the queued GPU work is done (checked by
// `go vet -tags cuda ./...`, make cuda-vet).
var _ accelerator = (*gpu.Backend)(nil)
