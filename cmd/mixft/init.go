package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/model"
)

func newInitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a randomly initialised checkpoint (BERT, RoBERTa, ELECTRA, DistilBERT) from a preset and a vocabulary",
		Long: `init writes a Hugging Face model directory (config.json, model.safetensors,
tokenizer files, tokenizer_config.json) holding a model initialised as
transformers initialises one (weights N(0, initializer_range), biases 0,
LayerNorm 1/0). --model-type picks the family: bert, roberta, electra
(--embedding-size below --hidden adds embeddings_project) or distilbert.
Presets are Google's BERT sizes: ` + fmt.Sprint(model.PresetNames()) + `.
--vocab is a WordPiece vocab.txt (vocab_size: its lines), or for roberta a
byte-level BPE vocab.json with merges.txt beside it (vocab_size: its
largest id + 1). Use it for tests, benchmarks and demos; finetuning from it
is training from scratch.`,
		Example: `  mixft init --preset tiny --vocab bert-base-uncased-vocab.txt --task rte --out models/tiny-rte
  mixft init --preset mini --vocab vocab.txt --labels 3 --max-position 128 --out models/mini
  mixft init --preset tiny --layers 1 --hidden 32 --heads 2 --intermediate 64 --vocab vocab.txt --out models/toy
  mixft init --model-type roberta --preset tiny --vocab roberta-base/vocab.json --task rte --out models/roberta-tiny
  mixft init --model-type electra --preset tiny --embedding-size 64 --vocab vocab.txt --task rte --out models/electra-tiny
  mixft init --model-type distilbert --preset tiny --vocab vocab.txt --task sst-2 --out models/distil-tiny`,
		Args: cobra.NoArgs,
		RunE: runInit,
	}
	f := cmd.Flags()
	f.String("model-type", "bert", "model family: "+strings.Join(model.ModelTypes, ", "))
	f.String("preset", "tiny", "model size preset")
	f.String("vocab", "", "vocab.txt to use (one WordPiece token per line); roberta: vocab.json, with merges.txt beside it")
	f.Int("embedding-size", 0, "electra: embedding_size (0: hidden_size; smaller adds embeddings_project)")
	f.String("out", "", "directory to create")
	f.String("task", "", "GLUE task whose label set the head gets (overrides --labels)")
	f.Int("labels", 2, "number of classes (1: regression) when --task is not given")
	f.Int("max-position", 0, "max_position_embeddings (0: the preset's 512; roberta: 512 + padding_idx + 1)")
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
	modelType := s.Choice("model_type", model.ModelTypes...)
	embSize := s.Int("embedding_size")
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
	cfg, err := model.FamilyPreset(modelType, preset)
	if err != nil {
		return err
	}
	save := model.SaveOptions{DoLowerCase: lower}
	if cfg.Family() == model.RoBERTa {
		size, pad, err := bpeVocab(vocabPath)
		if err != nil {
			return err
		}
		merges := filepath.Join(filepath.Dir(vocabPath), "merges.txt")
		if _, err := os.Stat(merges); err != nil {
			return fmt.Errorf("--vocab %s: a RoBERTa vocabulary needs merges.txt beside it: %w", vocabPath, err)
		}
		cfg.VocabSize, cfg.PadTokenID = size, pad
		cfg.MaxPositionEmbeddings = 512 + pad + 1 // 512 tokens after padding_idx
		save.TokenizerFiles = []string{vocabPath, merges}
	} else {
		vocab, err := data.LoadVocab(vocabPath)
		if err != nil {
			return err
		}
		cfg.VocabSize = vocab.Len()
		if id, ok := vocab.ID("[PAD]"); ok {
			cfg.PadTokenID = id
		}
		save.VocabPath = vocabPath
	}
	for _, o := range []struct {
		v   int
		dst *int
	}{{layers, &cfg.NumHiddenLayers}, {hidden, &cfg.HiddenSize}, {heads, &cfg.NumAttentionHeads}, {inter, &cfg.IntermediateSize}} {
		if o.v != 0 {
			*o.dst = o.v
		}
	}
	if embSize != 0 {
		if cfg.Family() != model.ELECTRA {
			return fmt.Errorf("--embedding-size: only electra models have an embedding_size (--model-type %s)", modelType)
		}
		cfg.EmbeddingSize = embSize
	} else if cfg.Family() == model.ELECTRA {
		cfg.EmbeddingSize = cfg.HiddenSize
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
	if err := model.Save(out, cfg, w, save); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s %s, %d layers, hidden %d, vocab %d, %d labels\n",
		out, preset, modelType, cfg.NumHiddenLayers, cfg.HiddenSize, cfg.VocabSize, cfg.NumLabels)
	return nil
}

// bpeVocab reads a byte-level BPE vocab.json (token → id): the vocabulary
// size (largest id + 1) and the id of <pad>.
func bpeVocab(path string) (size, pad int, err error) {
	if filepath.Base(path) != "vocab.json" {
		return 0, 0, fmt.Errorf("--vocab %s: a RoBERTa vocabulary is a file named vocab.json (with merges.txt beside it)", path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	var ids map[string]int
	if err := json.Unmarshal(raw, &ids); err != nil {
		return 0, 0, fmt.Errorf("%s: expected a JSON object of tokens to ids: %v", path, err)
	}
	for tok, id := range ids {
		if id < 0 {
			return 0, 0, fmt.Errorf("%s: token %q has the negative id %d", path, tok, id)
		}
		size = max(size, id+1)
	}
	pad, ok := ids["<pad>"]
	if !ok {
		return 0, 0, fmt.Errorf("%s: no <pad> token (RoBERTa counts positions from its id)", path)
	}
	return size, pad, nil
}
