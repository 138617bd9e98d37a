package synth

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestGenerateIsDeterministicAndBalanced(t *testing.T) {
	for _, kind := range Kinds {
		a, err := Generate(kind, 2000, 7)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Generate(kind, 2000, 7)
		if !slices.Equal(a, b) {
			t.Fatalf("%s: same seed, different data", kind)
		}
		c, _ := Generate(kind, 2000, 8)
		if slices.Equal(a, c) {
			t.Fatalf("%s: different seeds, same data", kind)
		}
		pos := 0
		for _, p := range a {
			if p.Entailed {
				pos++
			}
		}
		if pos < 900 || pos > 1100 {
			t.Errorf("%s: %d of 2000 entailed", kind, pos)
		}
	}
	if _, err := Generate("other", 1, 1); err == nil {
		t.Error("unknown kind accepted")
	}
}

// TestLabelsFollowThePremise checks every label against the premise's text.
func TestLabelsFollowThePremise(t *testing.T) {
	for _, kind := range Kinds {
		pairs, _ := Generate(kind, 500, 3)
		for _, p := range pairs {
			w, h := strings.Fields(p.Premise), strings.Fields(p.Hypothesis)
			color, animal := w[1], w[2] // the COLOR ANIMAL VERB in the PLACE .
			if kind == "target" {       // in the PLACE , a COLOR ANIMAL VERB .
				color, animal = w[5], w[6]
			}
			truth := h[1] == animal && h[3] == color // the ANIMAL is COLOR .
			if kind == "target" {                    // a COLOR ANIMAL is there .
				truth = h[2] == animal && h[1] == color
			}
			if truth != p.Entailed {
				t.Fatalf("%s: %q / %q labelled %v", kind, p.Premise, p.Hypothesis, p.Entailed)
			}
		}
	}
}

func TestWriteTSV(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTSV(&b, []Pair{{"a b", "c", true}, {"d", "e", false}}); err != nil {
		t.Fatal(err)
	}
	want := "index\tsentence1\tsentence2\tlabel\n0\ta b\tc\tentailment\n1\td\te\tnot_entailment\n"
	if b.String() != want {
		t.Fatalf("got %q", b.String())
	}
}
