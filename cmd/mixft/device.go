//go:build !cuda

package main

import (
	"fmt"

	"github.com/mixft/mixft/internal/backend"
)

// newBackend returns the backend --device names, its GEMMs at precision
// (fp32 or bf16). This build has only the pure-Go CPU backend.
func newBackend(device string, threads int, precision string) (backend.Backend, error) {
	if device != "cpu" {
		return nil, fmt.Errorf("--device %s: this mixft was built without CUDA; rebuild with `go build -tags cuda ./cmd/mixft` on a machine with the CUDA toolkit", device)
	}
	return newCPUBackend(threads, precision)
}
