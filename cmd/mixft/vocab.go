package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/data"
)

// vocabOptions are vocab's settings.
type vocabOptions struct {
	common
	files            []string
	size             int
	out, doLowerCase string
}

// newVocabCmd returns the vocab command; runF, when not nil, runs instead
// of runVocab.
func newVocabCmd(runF func(*vocabOptions) error) *cobra.Command {
	if runF == nil {
		runF = runVocab
	}
	o := &vocabOptions{}
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
		RunE:    runArgsE(o, func(args []string) { o.files = args }, runF),
	}
	f := cmd.Flags()
	f.IntVar(&o.size, "size", 1000, "vocabulary size, special tokens and characters included")
	f.StringVar(&o.out, "out", "", "vocab.txt to write (- for stdout)")
	f.StringVar(&o.doLowerCase, "do-lower-case", "true", "lower-case the text first: true or false")
	bindSettings(cmd)
	return cmd
}

// runVocab builds the vocabulary of the files and writes it.
func runVocab(o *vocabOptions) error {
	if err := o.settings.choice("do_lower_case", o.doLowerCase, "true", "false"); err != nil {
		return err
	}
	if err := o.settings.require("out", o.out); err != nil {
		return err
	}
	var texts []string
	for _, path := range o.files {
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
	vocab, err := data.BuildVocab(texts, o.size, o.doLowerCase == "true")
	if err != nil {
		return err
	}
	text := strings.Join(vocab, "\n") + "\n"
	if err := atomicfile.WriteStdout(o.out, o.stdout, 0o644, func(w io.Writer) error {
		_, err := io.WriteString(w, text)
		return err
	}); err != nil {
		return err
	}
	report := o.stdout
	if o.out == "-" {
		report = o.stderr // stdout holds the vocabulary
	}
	fmt.Fprintf(report, "wrote %s: %d tokens from %d files\n", o.out, len(vocab), len(o.files))
	return nil
}
