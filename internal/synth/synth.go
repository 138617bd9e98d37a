// Package synth generates the small textual entailment tasks of `make
// demo`, in GLUE's RTE file layout: a large source task to "pretrain" a
// tiny BERT on, and a small related target task to finetune it on, as the
// mixout paper's first experiment (pretrain on EMNIST, finetune on MNIST).
//
// Every premise describes an animal with a colour, an action and a place,
// and every hypothesis states its colour, which the premise entails or
// contradicts. The two tasks word this differently: source "the red fox
// sleeps in the barn ." / "the fox is red ."; target "in the barn , a red
// fox sleeps ." / "a red fox is there .". What the source task teaches
// carries over to the target, whose training set is small.
package synth

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/mixft/mixft/internal/atomicfile"
)

var (
	colors  = []string{"red", "blue", "green", "yellow", "black", "white", "brown", "grey"}
	animals = []string{"cat", "dog", "bird", "horse", "fox", "mouse", "cow", "goat", "duck", "sheep"}
	places  = []string{"garden", "kitchen", "forest", "river", "barn", "field", "yard", "hall"}
	verbs   = []string{"sleeps", "runs", "sits", "plays", "eats", "waits", "hides", "sings"}
)

// Kinds lists the generated tasks.
var Kinds = []string{"source", "target"}

// Pair is one generated example.
type Pair struct {
	Premise, Hypothesis string
	// Entailed is true when the premise entails the hypothesis.
	Entailed bool
}

type animal struct{ name, color, verb, place string }

// pick returns a random element of xs other than the excluded ones.
func pick(r *rand.Rand, xs []string, exclude ...string) string {
	for {
		x := xs[r.IntN(len(xs))]
		ok := true
		for _, e := range exclude {
			ok = ok && x != e
		}
		if ok {
			return x
		}
	}
}

// Generate draws n examples of a task kind ("source" or "target") from a
// PCG stream keyed by seed; half are entailed.
func Generate(kind string, n int, seed uint64) ([]Pair, error) {
	if kind != "source" && kind != "target" {
		return nil, fmt.Errorf("unknown synthetic task %q (expected source or target)", kind)
	}
	r := rand.New(rand.NewPCG(seed, map[string]uint64{"source": 1, "target": 2}[kind]))
	out := make([]Pair, n)
	for i := range out {
		a := animal{pick(r, animals), pick(r, colors), pick(r, verbs), pick(r, places)}
		entailed := r.IntN(2) == 1
		color := a.color
		if !entailed {
			color = pick(r, colors, a.color)
		}
		premise := fmt.Sprintf("the %s %s %s in the %s .", a.color, a.name, a.verb, a.place)
		hyp := fmt.Sprintf("the %s is %s .", a.name, color)
		if kind == "target" {
			premise = fmt.Sprintf("in the %s , a %s %s %s .", a.place, a.color, a.name, a.verb)
			hyp = fmt.Sprintf("a %s %s is there .", color, a.name)
		}
		out[i] = Pair{Premise: premise, Hypothesis: hyp, Entailed: entailed}
	}
	return out, nil
}

// WriteTSV writes pairs as a GLUE RTE file (index, sentence1, sentence2, label).
func WriteTSV(w io.Writer, pairs []Pair) error {
	var sb strings.Builder
	sb.WriteString("index\tsentence1\tsentence2\tlabel\n")
	for i, p := range pairs {
		label := "not_entailment"
		if p.Entailed {
			label = "entailment"
		}
		fmt.Fprintf(&sb, "%d\t%s\t%s\t%s\n", i, p.Premise, p.Hypothesis, label)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// WriteTask writes dir/train.tsv and dir/dev.tsv of a task kind with train
// and dev examples (disjoint streams of the same seed).
func WriteTask(dir, kind string, train, dev int, seed uint64) error {
	all, err := Generate(kind, train+dev, seed)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name  string
		pairs []Pair
	}{{"train.tsv", all[:train]}, {"dev.tsv", all[train:]}} {
		if err := atomicfile.Write(filepath.Join(dir, f.name), 0o644, func(w io.Writer) error { return WriteTSV(w, f.pairs) }); err != nil {
			return err
		}
	}
	return nil
}
