// Package rundir is the format of a finetuning run's directory: the names
// of its files, the records they hold (metrics.json, log.jsonl lines,
// trainer_state.json, all_results.json), the run's status, and readers of
// them. The trainer writes a run directory through it; curves, sweeps and
// the command line read one through it. It imports nothing of the model,
// the backends or the data, so that readers stay light.
package rundir

import "slices"

// Files of a run directory.
const (
	ConfigFile    = "config.yaml"
	LogFile       = "log.jsonl"
	MetricsFile   = "metrics.json"
	BestDir       = "best"
	LastDir       = "last"
	StateFile     = "trainer_state.json"
	OptimizerFile = "optimizer.safetensors"
	// CurvesSVGFile and CurvesPNGFile are the run's curves (package curves
	// draws them after a run, and mixft plot).
	CurvesSVGFile = "curves.svg"
	CurvesPNGFile = "curves.png"
)

// Markers are the files whose presence means a directory holds a run.
var Markers = []string{ConfigFile, LogFile, MetricsFile, BestDir, LastDir}

// Outputs is everything a run writes into its directory but the lock
// file: --overwrite removes all of it, so nothing of the old run mixes
// with the new one.
var Outputs = append(slices.Clone(Markers), TensorBoardDir, TestPredictionsFile, ResultsFile, CurvesSVGFile, CurvesPNGFile)

// ResultsFile is all_results.json, the run's final summary with Hugging
// Face's keys (train_runtime, train_samples_per_second, ..., eval_*),
// written when the run finishes.
const ResultsFile = "all_results.json"

// TensorBoardDir is the run directory's folder of TensorBoard event files
// (report_to tensorboard).
const TensorBoardDir = "tensorboard"

// TestPredictionsFile is where a run with test_file writes the final
// model's predictions, one JSON line per row as mixft predict writes them.
const TestPredictionsFile = "test_predictions.jsonl"
