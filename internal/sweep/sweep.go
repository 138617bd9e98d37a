// Package sweep holds what every part of a sweep shares: a run's id (the
// name of its directory in the sweep's output directory) and what it
// computes (ID, ComputeKey), where a run directory stands (DirState) and
// what the sweep does about it (Decision), and the command line one line
// of a manifest runs with (Invocation, Command, IndexEnv).
//
// The sweep's concerns are its sub-packages; each imports this one, and
// only schedule imports another (plan, whose runs it executes):
//
//	plan      sweep file (base and axes) -> a plan of runs; manifests
//	schedule  running a plan on this machine: workers, processes, status
//	emit      a manifest as a Slurm job array or a Kubernetes Indexed Job
//	report    finished run directories -> tables and plots
//
// This package and report import neither the model, the backends nor the
// data.
package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/mixft/mixft/internal/config"
)

// ManifestFile is the manifest's name in a sweep's output directory; each
// run's directory beside it is named by the run's ID.
const ManifestFile = "manifest.jsonl"

// Unhashed are the settings that do not change what a run computes, or
// that depend on where it runs; the run id ignores them.
var Unhashed = []string{"output_dir", "resume", "overwrite", "threads", "device", "report_to", "logging_steps", "save_total_limit", "save_only_model"}

// HashedWhenSet are settings added after run ids were first defined: the
// id includes them only when they differ from their default, so that the
// runs of an existing sweep keep their ids (and directories). A new setting
// that changes what a run computes belongs here.
var HashedWhenSet = []string{"train_file", "validation_file", "test_file", "text_columns", "label_column", "labels", "problem", "data_format", "precision"}

// hashed is a run's settings without the Unhashed keys, and without the
// HashedWhenSet keys at their defaults.
func hashed(cfg config.Run) map[string]any {
	m := cfg.Map()
	for _, k := range Unhashed {
		delete(m, k)
	}
	def := config.Default().Map()
	for _, k := range HashedWhenSet {
		if m[k] == def[k] {
			delete(m, k)
		}
	}
	return m
}

// ID is the content hash of a run's settings: the first 12 hex digits of
// the SHA-256 of their JSON (keys sorted), the Unhashed keys left out.
func ID(cfg config.Run) string {
	b, err := json.Marshal(hashed(cfg))
	if err != nil {
		panic(err) // settings are plain strings, numbers and booleans
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// PlaceKeys are the settings that name where a run's inputs lie: copies of
// one checkpoint or data set in other places compute the same run.
var PlaceKeys = []string{"model", "data_dir", "train_file", "validation_file", "test_file"}

// KeptKeys are the settings that say which checkpoints a run keeps; they
// do not change its scores.
var KeptKeys = []string{"save_best", "save_total_limit", "save_only_model"}

// ComputeKey identifies what a run computes, wherever it ran: the SHA-256
// of its requested settings without the Unhashed keys (output_dir, device,
// threads, ...), the PlaceKeys (paths) and the KeptKeys. The checkpoint
// and the data are identified apart, by the fingerprints metrics.json
// records (model_sha256, data_sha256); with the same checkpoint and data
// the requested settings determine the resolved ones. Unlike ID (the
// directory name, which hashes the paths too), it is the same for a run
// made on a laptop and on a cluster from copies of the same files.
func ComputeKey(cfg config.Run) string {
	m := cfg.Map()
	for _, k := range slices.Concat(Unhashed, PlaceKeys, KeptKeys) {
		delete(m, k)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // settings are plain strings, numbers and booleans
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// Describe is a short label of a run: task, strategy, mixout and dropout
// probabilities when set, seed ("rte strategy=mixout mixout=0.3 seed=2").
func Describe(cfg config.Run) string {
	parts := []string{cfg.Task}
	if cfg.Strategy != "custom" {
		parts = append(parts, "strategy="+cfg.Strategy)
	}
	if cfg.Mixout > 0 {
		parts = append(parts, fmt.Sprintf("mixout=%g", cfg.Mixout))
	}
	if cfg.Dropout >= 0 {
		parts = append(parts, fmt.Sprintf("dropout=%g", cfg.Dropout))
	}
	if cfg.DecayTarget == "pretrained" {
		parts = append(parts, "weight_decay_target=pretrained")
	}
	return strings.Join(append(parts, fmt.Sprintf("seed=%d", cfg.Seed)), " ")
}
