package rundir

import (
	"encoding/json"
	"math"
)

// StepInfo is what the trainer reports after each optimizer step; it is
// also one line of log.jsonl.
type StepInfo struct {
	Step           int     `json:"step"`
	Total          int     `json:"total_steps"`
	Epoch          float64 `json:"epoch"`
	Loss           Number  `json:"loss"`
	LR             float64 `json:"lr"`
	GradNorm       Number  `json:"grad_norm"`
	ExamplesPerSec float64 `json:"examples_per_s"`
}

// Eval is one evaluation on the dev split.
type Eval struct {
	Step  int     `json:"step"`
	Epoch float64 `json:"epoch"`
	// Metrics are the dev metrics and "loss", the mean loss of the
	// evaluation's outputs (cross-entropy, or squared error for regression).
	Metrics Metrics `json:"metrics"`
	// Primary is the task's main metric (accuracy, matthews_correlation, or
	// combined_score for MRPC, QQP and STS-B); NaN is written as null.
	Primary Number `json:"primary"`
}

// State is everything a resumed run needs besides weights and moments.
// Its JSON keys are the field names in snake_case (files saved before they
// had tags, with "Step" and so on, still load: encoding/json matches keys
// without regard to case).
type State struct {
	// Step is the number of optimizer steps taken; Total and Warmup are the
	// schedule's lengths.
	Step   int `json:"step"`
	Total  int `json:"total"`
	Warmup int `json:"warmup"`
	// Micro counts forward passes; it keys the dropout and mixout masks.
	Micro uint64 `json:"micro"`
	// Epoch and Pos locate the next batch in the epoch's shuffled order.
	Epoch int `json:"epoch"`
	Pos   int `json:"pos"`
	// Best is the best dev evaluation so far; Evals every evaluation.
	Best  *Eval  `json:"best"`
	Evals []Eval `json:"evals"`
	// Seconds is the training time spent so far (the optimizer steps).
	Seconds float64 `json:"seconds"`
	// Runtime is the wall-clock time of the training loop so far,
	// evaluations and checkpoints included (Hugging Face's train_runtime).
	Runtime float64 `json:"runtime"`
	// LossSum is the sum of the steps' training losses, LossSteps their
	// number (a run saved before they existed counts from its resume).
	LossSum   float64 `json:"loss_sum"`
	LossSteps int     `json:"loss_steps"`
	// EvalDue: the evaluation after step Step was cut short by an interrupt;
	// a resumed run does it first.
	EvalDue bool `json:"eval_due,omitempty"`
}

// SavedState is trainer_state.json, in last/: the trainer's state and the
// run's settings as requested (config.Run.Map).
type SavedState struct {
	State  State          `json:"state"`
	Config map[string]any `json:"config"`
}

// Status of a run, as metrics.json records it.
const (
	// StatusRunning: the run is training (or was killed without a word).
	StatusRunning = "running"
	// StatusInterrupted: SIGINT/SIGTERM stopped it with its state in last/.
	StatusInterrupted = "interrupted"
	// StatusFinished: every step ran; final and failed are its result.
	StatusFinished = "finished"
	// StatusDiverged: the loss or gradient became non-finite: a failed run.
	StatusDiverged = "diverged"
)

// MetricsRecord is metrics.json: the run's status, its evaluations and
// the fingerprints of its inputs. The trainer rewrites it at every
// evaluation; sweeps, plots and reports read it (ReadMetrics).
type MetricsRecord struct {
	Task     string `json:"task"`
	Strategy string `json:"strategy"`
	Seed     uint64 `json:"seed"`
	Status   string `json:"status"`
	// Final and Failed are only there once the run finished or diverged.
	Final            *Eval   `json:"final"`
	Best             *Eval   `json:"best"`
	MajorityBaseline Number  `json:"majority_baseline"`
	Failed           *bool   `json:"failed,omitempty"`
	Failure          string  `json:"failure,omitempty"`
	Steps            int     `json:"steps"`
	TotalSteps       int     `json:"total_steps"`
	TrainExamples    int     `json:"train_examples"`
	DevExamples      int     `json:"dev_examples"`
	TrainSeconds     float64 `json:"train_seconds"`
	// ModelSHA256 and DataSHA256 identify the checkpoint finetuned and the
	// train and dev files by content (model.Fingerprint, fsutil.HashFiles).
	ModelSHA256 string `json:"model_sha256,omitempty"`
	DataSHA256  string `json:"data_sha256,omitempty"`
	Evals       []Eval `json:"evals"`
}

// Summary is the final summary of a run, saved as all_results.json with
// the keys of Hugging Face's Trainer. Rates are over the run's whole
// training (a resumed run's earlier sessions included); eval_runtime and
// its rates are missing when this process ran no evaluation.
type Summary map[string]Number

// PrimaryMetric names the task's main metric among an evaluation's
// metrics and gives its value (combined_score, matthews_correlation or
// accuracy; "score" and NaN when none is there).
func PrimaryMetric(m map[string]float64) (string, float64) {
	for _, k := range []string{"combined_score", "matthews_correlation", "accuracy"} {
		if v, ok := m[k]; ok {
			return k, v
		}
	}
	return "score", math.NaN()
}

// Number is a float64 that JSON writes as null when it is NaN or infinite
// (JSON has no NaN) and reads back from null as NaN.
type Number float64

// MarshalJSON implements json.Marshaler.
func (n Number) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Number(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(n))
}

// Metrics are metric values by Hugging Face evaluate's names; NaN is null in JSON.
type Metrics map[string]float64

// MarshalJSON implements json.Marshaler.
func (m Metrics) MarshalJSON() ([]byte, error) {
	out := make(map[string]Number, len(m))
	for k, v := range m {
		out[k] = Number(v)
	}
	return json.Marshal(out)
}

// UnmarshalJSON implements json.Unmarshaler.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	var in map[string]Number
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*m = make(Metrics, len(in))
	for k, v := range in {
		(*m)[k] = float64(v)
	}
	return nil
}
