//go:build !cuda

package main

import (
	"fmt"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/cpu"
)

// newBackend returns the backend --device names. This build has only the
// pure-Go CPU backend.
func newBackend(device string, threads int) (backend.Backend, error) {
	if device != "cpu" {
		return nil, fmt.Errorf("--device %s: this mixft was built without CUDA; rebuild with `go build -tags cuda ./cmd/mixft` on a machine with the CUDA toolkit", device)
	}
	return cpu.New(threads), nil
}
