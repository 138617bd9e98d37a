//go:build cuda || kernelhost

package gpu

import (
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/model/familytest"
)

func fp32Backend(t testing.TB) backend.Backend { return newTestBackend(t, FP32) }

// TestFamilyForwardMatchesReference: the forward passes of every family
// with fixtures (RoBERTa, ELECTRA, DistilBERT, XLM-RoBERTa, ALBERT,
// DeBERTa-v3) on this backend in FP32 against Hugging Face's, with the
// fixtures' tolerances.
func TestFamilyForwardMatchesReference(t *testing.T) { familytest.Forward(t, fp32Backend, 1) }

// TestFamilyGradientsMatchReference: their losses and every parameter
// gradient on this backend in FP32 against Hugging Face's.
func TestFamilyGradientsMatchReference(t *testing.T) { familytest.Gradients(t, fp32Backend, 1) }

// TestModernBERTForwardMatchesReference: ModernBERT's forward on this
// backend in FP32 against transformers' (1e-5 relative).
func TestModernBERTForwardMatchesReference(t *testing.T) {
	familytest.ModernForward(t, fp32Backend, familytest.ModernTol)
}

// TestModernBERTGradientsMatchReference: its loss and every gradient.
func TestModernBERTGradientsMatchReference(t *testing.T) {
	familytest.ModernGradients(t, fp32Backend, familytest.ModernTol)
}
