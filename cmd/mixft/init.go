package main

import (
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

// initOptions are init's settings.
type initOptions struct {
	common
	modelType, preset, vocab, out, task string
	labels, maxPosition, embeddingSize  int
	layers, hidden, heads, intermediate int
	doLowerCase                         string
	seed                                uint64
	force                               bool
}

// newInitCmd returns the init command; runF, when not nil, runs instead of
// runInit.
func newInitCmd(runF func(*initOptions) error) *cobra.Command {
	if runF == nil {
		runF = runInit
	}
	o := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a randomly initialised checkpoint (BERT, RoBERTa, XLM-R, ELECTRA, DistilBERT, ALBERT, DeBERTa-v3, ModernBERT) from a preset and a vocabulary",
		Long: `init writes a Hugging Face model directory (config.json, model.safetensors,
tokenizer files, tokenizer_config.json) holding a model initialised as
transformers initialises one (weights N(0, initializer_range), biases 0,
LayerNorm 1/0). --model-type picks the family: bert, roberta, xlm-roberta,
electra (--embedding-size below --hidden adds embeddings_project),
distilbert, albert, deberta-v2 (DeBERTa-v3) or modernbert. Presets are
Google's BERT sizes: ` + fmt.Sprint(model.PresetNames()) + `
(modernbert: base and large are ModernBERT-base and -large; 8192 positions).
--vocab is a WordPiece vocab.txt (vocab_size: its lines), for roberta a
byte-level BPE vocab.json with merges.txt beside it (vocab_size: its ids),
for xlm-roberta, albert and deberta-v2 their SentencePiece model
(sentencepiece.bpe.model, spiece.model, spm.model) or a tokenizer.json
(vocab_size: the tokenizer's ids), for modernbert a tokenizer.json in
ModernBERT's layout.
albert: --embedding-size sets embedding_size (default 128), projected to
--hidden by embedding_hidden_mapping_in; one layer's weights serve every
one of the --layers applications.
deberta-v2: the attention of the released DeBERTa-v3 models (disentangled,
content-to-position and position-to-content, 256 log position buckets,
fewer when --max-position is below 130; no token types, no position
embeddings).
Use it for tests, benchmarks and demos; finetuning from it is training
from scratch.`,
		Example: `  mixft init --preset tiny --vocab bert-base-uncased-vocab.txt --task rte --out models/tiny-rte
  mixft init --preset mini --vocab vocab.txt --labels 3 --max-position 128 --out models/mini
  mixft init --preset tiny --layers 1 --hidden 32 --heads 2 --intermediate 64 --vocab vocab.txt --out models/toy
  mixft init --model-type roberta --preset tiny --vocab roberta-base/vocab.json --task rte --out models/roberta-tiny
  mixft init --model-type xlm-roberta --preset tiny --vocab xlm-roberta-base/sentencepiece.bpe.model --task rte --out models/xlmr-tiny
  mixft init --model-type albert --preset tiny --vocab albert-base-v2/spiece.model --task rte --out models/albert-tiny
  mixft init --model-type deberta-v2 --preset tiny --vocab deberta-v3-base/spm.model --task rte --out models/deberta-tiny
  mixft init --model-type electra --preset tiny --embedding-size 64 --vocab vocab.txt --task rte --out models/electra-tiny
  mixft init --model-type distilbert --preset tiny --vocab vocab.txt --task sst-2 --out models/distil-tiny
  mixft init --model-type modernbert --preset base --vocab ModernBERT-base/tokenizer.json --task rte --out models/modernbert-rte`,
		Args: cobra.NoArgs,
		RunE: runE(o, runF),
	}
	f := cmd.Flags()
	f.StringVar(&o.modelType, "model-type", "bert", "model family: "+strings.Join(model.ModelTypes, ", "))
	f.StringVar(&o.preset, "preset", "tiny", "model size preset")
	f.StringVar(&o.vocab, "vocab", "", "vocab.txt to use (one WordPiece token per line); roberta: vocab.json, with merges.txt beside it; xlm-roberta: sentencepiece.bpe.model, albert: spiece.model, deberta-v2: spm.model, or their tokenizer.json; modernbert: tokenizer.json")
	f.IntVar(&o.embeddingSize, "embedding-size", 0, "electra: embedding_size (0: hidden_size; smaller adds embeddings_project); albert: embedding_size (0: 128)")
	f.StringVar(&o.out, "out", "", "directory to create")
	f.StringVar(&o.task, "task", "", "GLUE task whose label set the head gets (overrides --labels)")
	f.IntVar(&o.labels, "labels", 2, "number of classes (1: regression) when --task is not given")
	f.IntVar(&o.maxPosition, "max-position", 0, "max_position_embeddings (0: the preset's 512; roberta: 512 + padding_idx + 1; modernbert: 8192)")
	f.IntVar(&o.layers, "layers", 0, "num_hidden_layers (0: the preset's)")
	f.IntVar(&o.hidden, "hidden", 0, "hidden_size (0: the preset's)")
	f.IntVar(&o.heads, "heads", 0, "num_attention_heads (0: the preset's)")
	f.IntVar(&o.intermediate, "intermediate", 0, "intermediate_size (0: the preset's)")
	f.StringVar(&o.doLowerCase, "do-lower-case", "true", "recorded in tokenizer_config.json: true or false")
	f.Uint64Var(&o.seed, "seed", 42, "initialisation seed")
	f.BoolVar(&o.force, "force", false, "overwrite the files of an existing directory")
	bindSettings(cmd)
	return cmd
}

