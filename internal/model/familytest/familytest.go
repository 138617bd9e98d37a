// Package familytest checks a backend's forward and backward passes of the
// encoder families against golden fixtures computed with Hugging Face's
// classes: RoBERTa, ELECTRA and DistilBERT from ../shared/fixtures/{roberta,
// electra,distilbert}, with the tolerances their READMEs state, and
// XLM-RoBERTa, ALBERT and DeBERTa-v2/v3 from internal/model/testdata/<family>
// (written by scripts/fixtures/hf_families.py; float64 references, compared
// within 1e-5 relative to each tensor's largest magnitude). The model tests
// run it on the CPU backend, the GPU tests on the CUDA backend and its host
// emulation.
package familytest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/fixture"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/safetensors"
)

// Families are the fixture folders, and Configs the checkpoints of each.
var (
	Families = append(append([]string{}, sharedFamilies...), Local...)
	Configs  = []string{"C", "R"}
)

// sharedFamilies have their fixtures in ../shared/fixtures; Local (the
// model_type of each) in internal/model/testdata.
var (
	sharedFamilies = []string{"roberta", "electra", "distilbert"}
	// Local are the families whose fixtures (with 10 AdamW steps) are kept
	// in the repository.
	Local = []string{"xlm-roberta", "albert", "deberta-v2"}
)

