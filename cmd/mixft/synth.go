package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/synth"
)

func newSynthCmd() *cobra.Command {
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
		RunE: runSynth,
	}
	f := cmd.Flags()
	f.String("kind", "source", "task: source or target")
	f.Int("train", 1000, "training examples")
	f.Int("dev", 500, "dev examples")
	f.String("out", "", "folder to write train.tsv and dev.tsv into")
	f.Uint64("seed", 1, "generator seed")
	addConfigFlag(cmd)
	return cmd
}

func runSynth(cmd *cobra.Command, _ []string) error {
	s, err := loadSettings(cmd)
	if err != nil {
		return err
	}
	kind, out := s.Choice("kind", synth.Kinds...), s.String("out")
	train, dev, seed := s.Int("train"), s.Int("dev"), s.Uint64("seed")
	s.Require("out", out)
	if err := s.Err(); err != nil {
		return err
	}
	if train < 1 || dev < 1 {
		return fmt.Errorf("--train %d and --dev %d must both be positive", train, dev)
	}
	if err := synth.WriteTask(out, kind, train, dev, seed); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s task, %d train and %d dev examples\n", out, kind, train, dev)
	return nil
}
