package model

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/cpu"
)

// TestLayout: the typed layout and the state-dict names agree, in every
// family. Every parameter of the model and of its gradients is its own
// buffer, uploaded from the weight of its name; the Block and Layer of
// each name are right; every Linear's name and shape are those of its
// weight.
func TestLayout(t *testing.T) {
	for _, mt := range ModelTypes {
		t.Run(mt, func(t *testing.T) {
			c := tinyConfig()
			c.ModelType, c.EmbeddingSize = mt, 4
			if mt == "distilbert" {
				c.TypeVocabSize = 0
			}
			if mt == "deberta-v2" {
				c.EmbeddingSize = 0
				c.SetDeBERTaV3Attention(4)
			}
			if mt == "modernbert" {
				d, _ := FamilyDefaults(mt)
				c.Modern, c.TypeVocabSize = d.Modern, 0
			}
			w := InitWeights(c, 3)
			m, err := New(cpu.New(1), c, w)
			if err != nil {
				t.Fatal(err)
			}
			g := m.NewGrads()
			seen := map[backend.Buffer]string{}
			ws, gs := m.Tensors(), g.Tensors()
			want := map[string]int{"bert": 5 + 16*c.NumHiddenLayers + 4, "roberta": 5 + 16*c.NumHiddenLayers + 4,
				"xlm-roberta": 5 + 16*c.NumHiddenLayers + 4, "electra": 7 + 16*c.NumHiddenLayers + 4, "distilbert": 4 + 16*c.NumHiddenLayers + 4,
				"albert":     7 + 16 + 4,                       // ALBERT: one layer shared by every application
				"deberta-v2": 4 + 16*c.NumHiddenLayers + 3 + 4, // DeBERTa: no position embeddings; relative ones and their LayerNorm
				"modernbert": 6*c.NumHiddenLayers + 6}[mt]
			if len(ws) != len(gs) || len(ws) != want {
				t.Fatalf("%d weights, %d gradients, want %d", len(ws), len(gs), want)
			}
			for i, p := range ws {
				if !slices.Equal(p.Shape, gs[i].Shape) || p.Name != gs[i].Name {
					t.Fatalf("gradient %d is %s %v, weight %s %v", i, gs[i].Name, gs[i].Shape, p.Name, p.Shape)
				}
				for _, b := range []backend.Buffer{*p.Buf, *gs[i].Buf} {
					if other, dup := seen[b]; dup || b == nil {
						t.Fatalf("%s: buffer missing or shared with %s", p.Name, other)
					}
					seen[b] = p.Name
				}
				if !slices.Equal(download(m.Backend, *p.Buf, p.Size()), w[p.Name]) {
					t.Errorf("%s: the buffer does not hold the weight of that name", p.Name)
				}
				var layer int
				block := Classifier
				switch {
				case strings.Contains(p.Name, "embeddings") || strings.Contains(p.Name, "embedding_hidden_mapping_in") || p.Name == "deberta.encoder.LayerNorm.weight" || p.Name == "deberta.encoder.LayerNorm.bias":
					block = Embeddings
				case strings.Contains(p.Name, ".albert_layers.0."):
					block = Encoder
				case strings.Contains(p.Name, ".layer."):
					block = Encoder
					fmt.Sscanf(p.Name[strings.Index(p.Name, ".layer.")+len(".layer."):], "%d", &layer)
				case strings.Contains(p.Name, ".layers."): // ModernBERT
					block = Encoder
					fmt.Sscanf(p.Name[strings.Index(p.Name, ".layers.")+len(".layers."):], "%d", &layer)
				case strings.Contains(p.Name, "final_norm"): // ModernBERT: the top layer's
					block, layer = Encoder, c.NumHiddenLayers-1
				case strings.Contains(p.Name, "pooler.") || strings.HasPrefix(p.Name, "classifier.dense.") || strings.HasPrefix(p.Name, "pre_classifier.") || strings.HasPrefix(p.Name, "head."):
					block = Pooler
				}
				if p.Block != block || p.Layer != layer {
					t.Errorf("%s: block %d layer %d, want %d %d", p.Name, p.Block, p.Layer, block, layer)
				}
			}
			for _, l := range m.Linears() {
				i := slices.IndexFunc(ws, func(p Tensor) bool { return p.Buf == &l.W })
				if i < 0 || ws[i].Name != l.Name+".weight" || !slices.Equal(ws[i].Shape, []int{l.Out, l.In}) {
					t.Errorf("Linear %s (%d×%d) does not match its weight in the layout", l.Name, l.Out, l.In)
				}
			}
		})
	}
}
