//go:build cuda || kernelhost

package gpu

import (
	"testing"

	"github.com/mixft/mixft/internal/backend/conformance"
)

// TestConformance runs the backend conformance suite (every op on fresh
// random inputs against float64 references) on the GPU backend in FP32.
func TestConformance(t *testing.T) {
	be := newTestBackend(t, FP32)
	conformance.Run(t, be)
}
