package model

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestLoadPytorchBin loads a tiny BERT saved by torch.save as older
// transformers releases did (scripts/hf/gen_model_bin_testdata.py: "bert."
// names, legacy gamma/beta, an F16 tensor, a non-contiguous view, a
// position_ids buffer and a pretraining head) and checks every weight
// against the values the generator wrote.
func TestLoadPytorchBin(t *testing.T) {
	ck, err := Load(filepath.Join("testdata", "tinybin"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.Initialized) != 0 {
		t.Errorf("initialized %v, want none", ck.Initialized)
	}
	if want := []string{"bert.embeddings.position_ids", "cls.predictions.bias"}; !slices.Equal(ck.Ignored, want) {
		t.Errorf("ignored %v, want %v", ck.Ignored, want)
	}
	specs := ck.Config.ParamSpecs()
	if len(ck.Weights) != len(specs) {
		t.Errorf("%d weights, want %d", len(ck.Weights), len(specs))
	}
	for _, p := range specs {
		v := ck.Weights[p.Name]
		if len(v) != p.Size() {
			t.Fatalf("%s: %d values, want %d", p.Name, len(v), p.Size())
		}
		for i, x := range v {
			want := float32((i*31+len(p.Name))%17-8) / 16
			if x != want {
				t.Fatalf("%s[%d] = %v, want %v", p.Name, i, x, want)
			}
		}
	}
}
