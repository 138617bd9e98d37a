package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/safetensors"
)

// mixTol is the mixout fixtures' tolerance: abs 1e-6 × (1 + max |ref|).
func mixTol(ref []float32) float64 { return 1e-6 * (1 + maxAbs(ref)) }

// TestMixoutOpsMatchAuthors replays the masks of the mixout authors'
// Mixout function (fixtures/mixout/functional) through the Mixout and
// MixoutBackward ops: mixed weights, and both the exact and the authors'
// gradient.
func TestMixoutOpsMatchAuthors(t *testing.T) {
	needFixtures(t)
	raw, err := os.ReadFile(filepath.Join(fixtures, "mixout/functional.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fj struct {
		Cases []struct {
			Name     string  `json:"name"`
			Out      int     `json:"out_features"`
			In       int     `json:"in_features"`
			P        float64 `json:"p"`
			Training bool    `json:"training"`
			HasMask  bool    `json:"has_mask"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &fj); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(fixtures, "mixout/functional.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	get := func(name string) []float32 {
		v, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	be := cpu.New(1)
	up := func(v []float32) *cpu.Tensor { b := be.Alloc(len(v)).(*cpu.Tensor); be.Upload(b, v); return b }
	for _, c := range fj.Cases {
		t.Run(c.Name, func(t *testing.T) {
			w, u, mixed := get(c.Name+"/W"), get(c.Name+"/target"), get(c.Name+"/mixed")
			rows, cols, perElement := c.Out, c.In, false
			if strings.HasPrefix(c.Name, "vec") {
				rows, cols, perElement = 1, len(w), true
			}
			// Evaluation, p = 0 and p = 1 never reach the op: the model uses W or U.
			l := &Linear{W: up(w), In: cols, Out: rows, Mix: &Mix{P: float32(c.P), Target: up(u)}}
			switch {
			case !c.Training || c.P == 0:
				checkClose(t, "mixed", download(be, l.weight(c.Training), len(w)), mixed, mixTol(mixed))
				return
			case c.P == 1:
				checkClose(t, "mixed", download(be, l.weight(true), len(w)), mixed, mixTol(mixed))
				return
			}
			var mask []float32
			if perElement {
				mask = get(c.Name + "/mask_full")
			} else {
				mask = get(c.Name + "/mask_row")
			}
			out := be.Alloc(len(w))
			be.Mixout(out, up(w), up(u), up(mask), rows, cols, float32(c.P), perElement)
			checkClose(t, "mixed", download(be, out, len(w)), mixed, mixTol(mixed))
			g := up(get(c.Name + "/upstream_grad"))
			for _, mode := range []struct {
				name  string
				scale float32
			}{{"grad_exact", float32(1 / (1 - c.P))}, {"grad_author", 1}} {
				gw := be.Alloc(len(w))
				be.MixoutBackward(gw, g, up(mask), rows, cols, mode.scale, perElement)
				want := get(c.Name + "/" + mode.name)
				checkClose(t, mode.name, download(be, gw, len(w)), want, mixTol(want))
			}
		})
	}
}

func checkClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	if d := maxAbsDiff(got, want); !(d <= tol) {
		t.Errorf("%s: max abs diff %.3g > %.3g", what, d, tol)
	}
}

// TestMixoutModelStepMatchesAuthors: a whole BERT with every Linear mixed
// (fixtures/mixout/model_step_A), masks replayed, for p 0.1, 0.7, 0.9:
// logits, loss, the authors' gradients (reference mode) and the exact ones.
func TestMixoutModelStepMatchesAuthors(t *testing.T) {
	needFixtures(t)
	dir := filepath.Join(fixtures, "mixout/model_step_A")
	raw, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Labels []float64 `json:"labels"`
		Runs   map[string]struct {
			P    float64 `json:"p"`
			Loss float64 `json:"loss"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	targets, err := Load(filepath.Join(fixtures, "checkpoints/A"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := safetensors.Open(filepath.Join(dir, "current_weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	current := Weights{}
	for _, p := range targets.Config.ParamSpecs() {
		if current[p.Name], err = cur.Float32(p.Name); err != nil {
			t.Fatal(err)
		}
	}
	b := readBatches(t, "A")["batch1"]
	for name, run := range sum.Runs {
		for _, reference := range []bool{true, false} {
			ref, err := safetensors.Open(filepath.Join(dir, name+".safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			m, err := New(cpu.New(2), targets.Config, current)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range m.Linears() {
				if err := m.SetMixout(l, targets.Weights[l.Name+".weight"], MixoutOptions{P: run.P, Reference: reference}); err != nil {
					t.Fatal(err)
				}
				mask, err := ref.Float32("mask/" + l.Name)
				if err != nil {
					t.Fatal(err)
				}
				m.Backend.Upload(l.Mix.Mask, mask)
			}
			m.MixWeights()
			loss, g := lossAndGrads(t, m, b, sum.Labels)
			if math.Abs(loss-run.Loss) > 1e-5 {
				t.Errorf("%s: loss %.7f, want %.7f", name, loss, run.Loss)
			}
			if reference {
				compareGrads(t, m, g, ref, name+" author ", func(n string) string { return "grad_author/" + n })
				continue
			}
			compareGrads(t, m, g, ref, name+" exact ", func(n string) string {
				if _, ok := ref.Info("grad_exact/" + n); ok {
					return "grad_exact/" + n
				}
				return "grad_author/" + n
			})
		}
	}
}
