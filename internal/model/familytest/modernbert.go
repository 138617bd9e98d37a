package familytest

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/fixture"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/safetensors"
)

// ModernConfigs are the ModernBERT fixtures' tiny configs (made by
// scripts/fixtures/modernbert.py from transformers' own classes, in
// internal/model/testdata/modernbert): C (cls pooling, 3 classes, no
// biases), R (mean pooling, regression, every bias, tanh GELU, tanh head),
// M (mean pooling, 2 classes, one head). Every one has S 20 > its window
// and both attention kinds.
var ModernConfigs = []string{"C", "R", "M"}

// ModernTol is the tolerance: 1e-5 relative to each tensor's
// largest reference value.
const ModernTol = 1e-5

// ModernDir is the ModernBERT fixtures' folder.
func ModernDir() string { return fixture.InRepo("internal", "model", "testdata", "modernbert") }

// ModernInputs is a fixture's inputs.json.
type ModernInputs struct {
	InputIDs      [][]int32 `json:"input_ids"`
	AttentionMask [][]int32 `json:"attention_mask"`
	Labels        []float64 `json:"labels"`
}

// Batch is the fixture's padded batch.
func (in *ModernInputs) Batch() *model.Batch {
	b := &model.Batch{Size: len(in.InputIDs), Seq: len(in.InputIDs[0])}
	for i := range in.InputIDs {
		b.InputIDs = append(b.InputIDs, in.InputIDs[i]...)
		b.AttentionMask = append(b.AttentionMask, in.AttentionMask[i]...)
	}
	return b
}

// LabelsFor splits the labels into class ids or regression targets.
func (in *ModernInputs) LabelsFor(c model.Config) ([]int32, []float32) {
	if c.Regression() {
		ts := make([]float32, len(in.Labels))
		for i, v := range in.Labels {
			ts[i] = float32(v)
		}
		return nil, ts
	}
	ids := make([]int32, len(in.Labels))
	for i, v := range in.Labels {
		ids[i] = int32(v)
	}
	return ids, nil
}

