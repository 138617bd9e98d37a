package model_test

import (
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model/familytest"
)

func cpuBackend(testing.TB) backend.Backend { return cpu.New(0) }

// TestFamilyForwardMatchesReference: RoBERTa, ELECTRA and DistilBERT
// forward passes on the CPU backend against Hugging Face's.
func TestFamilyForwardMatchesReference(t *testing.T) { familytest.Forward(t, cpuBackend, 1) }

// TestFamilyGradientsMatchReference: their losses and every parameter
// gradient on the CPU backend against Hugging Face's.
func TestFamilyGradientsMatchReference(t *testing.T) { familytest.Gradients(t, cpuBackend, 1) }
