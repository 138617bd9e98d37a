package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/infer"
)

// predictOptions are predict's settings.
type predictOptions struct {
	common
	model                modelOptions
	input, output, split string
	probabilities        bool
}

// newPredictCmd returns the predict command; runF, when not nil, runs
// instead of runPredict.
func newPredictCmd(runF func(*predictOptions) error) *cobra.Command {
	if runF == nil {
		runF = runPredict
	}
	o := &predictOptions{}
	cmd := &cobra.Command{
		Use:   "predict",
		Short: "Write the model's logits, predictions and (--probabilities) class probabilities for every row of a GLUE TSV or your own data file",
		Long: `predict reads a TSV file in the layout of one of the task's GLUE files and
writes one JSON line per row: {"index": ..., "logits": [...], "prediction": ...}.
index is the file's index column (the 0-based row number for files without
one); logits are in the task's label order; prediction is the label string,
or for STS-B the predicted score (not clipped). --probabilities adds
"probabilities": the softmax of the logits, in the same order
(classification only).

--split says which file layout the input has (train, dev, test, ...); auto
takes test when the file name contains "test", else dev, and falls back to
test when the file does not read as dev. The output is written atomically
(missing folders are created); a symbolic link is written through, a pipe
or device streamed into, - is stdout, a directory refused.

Your own data: with no --task, --input is a .csv, .tsv, .jsonl or .json
file (a label column is optional; see mixft finetune --help for the
columns); index is the 0-based row, and the labels and the problem type
come from the model (id2label, problem_type).`,
		Example: `  mixft predict --model runs/rte-mixout/best --task rte --input glue_data/RTE/test.tsv --output rte-test.jsonl
  mixft predict --model runs/cola --task cola --input my_sentences.tsv --split test --output -
  mixft predict --model runs/rte-mixout/best --task rte --input glue_data/RTE/dev.tsv --output rte-dev.jsonl --probabilities
  mixft predict --model runs/reviews/best --input new_reviews.jsonl --text-columns review --output preds.jsonl`,
		Args: cobra.NoArgs,
		RunE: runE(o, runF),
	}
	addModelFlags(cmd, &o.model)
	f := cmd.Flags()
	f.StringVar(&o.input, "input", "", "TSV file in the task's GLUE layout, or your own data file (.csv, .tsv, .jsonl, .json)")
	f.StringVar(&o.output, "output", "", "JSON lines file to write (- for stdout)")
	f.StringVar(&o.split, "split", "auto", "layout of the input: auto, train, dev, dev-mm, test, test-mm")
	f.BoolVar(&o.probabilities, "probabilities", false, "add \"probabilities\": the softmax of the logits, in label order (classification)")
	bindSettings(cmd)
	return cmd
}

// runPredict writes the model's predictions for every row of the input.
func runPredict(o *predictOptions) error {
	if err := o.settings.require("model", o.model.model, "input", o.input, "output", o.output); err != nil {
		return err
	}
	ctx, interrupted, stop := withSignals(context.Background(), "predict")
	defer stop()
	run, err := openModel(&o.model, o.settings, o.stderr, map[string]string{"test": o.input})
	if err != nil {
		return err
	}
	if o.probabilities && run.task.Regression {
		return fmt.Errorf("--probabilities: %s is a regression task, whose single output has no class probabilities", run.task.Name)
	}
	split := o.split
	if run.task.Custom != nil {
		split = "test" // a label column is optional
	}
	examples, err := readInput(run.task, o.input, split)
	if err != nil {
		return err
	}
	step, done := progress(o.stderr, len(examples), "predict "+run.task.Name)
	preds, err := run.predictor.PredictContext(ctx, examples, step)
	done()
	if err != nil {
		return interrupted(err)
	}
	write := func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := infer.WriteJSONLines(bw, run.task, preds, infer.LineOptions{Probabilities: o.probabilities}); err != nil {
			return err
		}
		return bw.Flush()
	}
	if err := atomicfile.WriteStdout(o.output, o.stdout, 0o644, write); err != nil {
		return err
	}
	if o.output != "-" {
		fmt.Fprintf(o.stderr, "mixft: wrote %d predictions to %s\n", len(preds), o.output)
	}
	return nil
}

// readInput reads a TSV in the layout split names, or guesses it (auto).
func readInput(task *data.Task, path, split string) ([]data.Example, error) {
	if split != "auto" {
		ex, _, err := task.ReadFile(path, split)
		return ex, err
	}
	first := "dev"
	if strings.Contains(strings.ToLower(filepath.Base(path)), "test") {
		first = "test"
	}
	ex, _, err := task.ReadFile(path, first)
	if err == nil || first == "test" {
		return ex, err
	}
	if ex, _, err2 := task.ReadFile(path, "test"); err2 == nil {
		return ex, nil
	}
	return nil, err
}
