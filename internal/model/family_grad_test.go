package model

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixft/mixft/internal/cpu"
)

// TestFamilyTrainingGradientsFiniteDifference checks each family's backward
// in training mode, which the fixtures (dropout 0) do not reach: every
// dropout (the heads' extra one before their dense included) and mixout on
// every Linear (ELECTRA's embeddings_project included). For a random
// direction d in each of several parameters, the directional derivative
// ⟨∇L, d⟩ must match the central difference of the loss under the same
// masks.
func TestFamilyTrainingGradientsFiniteDifference(t *testing.T) {
	for _, mt := range []string{"bert", "roberta", "electra", "distilbert", "albert", "deberta-v2"} {
		t.Run(mt, func(t *testing.T) {
			c, err := FamilyDefaults(mt)
			if err != nil {
				t.Fatal(err)
			}
			c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 30, 16, 2, 2, 32
			c.MaxPositionEmbeddings, c.TypeVocabSize, c.EmbeddingSize = 20, 2, 8
			if mt == "distilbert" {
				c.TypeVocabSize = 0
			}
			if mt == "deberta-v2" { // log buckets beyond ±2, over positions up to 10 apart
				c.EmbeddingSize = 0
				c.SetDeBERTaV3Attention(4)
				c.extra["max_relative_positions"] = json.RawMessage("10")
			}
			c.SetLabels([]string{"a", "b", "c"})
			w := InitWeights(c, 1)
			rng := rand.New(rand.NewPCG(7, 8))
			for _, v := range w { // larger than initialisation, so every path carries gradient
				for i := range v {
					v[i] += float32(rng.NormFloat64() * 0.3)
				}
			}
			m, err := New(cpu.New(1), c, w)
			if err != nil {
				t.Fatal(err)
			}
			pre := InitWeights(c, 2)
			for _, l := range m.Linears() {
				if err := m.SetMixout(l, pre[l.Name+".weight"], MixoutOptions{P: 0.3}); err != nil {
					t.Fatal(err)
				}
			}
			const rows, seq = 3, 8
			b := &Batch{Size: rows, Seq: seq, InputIDs: make([]int32, rows*seq), TokenTypeIDs: make([]int32, rows*seq), AttentionMask: make([]int32, rows*seq)}
			for r, real := range []int{seq, 5, 3} {
				for s := 0; s < seq; s++ {
					k := r*seq + s
					b.InputIDs[k] = int32(c.PadTokenID)
					if s < real {
						b.InputIDs[k], b.AttentionMask[k] = int32(2+rng.IntN(c.VocabSize-2)), 1
						if s > real/2 && mt != "roberta" {
							b.TokenTypeIDs[k] = 1
						}
					}
				}
			}
			labels := []int32{0, 2, 1}
			ts := TrainStep{HiddenDropout: 0.2, AttentionDropout: 0.2, ClassifierDropout: 0.3, Seed: 11, Step: 3}
			m.DrawMixout(ts.Seed, ts.Step)
			a := m.NewActivations(rows, seq)
			loss := func() float64 {
				m.MixWeights()
				m.ForwardTrain(b, a, ts)
				l, err := m.Loss(a, labels, nil, 1)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			loss()
			g := m.NewGrads()
			m.Backward(b, a, g)
			gs := map[string][]float32{}
			for _, p := range g.Tensors() {
				gs[p.Name] = download(m.Backend, *p.Buf, p.Size())
			}
			checked := 0
			for _, p := range m.Tensors() {
				if p.Kind == Bias && p.Block == Encoder {
					continue // enough: the weights of the same layers are checked
				}
				d := make([]float32, p.Size())
				var norm float64
				for i := range d {
					d[i] = float32(rng.NormFloat64())
					norm += float64(d[i]) * float64(d[i])
				}
				var dir float64 // d has unit length
				for i := range d {
					d[i] /= float32(math.Sqrt(norm))
					dir += float64(d[i]) * float64(gs[p.Name][i])
				}
				orig := w[p.Name]
				const eps = 3e-3
				shifted := make([]float32, len(orig))
				at := func(s float32) float64 {
					for i := range orig {
						shifted[i] = orig[i] + s*d[i]
					}
					m.Backend.Upload(*p.Buf, shifted)
					return loss()
				}
				fd := (at(eps) - at(-eps)) / (2 * eps)
				m.Backend.Upload(*p.Buf, orig)
				if math.Abs(fd-dir) > 1e-3+0.02*math.Abs(fd) {
					t.Errorf("%s: ⟨∇L, d⟩ = %.6g, finite difference %.6g", p.Name, dir, fd)
				}
				checked++
			}
			if checked < 10 {
				t.Fatalf("only %d parameters checked", checked)
			}
		})
	}
}
