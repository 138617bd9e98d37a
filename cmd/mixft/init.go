package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/model"
)

func newInitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a randomly initialised BERT checkpoint from a preset and a vocabulary",
		Long: `init writes a Hugging Face model directory (config.json, model.safetensors,
vocab.txt, tokenizer_config.json) holding a BERT initialised as transformers
initialises one (weights N(0, initializer_range), biases 0, LayerNorm 1/0).
Presets are Google's BERT sizes: ` + fmt.Sprint(model.PresetNames()) + `.
vocab_size is the number of lines of --vocab. Use it for tests, benchmarks
and demos; finetuning from it is training from scratch.`,
		Example: `  mixft init --preset tiny --vocab bert-base-uncased-vocab.txt --task rte --out models/tiny-rte
  mixft init --preset mini --vocab vocab.txt --labels 3 --max-position 128 --out models/mini
  mixft init --preset tiny --layers 1 --hidden 32 --heads 2 --intermediate 64 --vocab vocab.txt --out models/toy`,
		Args: cobra.NoArgs,
		RunE: runInit,
	}
	f := cmd.Flags()
	f.String("preset", "tiny", "model size preset")
	f.String("vocab", "", "vocab.txt to use (one WordPiece token per line)")
	f.String("out", "", "directory to create")
	f.String("task", "", "GLUE task whose label set the head gets (overrides --labels)")
	f.Int("labels", 2, "number of classes (1: regression) when --task is not given")
	f.Int("max-position", 0, "max_position_embeddings (0: the preset's 512)")
	f.Int("layers", 0, "num_hidden_layers (0: the preset's)")
	f.Int("hidden", 0, "hidden_size (0: the preset's)")
	f.Int("heads", 0, "num_attention_heads (0: the preset's)")
	f.Int("intermediate", 0, "intermediate_size (0: the preset's)")
	f.String("do-lower-case", "true", "recorded in tokenizer_config.json: true or false")
	f.Uint64("seed", 42, "initialisation seed")
	f.Bool("force", false, "overwrite the files of an existing directory")
	addConfigFlag(cmd)
	return cmd
}

func runInit(cmd *cobra.Command, _ []string) error {
	s, err := loadSettings(cmd)
	if err != nil {
		return err
	}
	preset, vocabPath, out := s.String("preset"), s.String("vocab"), s.String("out")
	taskName, labels, maxPos := s.String("task"), s.Int("labels"), s.Int("max_position")
	layers, hidden, heads, inter := s.Int("layers"), s.Int("hidden"), s.Int("heads"), s.Int("intermediate")
	lower := s.Choice("do_lower_case", "true", "false") == "true"
	seed, force := s.Uint64("seed"), s.Bool("force")
	s.Require("vocab", vocabPath)
	s.Require("out", out)
	if err := s.Err(); err != nil {
		return err
	}
	cfg, err := model.Preset(preset)
	if err != nil {
		return err
	}
	vocab, err := data.LoadVocab(vocabPath)
	if err != nil {
		return err
	}
	cfg.VocabSize = vocab.Len()
	if id, ok := vocab.ID("[PAD]"); ok {
		cfg.PadTokenID = id
	}
	for _, o := range []struct {
		v   int
		dst *int
	}{{layers, &cfg.NumHiddenLayers}, {hidden, &cfg.HiddenSize}, {heads, &cfg.NumAttentionHeads}, {inter, &cfg.IntermediateSize}} {
		if o.v != 0 {
			*o.dst = o.v
		}
	}
	if maxPos != 0 {
		cfg.MaxPositionEmbeddings = maxPos
	}
	switch {
	case taskName != "":
		task, err := data.LookupTask(taskName)
		if err != nil {
			return err
		}
		cfg.SetLabels(task.Labels)
	case labels == 1:
		cfg.SetLabels(nil)
	case labels > 1:
		names := make([]string, labels)
		for i := range names {
			names[i] = fmt.Sprintf("LABEL_%d", i)
		}
		cfg.SetLabels(names)
	default:
		return fmt.Errorf("--labels %d: expected 1 (regression) or more", labels)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(out, model.ConfigFile)); err == nil && !force {
		return fmt.Errorf("%s already holds a model; use --force to overwrite it", out)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	w := model.InitWeights(cfg, seed)
	if err := model.Save(out, cfg, w, model.SaveOptions{VocabPath: vocabPath, DoLowerCase: lower}); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s BERT, %d layers, hidden %d, vocab %d, %d labels\n",
		out, preset, cfg.NumHiddenLayers, cfg.HiddenSize, cfg.VocabSize, cfg.NumLabels)
	return nil
}
