package main

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/infer"
)

func newEvalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Score a model on a GLUE dev split, or write the GLUE submission file of a test split",
		Long: `eval runs a model over one split of a GLUE task.

On a labelled split (dev, or MNLI's dev-mm) it prints the task's official
metrics: accuracy (SST-2, QNLI, RTE, WNLI, MNLI), accuracy and F1 (MRPC, QQP),
Matthews correlation (CoLA), Pearson and Spearman correlation (STS-B), and
combined_score where a task has two. --json prints one JSON object with
Hugging Face evaluate's metric names; an undefined correlation (constant
predictions) is null.

On a test split it writes the GLUE leaderboard file (RTE.tsv, STS-B.tsv, ...)
into --output-dir: "index<TAB>prediction" rows with label strings, STS-B
scores clipped to [0, 5].

--data-dir is the folder of one task (train.tsv, dev.tsv, test.tsv, or MNLI's
dev_matched.tsv ...).`,
		Example: `  mixft eval --model runs/rte-mixout/best --task rte --data-dir glue_data/RTE
  mixft eval --model runs/stsb/best --task sts-b --data-dir glue_data/STS-B --json
  mixft eval --model runs/rte-mixout/best --task rte --data-dir glue_data/RTE --split test --output-dir submission/`,
		Args: cobra.NoArgs,
		RunE: runEval,
	}
	addModelFlags(cmd)
	f := cmd.Flags()
	f.String("data-dir", "", "folder of the task's GLUE files")
	f.String("split", "dev", "split: dev, dev-mm (MNLI), test, test-mm (MNLI), train")
	f.Bool("json", false, "print one JSON object instead of a table")
	f.String("output-dir", ".", "where a test split's submission file is written")
	return cmd
}

func runEval(cmd *cobra.Command, _ []string) error {
	s, err := loadSettings(cmd)
	if err != nil {
		return err
	}
	dataDir, split := s.String("data_dir"), s.String("split")
	asJSON, outDir := s.Bool("json"), s.String("output_dir")
	s.Require("model", s.String("model"))
	s.Require("task", s.String("task"))
	s.Require("data_dir", dataDir)
	ctx, interrupted, stop := withSignals(cmd.Context(), "eval")
	defer stop()
	run, err := openModel(s, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	examples, report, err := run.task.ReadSplit(dataDir, split)
	if err != nil {
		return err
	}
	if report.Skipped > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "mixft: warning: %s: skipped %d rows with too few columns (lines %v)\n", report.Path, report.Skipped, report.SkippedLines)
	}
	if len(examples) == 0 {
		return fmt.Errorf("%s: no examples", report.Path)
	}
	step, done := progress(cmd.ErrOrStderr(), len(examples), "eval "+run.task.Name)
	preds, err := run.predictor.PredictContext(ctx, examples, step)
	done()
	if err != nil {
		return interrupted(err)
	}
	out := cmd.OutOrStdout()
	labelled := examples[0].HasLabel
	if !labelled {
		file, err := run.task.SubmissionFile(report.Split)
		if err != nil {
			return err
		}
		path := filepath.Join(outDir, file)
		indices, labels := make([]string, len(preds)), make([]string, len(preds))
		for i, p := range preds {
			indices[i], labels[i] = p.Index, p.Label
		}
		if err := data.WriteSubmission(path, run.task, indices, labels); err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(out).Encode(map[string]any{
				"task": run.task.Name, "split": report.Split, "num_examples": len(preds), "submission": path,
			})
		}
		fmt.Fprintf(out, "wrote %s: %d predictions for %s %s\n", path, len(preds), run.task.Name, report.Split)
		return nil
	}
	m, err := infer.Metrics(run.task, examples, preds)
	if err != nil {
		return fmt.Errorf("%s: %w", report.Path, err)
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	if asJSON {
		obj := map[string]any{"task": run.task.Name, "split": report.Split, "num_examples": len(examples)}
		for _, k := range names {
			if v := m[k]; math.IsNaN(v) {
				obj[k] = nil
			} else {
				obj[k] = v
			}
		}
		return json.NewEncoder(out).Encode(obj)
	}
	fmt.Fprintf(out, "%s %s: %d examples (%s)\n", run.task.Name, report.Split, len(examples), report.Path)
	for _, k := range names {
		fmt.Fprintf(out, "  %-22s %.4f\n", k, m[k])
	}
	return nil
}
