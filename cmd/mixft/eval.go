package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/infer"
)

// evalOptions are eval's settings.
type evalOptions struct {
	common
	model          modelOptions
	dataDir, split string
	validationFile string
	json           bool
	outputDir      string
}

// newEvalCmd returns the eval command; runF, when not nil, runs instead of
// runEval (tests take the resolved options from it).
func newEvalCmd(runF func(*evalOptions) error) *cobra.Command {
	if runF == nil {
		runF = runEval
	}
	o := &evalOptions{}
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Score a model on a GLUE dev split, or write the GLUE submission file of a test split",
		Long: `eval runs a model over one split of a GLUE task.

On a labelled split (dev, or MNLI's dev-mm) it prints the task's official
metrics: accuracy (SST-2, QNLI, RTE, WNLI, MNLI), accuracy and F1 (MRPC, QQP),
Matthews correlation (CoLA), Pearson and Spearman correlation (STS-B), and
combined_score where a task has two, and the mean loss (cross-entropy, or
squared error for regression). --json prints one JSON object with the keys
of Hugging Face's Trainer.evaluate: eval_loss, eval_<metric> (evaluate's
metric names: eval_accuracy, eval_matthews_correlation, ...), eval_samples,
eval_runtime, eval_samples_per_second, eval_steps_per_second; beside them,
for scripts written against earlier versions, the metrics under their bare
names and num_examples. An undefined correlation (constant predictions) is
null.

--max-seq-length defaults to the length the model was finetuned with
(mixft finetune records it in the saved config.json; for a best/ or last/
checkpoint of an older run, its run directory's config.yaml), else 128 (at
most the model's max_position_embeddings).

On a test split it writes the GLUE leaderboard file (RTE.tsv, STS-B.tsv, ...)
into --output-dir: "index<TAB>prediction" rows with label strings, STS-B
scores clipped to [0, 5].

--data-dir is the folder of one task (train.tsv, dev.tsv, test.tsv, or MNLI's
dev_matched.tsv ...).

Your own data: with no --task, --validation-file names a labelled .csv,
.tsv, .jsonl or .json file (see mixft finetune --help for the columns);
the labels and the problem type come from the model (id2label,
problem_type). Classification prints accuracy and macro_f1 (and f1 of the
second label with two labels); regression pearson, spearmanr and their mean
combined_score.`,
		Example: `  mixft eval --model runs/rte-mixout/best --task rte --data-dir glue_data/RTE
  mixft eval --model runs/stsb/best --task sts-b --data-dir glue_data/STS-B --json
  mixft eval --model runs/rte-bf16/best --task rte --data-dir glue_data/RTE --precision bf16
  mixft eval --model runs/rte-mixout/best --task rte --data-dir glue_data/RTE --split test --output-dir submission/
  mixft eval --model runs/reviews/best --validation-file reviews/dev.csv --text-columns review --json`,
		Args: cobra.NoArgs,
		RunE: runE(o, runF),
	}
	addModelFlags(cmd, &o.model)
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "", "folder of the task's GLUE files")
	f.StringVar(&o.validationFile, "validation-file", "", "your own labelled data (.csv, .tsv, .jsonl, .json) instead of a GLUE task")
	f.StringVar(&o.split, "split", "dev", "split: dev, dev-mm (MNLI), test, test-mm (MNLI), train")
	f.BoolVar(&o.json, "json", false, "print one JSON object instead of a table")
	f.StringVar(&o.outputDir, "output-dir", ".", "where a test split's submission file is written")
	bindSettings(cmd)
	return cmd
}

// evalJSONObject is eval --json's object: the Trainer's keys (eval_loss,
// eval_<metric>, eval_samples, eval_runtime, eval_samples_per_second,
// eval_steps_per_second), task and split, and for scripts written against
// earlier versions the metrics under their bare names and num_examples.
// An undefined value (a constant prediction's correlation) is null.
func evalJSONObject(task, split string, n int, seconds float64, m map[string]float64, batch int) map[string]any {
	obj := map[string]any{"task": task, "split": split, "eval_samples": n, "num_examples": n}
	val := func(v float64) any {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return v
	}
	for k, v := range m {
		obj["eval_"+k] = val(v)
		if k != "loss" {
			obj[k] = val(v) // the bare names of earlier versions
		}
	}
	if seconds > 0 {
		obj["eval_runtime"] = seconds
		obj["eval_samples_per_second"] = float64(n) / seconds
		obj["eval_steps_per_second"] = math.Ceil(float64(n)/float64(batch)) / seconds
	}
	return obj
}

// runEval scores the model on the split, or writes the submission file of
// a test split.
func runEval(o *evalOptions) error {
	split := o.split
	switch {
	case !o.model.ownData():
		if err := o.settings.require("model", o.model.model, "data_dir", o.dataDir); err != nil {
			return err
		}
	case o.dataDir != "":
		return o.settings.require("task", "") // GLUE files need their task
	default:
		if err := o.settings.require("model", o.model.model, "validation_file", o.validationFile); err != nil {
			return err
		}
		split = "dev"
	}
	ctx, interrupted, stop := withSignals(context.Background(), "eval")
	defer stop()
	run, err := openModel(&o.model, o.settings, o.stderr, map[string]string{"dev": o.validationFile})
	if err != nil {
		return err
	}
	examples, report, err := run.task.ReadSplit(o.dataDir, split)
	if err != nil {
		return err
	}
	if report.Skipped > 0 {
		fmt.Fprintf(o.stderr, "mixft: warning: %s: skipped %d rows with too few columns (lines %v)\n", report.Path, report.Skipped, report.SkippedLines)
	}
	if len(examples) == 0 {
		return fmt.Errorf("%s: no examples", report.Path)
	}
	step, done := progress(o.stderr, len(examples), "eval "+run.task.Name)
	began := time.Now()
	preds, err := run.predictor.PredictContext(ctx, examples, step)
	seconds := time.Since(began).Seconds()
	done()
	if err != nil {
		return interrupted(err)
	}
	out, asJSON := o.stdout, o.json
	labelled := examples[0].HasLabel
	if !labelled {
		file, err := run.task.SubmissionFile(report.Split)
		if err != nil {
			return err
		}
		path := filepath.Join(o.outputDir, file)
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
	if m["loss"], err = infer.Loss(run.task, examples, preds); err != nil {
		return fmt.Errorf("%s: %w", report.Path, err)
	}
	names := slices.Sorted(maps.Keys(m))
	if asJSON {
		return json.NewEncoder(out).Encode(evalJSONObject(run.task.Name, report.Split, len(examples), seconds, m, o.model.batchSize))
	}
	fmt.Fprintf(out, "%s %s: %d examples (%s)\n", run.task.Name, report.Split, len(examples), report.Path)
	for _, k := range names {
		fmt.Fprintf(out, "  %-22s %.4f\n", k, m[k])
	}
	return nil
}
