package train

import (
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/model/familytest"
)

// TestFamilyFinetuneMixout: a few steps of train.Step with mixout 0.7 on
// each family's bare checkpoint (head new, as finetuning a released model),
// on the fixtures' token ids: the loss stays finite, every pretrained
// Linear is mixed and moves, and the saved model reloads to bit-identical
// logits.
func TestFamilyFinetuneMixout(t *testing.T) {
	for _, fam := range familytest.Families {
		t.Run(fam, func(t *testing.T) {
			ck, batches := familytest.Load(t, fam, "C")
			var lay model.Params
			ck.Config.Layout(&lay)
			head := []string{lay.Pooler.Name + ".weight", lay.Pooler.Name + ".bias", lay.Classifier.Name + ".weight", lay.Classifier.Name + ".bias"}
			pre := maps.Clone(ck.Weights) // a checkpoint without the head: it is new
			for _, n := range head {
				delete(pre, n)
			}
			m, err := model.New(cpu.New(1), ck.Config, ck.Weights)
			if err != nil {
				t.Fatal(err)
			}
			cfg := config.Default()
			cfg.Mixout, cfg.MaxSeqLength, cfg.Seed = 0.7, 64, 5
			st, err := NewStep(m, pre, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range m.Linears() {
				if want := l != &m.Pooler && l != &m.Classifier; (l.Mix != nil) != want {
					t.Fatalf("%s: mixed %v, want %v", l.Name, l.Mix != nil, want)
				}
			}
			b := batches["batch1"]
			labels := make([]int32, len(b.Labels))
			for i, y := range b.Labels {
				labels[i] = int32(y)
			}
			for step := range 3 {
				loss, norm, err := st.Run([]MicroBatch{{Batch: b.Batch, Labels: labels}}, uint64(step), 1e-3)
				if err != nil {
					t.Fatal(err)
				}
				if math.IsNaN(loss) || math.IsInf(loss, 0) || !(norm > 0) {
					t.Fatalf("step %d: loss %g, gradient norm %g", step, loss, norm)
				}
			}
			w := m.Weights()
			for _, l := range m.Linears() {
				if name := l.Name + ".weight"; slices.Equal(w[name], ck.Weights[name]) {
					t.Errorf("%s did not change in training", name)
				}
			}
			a := m.NewActivations(b.Size, b.Seq)
			m.Forward(b.Batch, a)
			want := m.Logits(a, b.Size)
			dir := t.TempDir()
			if err := model.Save(dir, m.Config, w, model.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			again, err := model.Load(dir, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m2, err := model.New(cpu.New(1), again.Config, again.Weights)
			if err != nil {
				t.Fatal(err)
			}
			a2 := m2.NewActivations(b.Size, b.Seq)
			m2.Forward(b.Batch, a2)
			if got := m2.Logits(a2, b.Size); !slices.Equal(got, want) {
				t.Errorf("reloaded logits %v, want %v", got, want)
			}
		})
	}
}