// Dir is the fixture folder of a family.
func Dir(t testing.TB, family string) string {
	t.Helper()
	if !slices.Contains(Local, family) {
		return fixture.Path(t, "fixtures", family)
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("familytest: no source path to find testdata from")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata", family)
}

// tolerance is the largest difference accepted from a reference tensor:
// abs scaled by slack for the shared fixtures, 1e-5 of the tensor's
// largest magnitude (floor abs floor) for the local float64 ones.
func tolerance(family string, abs, floor float64, want []float32, slack float64) float64 {
	if !slices.Contains(Local, family) {
		return abs * slack
	}
	var m float64
	for _, x := range want {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return math.Max(1e-5*m, floor) * slack
}

// Batch is one batch of a fixture's inputs.json.
type Batch struct {
	*model.Batch
	// PositionIDs are transformers' position ids (RoBERTa only).
	PositionIDs []int32
	Labels      []float64
}

// Load loads checkpoints/<cfg> of a family folder and the batches of
// forward/<cfg>/inputs.json (missing token_type_ids are zeros, as
// transformers uses).
func Load(t testing.TB, family, cfg string) (*model.Checkpoint, map[string]*Batch) {
	t.Helper()
	dir := Dir(t, family)
	ck, err := model.Load(filepath.Join(dir, "checkpoints", cfg), model.LoadOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "forward", cfg, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		Batches map[string]struct {
			InputIDs      [][]int32 `json:"input_ids"`
			AttentionMask [][]int32 `json:"attention_mask"`
			TokenTypeIDs  [][]int32 `json:"token_type_ids"`
			PositionIDs   [][]int32 `json:"position_ids"`
			Labels        []float64 `json:"labels"`
		} `json:"batches"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	out := map[string]*Batch{}
	for name, fb := range in.Batches {
		b := &Batch{Batch: &model.Batch{Size: len(fb.InputIDs), Seq: len(fb.InputIDs[0])}, Labels: fb.Labels}
		for i := range fb.InputIDs {
			b.InputIDs = append(b.InputIDs, fb.InputIDs[i]...)
			b.AttentionMask = append(b.AttentionMask, fb.AttentionMask[i]...)
			if fb.TokenTypeIDs != nil {
				b.TokenTypeIDs = append(b.TokenTypeIDs, fb.TokenTypeIDs[i]...)
			} else {
				b.TokenTypeIDs = append(b.TokenTypeIDs, make([]int32, len(fb.InputIDs[i]))...)
			}
			if fb.PositionIDs != nil {
				b.PositionIDs = append(b.PositionIDs, fb.PositionIDs[i]...)
			}
		}
		out[name] = b
	}
	return ck, out
}

func download(be backend.Backend, b backend.Buffer, n int) []float32 {
	v := make([]float32, n)
	be.Download(v, b)
	return v
}

// MaxAbsDiff is the largest |a[i] − b[i]| (NaN when one is NaN).
func MaxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		x := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(x) {
			return x
		}
		d = math.Max(d, x)
	}
	return d
}

// outputs maps each fixture tensor name (without the batch prefix) to what
// the forward pass produced.
func outputs(m *model.Model, a *model.Activations, b *model.Batch) map[string][]float32 {
	be, c := m.Backend, m.Config
	t, h := b.Size*b.Seq, c.HiddenSize
	out := map[string][]float32{
		"embedding_output": download(be, a.EmbNorm, t*c.EmbedDim()),
		"sequence_output":  download(be, a.Sequence(), t*h),
		"head_hidden":      download(be, a.Pooled, b.Size*h),
		"logits":           m.Logits(a, b.Size),
	}
	if a.Proj != nil {
		out["embeddings_project_output"] = download(be, a.Proj, t*h)
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

// Forward runs every batch of every fixture config of every family in
// evaluation mode on a backend from newBackend and compares every tensor
// of forward/<cfg>/outputs.safetensors: abs 5e-5, attention probabilities
// abs 1e-5 (scaled by slack, 1 for float32 backends). RoBERTa's position
// ids must equal transformers'. The logits on NewForwardActivations (the
// layers sharing buffers) must equal those on NewActivations.
func Forward(t *testing.T, newBackend func(testing.TB) backend.Backend, slack float64) {
	for _, fam := range Families {
		for _, cfg := range Configs {
			t.Run(fam+"/"+cfg, func(t *testing.T) {
				ck, batches := Load(t, fam, cfg)
				m, err := model.New(newBackend(t), ck.Config, ck.Weights)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Free()
				ref, err := safetensors.Open(filepath.Join(Dir(t, fam), "forward", cfg, "outputs.safetensors"))
				if err != nil {
					t.Fatal(err)
				}
				defer ref.Close()
				for name, b := range batches {
					if err := m.Check(b.Batch); err != nil {
						t.Fatal(err)
					}
					if b.PositionIDs != nil {
						pos := make([]int32, len(b.InputIDs))
						m.Config.PositionIDs(pos, b.Batch)
						if !slices.Equal(pos, b.PositionIDs) {
							t.Errorf("%s: position ids %v, want %v", name, pos, b.PositionIDs)
						}
					}
					a := m.NewActivations(b.Size, b.Seq)
					m.Forward(b.Batch, a)
					got := outputs(m, a, b.Batch)
					compared := 0
					for _, key := range ref.Names() {
						rest, ok := strings.CutPrefix(key, name+"/")
						if !ok {
							continue
						}
						want, err := ref.Float32(key)
						if err != nil {
							t.Fatal(err)
						}
						g, ok := got[rest]
						if !ok {
							t.Fatalf("no output for fixture tensor %s", key)
						}
						if len(g) != len(want) {
							t.Fatalf("%s: %d elements, want %d", key, len(g), len(want))
						}
						tol := 5e-5
						if strings.HasSuffix(rest, "attention_probs") {
							tol = 1e-5
						}
						tol = tolerance(fam, tol, 1e-7, want, slack)
						if d := MaxAbsDiff(g, want); !(d <= tol) {
							t.Errorf("%s: max abs diff %.3g > %.3g", key, d, tol)
						}
						compared++
					}
					if want := 4; compared < want {
						t.Fatalf("%s: %d tensors compared, want at least %d", name, compared, want)
					}
					fa := m.NewForwardActivations(b.Size, b.Seq)
					m.Forward(b.Batch, fa)
					if got, want := m.Logits(fa, b.Size), m.Logits(a, b.Size); !slices.Equal(got, want) {
						t.Errorf("%s: logits on forward-only activations %v, want %v", name, got, want)
					}
					fa.Free()
					a.Free()
				}
			})
		}
	}
}

// Gradients runs batch1 of every fixture config of every family in
// training mode with dropout 0 and compares the loss (abs 1e-5) and the
// gradient of every parameter (abs 1e-4 × the reference's max |g|; the
// key bias, exactly 0 in exact arithmetic, abs 1e-6), scaled by slack.
func Gradients(t *testing.T, newBackend func(testing.TB) backend.Backend, slack float64) {
	for _, fam := range Families {
		for _, cfg := range Configs {
			t.Run(fam+"/"+cfg, func(t *testing.T) {
				ck, batches := Load(t, fam, cfg)
				m, err := model.New(newBackend(t), ck.Config, ck.Weights)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Free()
				b := batches["batch1"]
				a := m.NewActivations(b.Size, b.Seq)
				defer a.Free()
				m.ForwardTrain(b.Batch, a, model.TrainStep{})
				var cls []int32
				var tgt []float32
				for _, y := range b.Labels {
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
				defer g.Free()
				m.Backward(b.Batch, a, g)
				dir := filepath.Join(Dir(t, fam), "gradients", cfg)
				raw, err := os.ReadFile(filepath.Join(dir, "loss.json"))
				if err != nil {
					t.Fatal(err)
				}
				var lj struct {
					Loss float64 `json:"loss"`
				}
				if err := json.Unmarshal(raw, &lj); err != nil {
					t.Fatal(err)
				}
				if math.Abs(loss-lj.Loss) > tolerance(fam, 1e-5, 0, []float32{float32(lj.Loss)}, slack) {
					t.Errorf("loss %.7f, want %.7f", loss, lj.Loss)
				}
				ref, err := safetensors.Open(filepath.Join(dir, "grads.safetensors"))
				if err != nil {
					t.Fatal(err)
				}
				defer ref.Close()
				n := 0
				for _, p := range g.Tensors() {
					want, err := ref.Float32(p.Name)
					if err != nil {
						t.Fatalf("%s: %v", p.Name, err)
					}
					got := download(m.Backend, *p.Buf, p.Size())
					var refMax float64
					for _, x := range want {
						refMax = math.Max(refMax, math.Abs(float64(x)))
					}
					tol := 1e-4 * refMax
					if strings.HasSuffix(p.Name, "attention.self.key.bias") || strings.HasSuffix(p.Name, "attention.k_lin.bias") {
						tol = 1e-6
					}
					if slices.Contains(Local, fam) {
						tol = tolerance(fam, 0, 1e-7, want, 1)
					}
					if d := MaxAbsDiff(got, want); !(d <= tol*slack) {
						t.Errorf("%s: max abs diff %.3g > %.3g", p.Name, d, tol*slack)
					}
					n++
				}
				if params := len(ck.Weights); n != params {
					t.Errorf("compared %d gradients, the model has %d parameters", n, params)
				}
			})
		}
	}
}
