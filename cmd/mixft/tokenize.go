package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/hub"
)

func newTokenizeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokenize",
		Short: "Print the token ids a model's tokenizer gives each line of a text file",
		Long: `tokenize encodes every line of --input (- for stdin) with the tokenizer of
--model, as finetune, eval and predict do, and prints one JSON line per input
line: {"input_ids": [...], "tokens": [...]}, special tokens included. A line
is one text, or two texts separated by a tab (a pair); a line with more tabs
is an error. The tokenizer is chosen from the model directory's files:
vocab.txt (WordPiece, BERT), else tokenizer.json (WordPiece or byte-level
BPE), else vocab.json and merges.txt (byte-level BPE, RoBERTa).

--max-seq-length truncates as training does (longest first, special tokens
counted); 0, the default, keeps every token.`,
		Example: `  mixft tokenize --model models/bert-base-uncased --input sentences.txt
  printf 'Hello, world!\tA second text.\n' | mixft tokenize --model models/roberta-base --input - --max-seq-length 128`,
		Args: cobra.NoArgs,
		RunE: runTokenize,
	}
	f := cmd.Flags()
	f.String("model", "", "model directory with vocab.txt, tokenizer.json, or vocab.json and merges.txt")
	f.String("input", "", "text file, one text or two tab-separated texts per line (- for stdin)")
	f.Int("max-seq-length", 0, "maximum tokens per line, special tokens included (0: no truncation)")
	f.String("do-lower-case", "auto", "lower-case text (WordPiece only): auto (tokenizer_config.json, else the model name), true or false")
	addConfigFlag(cmd)
	return cmd
}

func runTokenize(cmd *cobra.Command, _ []string) error {
	s, err := loadSettings(cmd)
	if err != nil {
		return err
	}
	dir, input, maxLen := s.String("model"), s.String("input"), s.Int("max_seq_length")
	lowerMode := s.Choice("do_lower_case", "auto", "true", "false")
	s.Require("model", dir)
	s.Require("input", input)
	if err := s.Err(); err != nil {
		return err
	}
	if maxLen < 0 {
		return fmt.Errorf("max_seq_length %d is negative", maxLen)
	}
	if maxLen == 0 {
		maxLen = math.MaxInt32
	}
	if dir, err = hub.ResolveModel(dir); err != nil {
		return err
	}
	var lower *bool
	if lowerMode != "auto" {
		b := lowerMode == "true"
		lower = &b
	}
	tok, err := data.LoadEncoder(dir, lower)
	if err != nil {
		return err
	}
	in := io.Reader(cmd.InOrStdin())
	name := "stdin"
	if input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return fmt.Errorf("tokenize: %w", err)
		}
		defer f.Close()
		in, name = f, input
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	if err := tokenizeLines(out, in, name, tok, maxLen); err != nil {
		return err
	}
	return out.Flush()
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