// spmModelFiles are the SentencePiece model file names of the families
// whose tokenizer is one (model_type -> file).
var spmModelFiles = map[string]string{"xlm-roberta": data.SPMFileXLMR, "albert": data.SPMFileALBERT, "deberta-v2": data.SPMFileDeBERTa}

// runInit writes the randomly initialised checkpoint.
func runInit(o *initOptions) error {
	s := o.settings
	if err := s.choice("do_lower_case", o.doLowerCase, "true", "false"); err != nil {
		return err
	}
	if err := s.require("vocab", o.vocab, "out", o.out); err != nil {
		return err
	}
	if err := s.choice("model_type", o.modelType, model.ModelTypes...); err != nil {
		return err
	}
	cfg, err := model.FamilyPreset(o.modelType, o.preset)
	if err != nil {
		return err
	}
	save := model.SaveOptions{DoLowerCase: o.doLowerCase == "true"}
	if cfg.Family() == model.ModernBERT {
		if filepath.Base(o.vocab) != data.TokenizerJSONFile {
			return s.bad("vocab", o.vocab, "a ModernBERT tokenizer: a file named tokenizer.json (tokenizer_config.json beside it names [PAD])")
		}
		dir := filepath.Dir(o.vocab)
		enc, err := data.LoadTokenizerJSON(dir, nil)
		if err != nil {
			return err
		}
		cfg.VocabSize, cfg.PadTokenID = enc.VocabSize(), int(enc.PadID())
		save.TokenizerFiles = model.TokenizerFiles(dir)
		save.DoLowerCase = false
	} else if spm, ok := spmModelFiles[o.modelType]; ok {
		if base := filepath.Base(o.vocab); base != spm && base != data.TokenizerJSONFile {
			return s.bad("vocab", o.vocab, "a "+o.modelType+" vocabulary: its SentencePiece model "+spm+" or a tokenizer.json")
		}
		tok, err := data.LoadEncoder(filepath.Dir(o.vocab), nil)
		if err != nil {
			return err
		}
		cfg.VocabSize, cfg.PadTokenID = tok.VocabSize(), int(tok.PadID())
		if cfg.Family() == model.RoBERTa {
			cfg.MaxPositionEmbeddings = 512 + cfg.PadTokenID + 1 // 512 tokens after padding_idx
		}
		save.TokenizerFiles = []string{o.vocab}
		save.DoLowerCase = tok.DoLowerCase()
	} else if cfg.Family() == model.RoBERTa {
		if filepath.Base(o.vocab) != data.BPEVocabFile {
			return s.bad("vocab", o.vocab, "a RoBERTa vocabulary: a file named vocab.json with merges.txt beside it")
		}
		tok, err := data.LoadBPE(filepath.Dir(o.vocab))
		if err != nil {
			return err
		}
		cfg.VocabSize, cfg.PadTokenID = tok.VocabSize(), int(tok.PadID())
		cfg.MaxPositionEmbeddings = 512 + cfg.PadTokenID + 1 // 512 tokens after padding_idx
		save.TokenizerFiles = []string{o.vocab, filepath.Join(filepath.Dir(o.vocab), data.BPEMergesFile)}
		save.DoLowerCase = false
	} else {
		vocab, err := data.LoadVocab(o.vocab)
		if err != nil {
			return err
		}
		cfg.VocabSize = vocab.Len()
		if id, ok := vocab.ID("[PAD]"); ok {
			cfg.PadTokenID = id
		}
		save.VocabPath = o.vocab
	}
	for _, o := range []struct {
		v   int
		dst *int
	}{{o.layers, &cfg.NumHiddenLayers}, {o.hidden, &cfg.HiddenSize}, {o.heads, &cfg.NumAttentionHeads}, {o.intermediate, &cfg.IntermediateSize}} {
		if o.v != 0 {
			*o.dst = o.v
		}
	}
	if o.embeddingSize != 0 {
		if f := cfg.Family(); f != model.ELECTRA && f != model.ALBERT {
			return s.bad("embedding_size", o.embeddingSize, "0: only electra and albert models have an embedding_size")
		}
		cfg.EmbeddingSize = o.embeddingSize
	} else if cfg.Family() == model.ELECTRA {
		cfg.EmbeddingSize = cfg.HiddenSize
	}
	if o.maxPosition != 0 {
		cfg.MaxPositionEmbeddings = o.maxPosition
		if b := 2 * (o.maxPosition - 2); cfg.Family() == model.DeBERTa && b < 256 && b >= 2 {
			cfg.SetDeBERTaV3Attention(b) // the most buckets max_relative_positions (= --max-position) allows
		}
	}
	switch labels := o.labels; {
	case o.task != "":
		task, err := data.LookupTask(o.task)
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
		return s.bad("labels", labels, "1 (regression) or more")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(o.out, model.ConfigFile)); err == nil && !o.force {
		return fmt.Errorf("%s already holds a model; use --force to overwrite it", o.out)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	w := model.InitWeights(cfg, o.seed)
	if err := model.Save(o.out, cfg, w, save); err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "wrote %s: %s %s, %d layers, hidden %d, vocab %d, %d labels\n",
		o.out, o.preset, o.modelType, cfg.NumHiddenLayers, cfg.HiddenSize, cfg.VocabSize, cfg.NumLabels)
	return nil
}
