package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/fixture"
	"github.com/mixft/mixft/internal/safetensors"
)

// fixtures is ../shared/fixtures (internal/fixture finds it).
var fixtures = filepath.Join(fixture.Root(), "fixtures")

// needFixtures ends the test when the fixtures are missing (a skip, or a
// failure under MIXFT_REQUIRE_FIXTURES=1).
func needFixtures(t testing.TB) {
	t.Helper()
	fixture.Path(t, "fixtures")
}

type fixtureBatch struct {
	InputIDs      [][]int32 `json:"input_ids"`
	AttentionMask [][]int32 `json:"attention_mask"`
	TokenTypeIDs  [][]int32 `json:"token_type_ids"`
	Labels        []float64 `json:"labels"`
}

// readBatches reads forward/<cfg>/inputs.json.
func readBatches(t testing.TB, cfg string) map[string]*Batch {
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
	out := map[string]*Batch{}
	for name, fb := range in.Batches {
		b := &Batch{Size: len(fb.InputIDs), Seq: len(fb.InputIDs[0])}
		for i := range fb.InputIDs {
			b.InputIDs = append(b.InputIDs, fb.InputIDs[i]...)
			b.AttentionMask = append(b.AttentionMask, fb.AttentionMask[i]...)
			b.TokenTypeIDs = append(b.TokenTypeIDs, fb.TokenTypeIDs[i]...)
		}
		out[name] = b
	}
	return out
}

// loadFixtureModel loads checkpoints/<name> onto a fresh CPU backend.
func loadFixtureModel(t testing.TB, name string) *Model {
	t.Helper()
	ck, err := Load(filepath.Join(fixtures, "checkpoints", name), LoadOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cpu.New(0), ck.Config, ck.Weights)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func download(be backend.Backend, b backend.Buffer, n int) []float32 {
	v := make([]float32, n)
	be.Download(v, b)
	return v
}

// outputs maps each fixture tensor name (without the batch prefix) to what
// the forward pass produced.
func outputs(m *Model, a *Activations, b *Batch) map[string][]float32 {
	be, c := m.Backend, m.Config
	t, h := b.Size*b.Seq, c.HiddenSize
	out := map[string][]float32{
		"embedding_output": download(be, a.EmbNorm, t*h),
		"sequence_output":  download(be, a.Sequence(), t*h),
		"pooled_output":    download(be, a.Pooled, b.Size*h),
		"logits":           m.Logits(a, b.Size),
	}
	for i, la := range a.Layers {
		p := fmt.Sprintf("layer.%d.", i)
		out[p+"attention_probs"] = download(be, la.Probs, b.Size*c.NumAttentionHeads*b.Seq*b.Seq)
		out[p+"attention_context"] = download(be, la.Ctx, t*h)
		out[p+"attention_output"] = download(be, la.AttnOut, t*h)
		out[p+"intermediate_output"] = download(be, la.Inter, t*c.IntermediateSize)
		out[p+"output"] = download(be, la.Out, t*h)
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// TestForwardMatchesReference compares every intermediate of the eval-mode
// forward pass with Hugging Face's (fixtures/forward, abs 5e-5; attention
// probabilities abs 1e-5).
func TestForwardMatchesReference(t *testing.T) {
	needFixtures(t)
	for _, cfg := range []string{"A", "B", "R"} {
		t.Run(cfg, func(t *testing.T) {
			m := loadFixtureModel(t, cfg)
			ref, err := safetensors.Open(filepath.Join(fixtures, "forward", cfg, "outputs.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			for name, b := range readBatches(t, cfg) {
				if err := m.Check(b); err != nil {
					t.Fatal(err)
				}
				a := m.NewActivations(b.Size, b.Seq)
				m.Forward(b, a)
				got := outputs(m, a, b)
				compared := 0
				for _, key := range ref.Names() {
					prefix := name + "/"
					if len(key) <= len(prefix) || key[:len(prefix)] != prefix {
						continue
					}
					want, err := ref.Float32(key)
					if err != nil {
						t.Fatal(err)
					}
					g, ok := got[key[len(prefix):]]
					if !ok {
						t.Fatalf("no output for fixture tensor %s", key)
					}
					if len(g) != len(want) {
						t.Fatalf("%s: %d elements, want %d", key, len(g), len(want))
					}
					tol := 5e-5
					if slices.Contains([]string{"attention_probs"}, suffixAfterDot(key)) {
						tol = 1e-5
					}
					if d := maxAbsDiff(g, want); d > tol || math.IsNaN(d) {
						t.Errorf("%s: max abs diff %.3g > %.0g", key, d, tol)
					}
					compared++
				}
				if compared < 5 {
					t.Fatalf("%s: only %d tensors compared", name, compared)
				}
			}
		})
	}
}

func suffixAfterDot(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '.' {
			return key[i+1:]
		}
	}
	return key
}

// TestLoaderVariantsBitIdentical loads the legacy, extra-key and
// BertModel-only variants of A and requires bit-identical outputs.
func TestLoaderVariantsBitIdentical(t *testing.T) {
	needFixtures(t)
	base := loadFixtureModel(t, "A")
	batches := readBatches(t, "A")
	run := func(m *Model, b *Batch) map[string][]float32 {
		a := m.NewActivations(b.Size, b.Seq)
		m.Forward(b, a)
		return outputs(m, a, b)
	}
	for _, v := range []struct {
		dir  string
		keys []string
	}{
		{"A-legacy-gamma-beta", []string{"logits", "pooled_output", "sequence_output"}},
		{"A-extra-keys", []string{"logits", "pooled_output", "sequence_output"}},
		{"A-bertmodel-only", []string{"pooled_output", "sequence_output"}},
	} {
		t.Run(v.dir, func(t *testing.T) {
			m := loadFixtureModel(t, v.dir)
			for name, b := range batches {
				want, got := run(base, b), run(m, b)
				for _, k := range v.keys {
					if !slices.Equal(want[k], got[k]) {
						t.Errorf("%s %s: not bit-identical to A (max abs diff %.3g)", name, k, maxAbsDiff(want[k], got[k]))
					}
				}
			}
		})
	}
}
