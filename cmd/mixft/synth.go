package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/synth"
)

// synthOptions are synth's settings.
type synthOptions struct {
	common
	kind, out  string
	train, dev int
	seed       uint64
}

// newSynthCmd returns the synth command; runF, when not nil, runs instead
// of runSynth.
func newSynthCmd(runF func(*synthOptions) error) *cobra.Command {
	if runF == nil {
		runF = runSynth
	}
	o := &synthOptions{}
	cmd := &cobra.Command{
		Use:   "synth",
		Short: "Generate the demo's synthetic entailment tasks in GLUE RTE layout",
		Long: `synth writes train.tsv and dev.tsv of a generated entailment task in the
layout of GLUE's RTE. Every premise describes two animals with a colour, an
action and a place; the source task asks about an animal's colour, the
target task about its place. make demo "pretrains" a tiny BERT on a large
source task and finetunes it on a small target task, as the mixout paper's
first experiment does with EMNIST and MNIST.`,
		Example: `  mixft synth --kind source --train 6000 --dev 500 --out demo/source
  mixft synth --kind target --train 150 --dev 500 --out demo/target --seed 2`,
		Args: cobra.NoArgs,
		RunE: runE(o, runF),
	}
	f := cmd.Flags()
	f.StringVar(&o.kind, "kind", "source", "task: source or target")
	f.IntVar(&o.train, "train", 1000, "training examples")
	f.IntVar(&o.dev, "dev", 500, "dev examples")
	f.StringVar(&o.out, "out", "", "folder to write train.tsv and dev.tsv into")
	f.Uint64Var(&o.seed, "seed", 1, "generator seed")
	bindSettings(cmd)
	return cmd
}

// runSynth writes the generated task.
func runSynth(o *synthOptions) error {
	s := o.settings
	if err := s.choice("kind", o.kind, synth.Kinds...); err != nil {
		return err
	}
	if err := s.require("out", o.out); err != nil {
		return err
	}
	for _, n := range []struct {
		key string
		v   int
	}{{"train", o.train}, {"dev", o.dev}} {
		if n.v < 1 {
			return s.bad(n.key, n.v, "a positive number of examples")
		}
	}
	if err := synth.WriteTask(o.out, o.kind, o.train, o.dev, o.seed); err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "wrote %s: %s task, %d train and %d dev examples\n", o.out, o.kind, o.train, o.dev)
	return nil
}
