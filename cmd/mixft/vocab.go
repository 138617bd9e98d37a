package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/data"
)

func newVocabCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vocab FILE...",
		Short: "Build a WordPiece vocabulary (vocab.txt) from text or TSV files",
		Long: `vocab builds a BERT WordPiece vocabulary from the text of the given files
(every tab-separated field of every line, headers included): the special
tokens [PAD] [UNK] [CLS] [SEP] [MASK], every character seen (alone and as a
## continuation, so no text made of them becomes [UNK]), then the most
frequent words until --size tokens.`,
		Example: `  mixft vocab --size 400 --out demo/vocab.txt demo/source/train.tsv demo/target/train.tsv`,
		Args:    cobra.MinimumNArgs(1),
		RunE:    runVocab,
	}
	f := cmd.Flags()
	f.Int("size", 1000, "vocabulary size, special tokens and characters included")
	f.String("out", "", "vocab.txt to write")
	f.String("do-lower-case", "true", "lower-case the text first: true or false")
	addConfigFlag(cmd)
	return cmd
}

func runVocab(cmd *cobra.Command, files []string) error {
	s, err := loadSettings(cmd)
	if err != nil {
		return err
	}
	size, out := s.Int("size"), s.String("out")
	lower := s.Choice("do_lower_case", "true", "false") == "true"
	s.Require("out", out)
	if err := s.Err(); err != nil {
		return err
	}
	var texts []string
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("vocab: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			texts = append(texts, strings.Split(sc.Text(), "\t")...)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return fmt.Errorf("vocab: read %s: %w", path, err)
		}
	}
	vocab, err := data.BuildVocab(texts, size, lower)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(out, []byte(strings.Join(vocab, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d tokens from %d files\n", out, len(vocab), len(files))
	return nil
}
