package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/infer"
)

func newPredictCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "predict",
		Short: "Write the model's logits and predictions for every row of a GLUE-format TSV file",
		Long: `predict reads a TSV file in the layout of one of the task's GLUE files and
writes one JSON line per row: {"index": ..., "logits": [...], "prediction": ...}.
index is the file's index column (the 0-based row number for files without
one); logits are in the task's label order; prediction is the label string,
or for STS-B the predicted score (not clipped).

--split says which file layout the input has (train, dev, test, ...); auto
takes test when the file name contains "test", else dev, and falls back to
test when the file does not read as dev. The output is written atomically.`,
		Example: `  mixft predict --model runs/rte-mixout/best --task rte --input glue_data/RTE/test.tsv --output rte-test.jsonl
  mixft predict --model runs/cola --task cola --input my_sentences.tsv --split test --output -`,
		Args: cobra.NoArgs,
		RunE: runPredict,
	}
	addModelFlags(cmd)
	f := cmd.Flags()
	f.String("input", "", "TSV file in the task's GLUE layout")
	f.String("output", "", "JSON lines file to write (- for stdout)")
	f.String("split", "auto", "layout of the input: auto, train, dev, dev-mm, test, test-mm")
	return cmd
}

func runPredict(cmd *cobra.Command, _ []string) error {
	s, err := loadSettings(cmd)
	if err != nil {
		return err
	}
	input, output, split := s.String("input"), s.String("output"), s.String("split")
	s.Require("model", s.String("model"))
	s.Require("task", s.String("task"))
	s.Require("input", input)
	s.Require("output", output)
	ctx, interrupted, stop := withSignals(cmd.Context(), "predict")
	defer stop()
	run, err := openModel(s, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	examples, err := readInput(run.task, input, split)
	if err != nil {
		return err
	}
	step, done := progress(cmd.ErrOrStderr(), len(examples), "predict "+run.task.Name)
	preds, err := run.predictor.PredictContext(ctx, examples, step)
	done()
	if err != nil {
		return interrupted(err)
	}
	write := func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := writePredictions(bw, run.task, preds); err != nil {
			return err
		}
		return bw.Flush()
	}
	if output == "-" {
		return write(cmd.OutOrStdout())
	}
	if err := atomicfile.Write(output, 0o644, write); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "mixft: wrote %d predictions to %s\n", len(preds), output)
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

// writePredictions writes one JSON object per line.
func writePredictions(w io.Writer, task *data.Task, preds []infer.Prediction) error {
	enc := json.NewEncoder(w)
	for _, p := range preds {
		var index any = p.Index
		if n, err := strconv.ParseInt(p.Index, 10, 64); err == nil {
			index = n
		}
		logits := make([]any, len(p.Logits))
		for i, v := range p.Logits {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				logits[i] = nil
			} else {
				logits[i] = float64(v)
			}
		}
		var pred any = p.Label
		if task.Regression {
			pred = logits[0]
		}
		if err := enc.Encode(map[string]any{"index": index, "logits": logits, "prediction": pred}); err != nil {
			return err
		}
	}
	return nil
}
