package model

import (
	"math"
	"testing"
)

func TestPresetsAreValid(t *testing.T) {
	if len(PresetNames()) != 6 || PresetNames()[0] != "tiny" || PresetNames()[5] != "large" {
		t.Fatalf("presets %v", PresetNames())
	}
	for _, n := range PresetNames() {
		c, err := Preset(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if _, err := Preset("huge"); err == nil {
		t.Error("unknown preset accepted")
	}
}

func TestInitWeightsFollowsHuggingFace(t *testing.T) {
	c := tinyConfig()
	w := InitWeights(c, 1)
	for _, p := range c.ParamSpecs() {
		v := w[p.Name]
		if len(v) != p.Size() {
			t.Fatalf("%s: %d elements", p.Name, len(v))
		}
		var sum, ss float64
		for _, x := range v {
			sum += float64(x)
			ss += float64(x) * float64(x)
		}
		mean := sum / float64(len(v))
		switch p.Kind {
		case Bias, NormBias:
			if ss != 0 {
				t.Errorf("%s not zero", p.Name)
			}
		case NormWeight:
			if mean != 1 || ss != float64(len(v)) {
				t.Errorf("%s not all ones", p.Name)
			}
		default:
			if std := math.Sqrt(ss / float64(len(v))); len(v) > 100 && (std < 0.015 || std > 0.025) {
				t.Errorf("%s std %.4f, want about 0.02", p.Name, std)
			}
		}
	}
	for _, x := range w["bert.embeddings.word_embeddings.weight"][:c.HiddenSize] {
		if x != 0 {
			t.Fatal("padding row of the word embeddings is not zero")
		}
	}
}
