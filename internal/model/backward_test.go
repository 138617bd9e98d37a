package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/safetensors"
)

// batchLabels reads batch1's labels of forward/<cfg>/inputs.json.
func batchLabels(t *testing.T, cfg string) []float64 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtures, "forward", cfg, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		Batches map[string]fixtureBatch `json:"batches"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	return in.Batches["batch1"].Labels
}

func maxAbs(v []float32) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}

// lossAndGrads runs one training step's forward, loss and backward.
func lossAndGrads(t *testing.T, m *Model, b *Batch, labels []float64) (float64, *Grads) {
	t.Helper()
	a := m.NewActivations(b.Size, b.Seq)
	m.ForwardTrain(b, a, TrainStep{})
	var cls []int32
	var tgt []float32
	for _, y := range labels {
		if m.Config.Regression() {
			tgt = append(tgt, float32(y))
		} else {
			cls = append(cls, int32(y))
		}
	}
	loss, err := m.Loss(a, cls, tgt, 1)
	if err != nil {
		t.Fatal(err)
	}
	g := m.NewGrads()
	m.Backward(b, a, g)
	return loss, g
}

// compareGrads checks every parameter gradient: abs 1e-4 × max |ref|, and
// abs 1e-6 for attention.self.key.bias (exactly 0 in exact arithmetic).
func compareGrads(t *testing.T, m *Model, g *Grads, ref *safetensors.File, prefix string, names func(string) string) {
	t.Helper()
	for _, p := range g.Tensors() {
		want, err := ref.Float32(names(p.Name))
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		got := download(m.Backend, *p.Buf, p.Size())
		tol := 1e-4 * maxAbs(want)
		if strings.HasSuffix(p.Name, "attention.self.key.bias") {
			tol = 1e-6
		}
		if d := maxAbsDiff(got, want); !(d <= tol) {
			t.Errorf("%s%s: max abs diff %.3g > %.3g", prefix, p.Name, d, tol)
		}
	}
}

// TestGradientsMatchReference checks the loss and every parameter gradient
// against Hugging Face's (fixtures/gradients) for A, B and R.
func TestGradientsMatchReference(t *testing.T) {
	needFixtures(t)
	for _, cfg := range []string{"A", "B", "R"} {
		t.Run(cfg, func(t *testing.T) {
			m := loadFixtureModel(t, cfg)
			b := readBatches(t, cfg)["batch1"]
			loss, g := lossAndGrads(t, m, b, batchLabels(t, cfg))
			raw, err := os.ReadFile(filepath.Join(fixtures, "gradients", cfg, "loss.json"))
			if err != nil {
				t.Fatal(err)
			}
			var lj struct {
				Loss float64 `json:"loss"`
			}
			json.Unmarshal(raw, &lj)
			if math.Abs(loss-lj.Loss) > 1e-5 {
				t.Errorf("loss %.7f, want %.7f", loss, lj.Loss)
			}
			ref, err := safetensors.Open(filepath.Join(fixtures, "gradients", cfg, "grads.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			compareGrads(t, m, g, ref, "", func(n string) string { return n })
		})
	}
}