// LoadModern loads a ModernBERT fixture: the checkpoint (every tensor must
// be read), its inputs and the reference tensors.
func LoadModern(t testing.TB, cfg string) (*model.Checkpoint, *ModernInputs, map[string][]float32) {
	t.Helper()
	dir := filepath.Join(ModernDir(), cfg)
	ck, err := model.Load(filepath.Join(dir, "checkpoint"), model.LoadOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.Initialized) != 0 || len(ck.Ignored) != 0 {
		t.Fatalf("checkpoint: initialized %v, ignored %v; want every tensor read", ck.Initialized, ck.Ignored)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in ModernInputs
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(dir, "reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref := map[string][]float32{}
	for _, n := range f.Names() {
		if ref[n], err = f.Float32(n); err != nil {
			t.Fatal(err)
		}
	}
	return ck, &in, ref
}

// RelErr is max|got − want| / max|want|, the error relative to the
// tensor's scale (+Inf on NaN or a length mismatch).
func RelErr(got, want []float32) float64 {
	var d, s float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		s = math.Max(s, math.Abs(float64(want[i])))
	}
	if math.IsNaN(d) || len(got) != len(want) {
		return math.Inf(1)
	}
	if s == 0 {
		return d
	}
	return d / s
}

// ModernForward runs each ModernBERT fixture in evaluation mode on a
// backend from newBackend: logits and the real tokens' final hidden
// states of the padded batch, and each row's logits run alone without
// padding (on NewForwardActivations, whose layers share buffers), within
// tol relative of transformers'; the padded batch's logits on
// NewForwardActivations equal those on NewActivations.
func ModernForward(t *testing.T, newBackend func(testing.TB) backend.Backend, tol float64) {
	for _, cfg := range ModernConfigs {
		t.Run(cfg, func(t *testing.T) {
			ck, in, ref := LoadModern(t, cfg)
			m, err := model.New(newBackend(t), ck.Config, ck.Weights)
			if err != nil {
				t.Fatal(err)
			}
			b := in.Batch()
			if err := m.Check(b); err != nil {
				t.Fatal(err)
			}
			a := m.NewActivations(b.Size, b.Seq)
			m.Forward(b, a)
			if e := RelErr(m.Logits(a, b.Size), ref["logits"]); e > tol {
				t.Errorf("logits: relative error %.3g > %g", e, tol)
			}
			h := ck.Config.HiddenSize
			seq := download(m.Backend, a.Sequence(), b.Size*b.Seq*h)
			var got, want []float32
			for i, v := range b.AttentionMask {
				if v != 0 {
					got = append(got, seq[i*h:(i+1)*h]...)
					want = append(want, ref["sequence_output"][i*h:(i+1)*h]...)
				}
			}
			if e := RelErr(got, want); e > tol {
				t.Errorf("sequence_output (real tokens): relative error %.3g > %g", e, tol)
			}
			fa := m.NewForwardActivations(b.Size, b.Seq)
			m.Forward(b, fa)
			if got, want := m.Logits(fa, b.Size), m.Logits(a, b.Size); !slices.Equal(got, want) {
				t.Errorf("logits on forward-only activations %v, want %v", got, want)
			}
			fa.Free()
			for r := range in.InputIDs {
				n := 0
				for _, v := range in.AttentionMask[r] {
					n += int(v)
				}
				one := &model.Batch{Size: 1, Seq: n, InputIDs: in.InputIDs[r][:n], AttentionMask: in.AttentionMask[r][:n]}
				a1 := m.NewForwardActivations(1, n)
				m.Forward(one, a1)
				c := ck.Config.NumLabels
				if e := RelErr(m.Logits(a1, 1), ref["logits_unpadded"][r*c:(r+1)*c]); e > tol {
					t.Errorf("row %d alone: logits relative error %.3g > %g", r, e, tol)
				}
				a1.Free()
			}
		})
	}
}

// ModernGradients checks each ModernBERT fixture's loss and the gradient
// of every parameter (train mode, dropout 0) within tol relative of
// transformers'.
func ModernGradients(t *testing.T, newBackend func(testing.TB) backend.Backend, tol float64) {
	for _, cfg := range ModernConfigs {
		t.Run(cfg, func(t *testing.T) {
			ck, in, ref := LoadModern(t, cfg)
			m, err := model.New(newBackend(t), ck.Config, ck.Weights)
			if err != nil {
				t.Fatal(err)
			}
			b := in.Batch()
			a := m.NewActivations(b.Size, b.Seq)
			g := m.NewGrads()
			m.ForwardTrain(b, a, model.TrainStep{Seed: 1})
			labels, targets := in.LabelsFor(ck.Config)
			loss, err := m.Loss(a, labels, targets, 1)
			if err != nil {
				t.Fatal(err)
			}
			if e := math.Abs(loss-float64(ref["loss"][0])) / math.Abs(float64(ref["loss"][0])); e > tol {
				t.Errorf("loss %.7g, reference %.7g: relative error %.3g", loss, ref["loss"][0], e)
			}
			m.Backward(b, a, g)
			n, worst := 0, 0.0
			for _, tn := range g.Tensors() {
				want, ok := ref["grad/"+tn.Name]
				if !ok {
					t.Errorf("%s: no reference gradient (a parameter transformers does not have)", tn.Name)
					continue
				}
				e := RelErr(download(m.Backend, *tn.Buf, tn.Size()), want)
				worst = math.Max(worst, e)
				if e > tol {
					t.Errorf("gradient of %s: relative error %.3g > %g", tn.Name, e, tol)
				}
				n++
			}
			grads := 0
			for k := range ref {
				if strings.HasPrefix(k, "grad/") {
					grads++
				}
			}
			if n != grads {
				t.Errorf("compared %d gradients, the reference has %d", n, grads)
			}
			t.Logf("%s: loss %.7g, worst gradient relative error %.3g", cfg, loss, worst)
		})
	}
}
