package cpu

import (
	"testing"

	"github.com/mixft/mixft/internal/backend/conformance"
)

func TestConformance(t *testing.T) {
	for _, workers := range []int{1, 3} {
		conformance.Run(t, New(workers))
	}
}
