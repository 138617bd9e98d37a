package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/hub"
	"github.com/mixft/mixft/internal/infer"
	"github.com/mixft/mixft/internal/model"
)

// tokenizeOptions are tokenize's settings.
type tokenizeOptions struct {
	common
	model, input, doLowerCase string
	maxSeqLength              int
	// stdin is read for --input -.
	stdin io.Reader
}

// newTokenizeCmd returns the tokenize command; runF, when not nil, runs
// instead of runTokenize.
func newTokenizeCmd(runF func(*tokenizeOptions) error) *cobra.Command {
	if runF == nil {
		runF = runTokenize
	}
	o := &tokenizeOptions{}
	cmd := &cobra.Command{
		Use:   "tokenize",
		Short: "Print the token ids a model's tokenizer gives each line of a text file",
		Long: `tokenize encodes every line of --input (- for stdin) with the tokenizer of
--model, as finetune, eval and predict do, and prints one JSON line per input
line: {"input_ids": [...], "tokens": [...]}, special tokens included. A line
is one text, or two texts separated by a tab (a pair); a line with more tabs
is an error. The tokenizer is chosen from the model directory's files:
vocab.txt (WordPiece, BERT), else tokenizer.json (WordPiece, byte-level BPE,
or SentencePiece Unigram), else vocab.json and merges.txt (byte-level BPE,
RoBERTa), else a SentencePiece model: spm.model (DeBERTa-v2/v3),
spiece.model (ALBERT) or sentencepiece.bpe.model (XLM-RoBERTa), converted
as transformers converts it.

--max-seq-length truncates as training does (longest first, special tokens
counted) and obeys finetune's limits: room for a pair's special tokens (3
for WordPiece, DeBERTa and ALBERT, 4 for byte-level BPE and XLM-RoBERTa)
and, when the folder holds the model's
config.json, no more than its max_position_embeddings allow; 0, the
default, keeps every token.`,
		Example: `  mixft tokenize --model models/bert-base-uncased --input sentences.txt
  printf 'Hello, world!\tA second text.\n' | mixft tokenize --model models/roberta-base --input - --max-seq-length 128
  mixft tokenize --model models/deberta-v3-base --input sentences.txt   # spm.model`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.load(cmd); err != nil {
				return err
			}
			o.stdin = cmd.InOrStdin()
			return runF(o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model directory with vocab.txt, tokenizer.json, vocab.json and merges.txt, or a SentencePiece model (spm.model, spiece.model, sentencepiece.bpe.model)")
	f.StringVar(&o.input, "input", "", "text file, one text or two tab-separated texts per line (- for stdin)")
	f.IntVar(&o.maxSeqLength, "max-seq-length", 0, "maximum tokens per line, special tokens included (0: no truncation)")
	f.StringVar(&o.doLowerCase, "do-lower-case", "auto", "lower-case text (WordPiece, DeBERTa and ALBERT's spm model): auto (tokenizer_config.json, else the model), true or false")
	bindSettings(cmd)
	return cmd
}

// runTokenize prints the encoding of every line of the input.
func runTokenize(o *tokenizeOptions) error {
	if err := o.settings.require("model", o.model, "input", o.input); err != nil {
		return err
	}
	if err := o.settings.choice("do_lower_case", o.doLowerCase, "auto", "true", "false"); err != nil {
		return err
	}
	maxLen := o.maxSeqLength
	if maxLen < 0 {
		return o.settings.bad("max_seq_length", maxLen, "0 (no truncation) or a positive number of tokens")
	}
	if maxLen == 0 {
		maxLen = math.MaxInt32
	}
	dir, err := hub.ResolveModel(o.model, o.warn)
	if err != nil {
		return err
	}
	tok, err := data.LoadEncoder(dir, lowerOverride(o.doLowerCase))
	if err != nil {
		return err
	}
	if maxLen != math.MaxInt32 {
		if err := checkTokenizeLength(dir, maxLen, tok); err != nil {
			return err
		}
	}
	in, name := o.stdin, "stdin"
	if o.input != "-" {
		f, err := os.Open(o.input)
		if err != nil {
			return fmt.Errorf("tokenize: %w", err)
		}
		defer f.Close()
		in, name = f, o.input
	}
	out := bufio.NewWriter(o.stdout)
	if err := tokenizeLines(out, in, name, tok, maxLen); err != nil {
		return err
	}
	return out.Flush()
}

// checkTokenizeLength applies finetune's max_seq_length limits
// (infer.CheckMaxSeqLen), with the model's config.json when the folder
// has one.
func checkTokenizeLength(dir string, maxLen int, tok data.Encoder) error {
	var cfg *model.Config
	c, err := model.ReadConfig(filepath.Join(dir, model.ConfigFile))
	switch {
	case err == nil:
		cfg = &c
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return infer.CheckMaxSeqLen(maxLen, tok, cfg)
}

// tokenizeLines writes the encoding of every line of in as a JSON line.
func tokenizeLines(w io.Writer, in io.Reader, name string, tok data.Encoder, maxLen int) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "<s>", not "\u003cs\u003e"
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSuffix(sc.Text(), "\r")
		fields := strings.Split(text, "\t")
		if len(fields) > 2 {
			return fmt.Errorf("%s:%d: %d tab-separated fields; expected one text or two (a pair)", name, line, len(fields))
		}
		fields = append(fields, "")
		e := tok.EncodePair(fields[0], fields[1], maxLen)
		if err := enc.Encode(struct {
			InputIDs []int32  `json:"input_ids"`
			Tokens   []string `json:"tokens"`
		}{e.InputIDs, e.Tokens}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("tokenize: read %s: %w", name, err)
	}
	return nil
}
