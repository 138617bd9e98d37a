package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model"
)

// tinyConfig is a two-layer BERT small enough for exact checks.
func tinyConfig() model.Config {
	c := model.DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 40, 16, 2, 2, 32
	c.MaxPositionEmbeddings = 16
	return c
}

// newTinyStep builds a model of tinyConfig from seed-1 weights and a Step
// whose pretrained weights are drawn with seed 2.
func newTinyStep(t *testing.T, cfg config.Run) (*Step, model.Weights) {
	t.Helper()
	mc := tinyConfig()
	m, err := model.New(cpu.New(1), mc, model.InitWeights(mc, 1))
	if err != nil {
		t.Fatal(err)
	}
	pre := model.InitWeights(mc, 2)
	st, err := NewStep(m, pre, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st, pre
}

func download(st *Step, p *Param) []float32 {
	v := make([]float32, p.Spec.Size())
	st.Model.Backend.Download(v, p.Target)
	return v
}

// TestStepParamGroups: weight decay on embeddings and dense weights, toward
// the pretrained weights except for the new classifier, and the layer-wise
// learning rate by depth as the state-dict name gives it.
func TestStepParamGroups(t *testing.T) {
	cfg := config.Default()
	cfg.WeightDecay, cfg.DecayTarget, cfg.LayerLRDecay = 0.01, "pretrained", 0.5
	st, pre := newTinyStep(t, cfg)
	layers := st.Model.Config.NumHiddenLayers
	if len(st.Opt.Params) != len(st.Model.Config.ParamSpecs()) {
		t.Fatalf("%d optimizer parameters, the model has %d", len(st.Opt.Params), len(st.Model.Config.ParamSpecs()))
	}
	for _, p := range st.Opt.Params {
		name := p.Spec.Name
		decays := hfDecays(name)
		if (p.WeightDecay == 0.01) != decays || (p.WeightDecay != 0 && p.WeightDecay != 0.01) {
			t.Errorf("%s: weight decay %g", name, p.WeightDecay)
		}
		if wantTarget := decays && !strings.HasPrefix(name, "classifier."); (p.Target != nil) != wantTarget {
			t.Errorf("%s: decays toward the pretrained weights: %v, want %v", name, p.Target != nil, wantTarget)
		} else if wantTarget && !slices.Equal(download(st, p), pre[name]) {
			t.Errorf("%s: the decay target is not the pretrained weight", name)
		}
		depth := layers + 1 // pooler and classifier
		var i int
		if _, err := fmt.Sscanf(name, "bert.encoder.layer.%d.", &i); err == nil {
			depth = i + 1
		} else if strings.HasPrefix(name, "bert.embeddings.") {
			depth = 0
		}
		if want := math.Pow(0.5, float64(layers+1-depth)); p.LRScale != want {
			t.Errorf("%s: learning-rate scale %g, want %g", name, p.LRScale, want)
		}
	}
}

// TestStepMixoutSetup: mixout on every Linear toward its pretrained weight,
// the classifier only with output_layer mixout; dropout as the settings say.
func TestStepMixoutSetup(t *testing.T) {
	for _, out := range []string{"dropout", "mixout"} {
		cfg := config.Default()
		cfg.Mixout, cfg.OutputLayer, cfg.Dropout = 0.7, out, 0.2
		st, pre := newTinyStep(t, cfg)
		m := st.Model
		for _, l := range m.Linears() {
			want := l != &m.Classifier || out == "mixout"
			if (l.Mix != nil) != want {
				t.Fatalf("output_layer %s: %s mixed: %v, want %v", out, l.Name, l.Mix != nil, want)
			}
			if l.Mix == nil {
				continue
			}
			u := make([]float32, l.Out*l.In)
			m.Backend.Download(u, l.Mix.Target)
			if l.Mix.P != 0.7 || !slices.Equal(u, pre[l.Name+".weight"]) {
				t.Fatalf("%s: mixout p %g, or its target is not the pretrained weight", l.Name, l.Mix.P)
			}
		}
		if d := st.Dropout; d.HiddenDropout != 0.2 || d.AttentionDropout != 0.2 || d.ClassifierDropout != 0.2 || d.Seed != cfg.Seed {
			t.Fatalf("dropout %+v, want 0.2 everywhere and seed %d", d, cfg.Seed)
		}
	}
}

// TestStepAccumulation: a batch split into micro-batches of 3 and 1
// examples gives the loss and gradients of the whole batch (no dropout).
func TestStepAccumulation(t *testing.T) {
	cfg := config.Default()
	cfg.Dropout = 0
	rng := rand.New(rand.NewPCG(3, 4))
	const rows, seq = 4, 8
	b := &model.Batch{Size: rows, Seq: seq, InputIDs: make([]int32, rows*seq), TokenTypeIDs: make([]int32, rows*seq), AttentionMask: make([]int32, rows*seq)}
	for i := range b.InputIDs {
		b.InputIDs[i], b.AttentionMask[i] = int32(1+rng.IntN(39)), 1
	}
	labels := []int32{0, 1, 1, 0}
	part := func(lo, hi int) MicroBatch {
		return MicroBatch{Batch: &model.Batch{Size: hi - lo, Seq: seq, InputIDs: b.InputIDs[lo*seq : hi*seq],
			TokenTypeIDs: b.TokenTypeIDs[lo*seq : hi*seq], AttentionMask: b.AttentionMask[lo*seq : hi*seq]}, Labels: labels[lo:hi]}
	}
	grads := func(mbs []MicroBatch) (float64, [][]float32) {
		st, _ := newTinyStep(t, cfg)
		loss, err := st.Accumulate(mbs, 0)
		if err != nil {
			t.Fatal(err)
		}
		var gs [][]float32
		for _, p := range st.Opt.Params {
			v := make([]float32, p.Spec.Size())
			st.Model.Backend.Download(v, p.G)
			gs = append(gs, v)
		}
		return loss, gs
	}
	wantLoss, want := grads([]MicroBatch{{Batch: b, Labels: labels}})
	gotLoss, got := grads([]MicroBatch{part(0, 3), part(3, 4)})
	if math.Abs(gotLoss-wantLoss) > 1e-6 {
		t.Fatalf("accumulated loss %.8g, whole batch %.8g", gotLoss, wantLoss)
	}
	mc := tinyConfig()
	specs := mc.ParamSpecs()
	for i := range want {
		for j := range want[i] {
			if d := math.Abs(float64(got[i][j] - want[i][j])); d > 1e-6+1e-4*math.Abs(float64(want[i][j])) {
				t.Fatalf("%s[%d]: accumulated gradient %g, whole batch %g", specs[i].Name, j, got[i][j], want[i][j])
			}
		}
	}
}
