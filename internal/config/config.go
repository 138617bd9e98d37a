// Package config is the one run configuration of mixft finetune: its
// settings with their keys, defaults and help, the regularization
// strategies of the mixout paper as named presets, and validation with
// errors that name the key. It knows nothing of backends.
//
// Every field carries its settings key (the YAML key, and the flag name
// with "-" for "_"), so that the command line, the environment and YAML
// files are bound from this one table.
package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
)

// Run is every setting of one finetuning run.
type Run struct {
	Model     string `key:"model" help:"Hugging Face model directory to finetune (config.json, model.safetensors, and vocab.txt, vocab.json + merges.txt or tokenizer.json)"`
	Task      string `key:"task" help:"GLUE task (rte, mrpc, cola, sts-b, sst-2, ...); empty or custom with train_file"`
	DataDir   string `key:"data_dir" help:"folder of the task's GLUE files (train.tsv, dev.tsv)"`
	OutputDir string `key:"output_dir" help:"run directory: config, log.jsonl, metrics.json, best/ and last/ checkpoints"`

	TrainFile      string `key:"train_file" help:"your own training data instead of a GLUE task: a .csv, .tsv, .jsonl or .json file with a header or keys"`
	ValidationFile string `key:"validation_file" help:"your own dev data (with train_file), in the same columns"`
	TestFile       string `key:"test_file" help:"your own test data (with train_file; labels optional): the final model's predictions go to output_dir/test_predictions.jsonl"`
	TextColumns    string `key:"text_columns" help:"your data's text column, or two comma-separated; empty: sentence1,sentence2 if present, else the first one or two text columns other than the label"`
	LabelColumn    string `key:"label_column" help:"your data's label column"`
	Labels         string `key:"labels" help:"your data's labels, comma-separated, in class-id order; empty: the train file's, sorted"`
	Problem        string `key:"problem" help:"your data's problem: classification, regression, or auto (regression when every train label is a number)"`
	DataFormat     string `key:"data_format" help:"format of your data files: csv, tsv, jsonl or json; empty: from the file extension"`

	Strategy string `key:"strategy" help:"regularization preset: dropout, wdecay-pre, mixout, mixout-wdecay-pre, or custom (the individual settings); explicit settings override a preset"`

	Seed         uint64 `key:"seed" help:"seed of the data order, the new classifier and every dropout/mixout mask"`
	MaxSeqLength int    `key:"max_seq_length" help:"maximum tokens per example, special tokens ([CLS]/[SEP], <s>/</s>) included"`
	BatchSize    int    `key:"batch_size" help:"examples per optimizer step (split into grad_accum_steps micro-batches)"`
	GradAccum    int    `key:"grad_accum_steps" help:"micro-batches per optimizer step"`
	EvalBatch    int    `key:"eval_batch_size" help:"examples per forward pass when evaluating"`
	Epochs       int    `key:"epochs" help:"passes over the training set (ignored when max_steps > 0)"`
	MaxSteps     int    `key:"max_steps" help:"optimizer steps to run; 0: epochs × steps per epoch"`

	LR           float64 `key:"lr" help:"peak learning rate"`
	WarmupSteps  int     `key:"warmup_steps" help:"linear warmup steps; -1: warmup_ratio of the total"`
	WarmupRatio  float64 `key:"warmup_ratio" help:"linear warmup as a fraction of the total steps (when warmup_steps is -1)"`
	WeightDecay  float64 `key:"weight_decay" help:"decoupled weight decay λ (not on biases and LayerNorm)"`
	DecayTarget  string  `key:"weight_decay_target" help:"what weight decay pulls toward: zero (wdecay(0, λ)) or pretrained (wdecay(w_pre, λ))"`
	Beta1        float64 `key:"adam_beta1" help:"Adam β1"`
	Beta2        float64 `key:"adam_beta2" help:"Adam β2"`
	Eps          float64 `key:"adam_eps" help:"Adam ε"`
	BiasCorrect  bool    `key:"bias_correction" help:"Adam bias correction (false: BERTAdam)"`
	MaxGradNorm  float64 `key:"max_grad_norm" help:"global gradient-norm clipping threshold; 0 disables"`
	LayerLRDecay float64 `key:"layer_lr_decay" help:"layer-wise learning-rate decay: layer l of L gets lr × decay^(L−l); 1 disables"`
	ReinitLayers int     `key:"reinit_layers" help:"re-initialise the top k encoder layers (and the pooler) before finetuning"`
	ReinitHead   bool    `key:"reinit_head" help:"start from a new classifier even when the checkpoint has one of the right size (a model finetuned on another task)"`

	Dropout           float64 `key:"dropout" help:"every dropout of the model, the classifier's included; -1: the checkpoint's (encoder 0 when mixout is on)"`
	HiddenDropout     float64 `key:"hidden_dropout" help:"embedding and hidden-state dropout; -1: from dropout"`
	AttentionDropout  float64 `key:"attention_dropout" help:"attention-probability dropout; -1: from dropout"`
	ClassifierDropout float64 `key:"classifier_dropout" help:"dropout before the classifier; -1: from dropout, else the checkpoint's"`

	Mixout           float64 `key:"mixout" help:"mixout probability p on every pretrained Linear (0: off)"`
	MixoutGrad       string  `key:"mixout_grad" help:"mixout gradient: exact (M/(1−p) ⊙ dL/dW~) or reference (the authors' M ⊙ dL/dW~)"`
	MixoutPerElement bool    `key:"mixout_per_element" help:"one mixout decision per weight (mixconnect) instead of per input neuron"`
	OutputLayer      string  `key:"output_layer" help:"regularizer of the new classifier: dropout (dropout + weight decay, the paper's default) or mixout (mixout toward its own initialisation)"`

	EvalSteps        int  `key:"eval_steps" help:"evaluate on dev every N optimizer steps; 0: every epoch"`
	LoggingSteps     int  `key:"logging_steps" help:"log every N optimizer steps (log.jsonl, TensorBoard and the console; loss averaged over the N steps); 0: log.jsonl every step, the console about 20 times a run"`
	MaxTrainExamples int  `key:"max_train_examples" help:"use only the first N training examples (0: all)"`
	MaxEvalExamples  int  `key:"max_eval_examples" help:"use only the first N dev examples (0: all)"`
	SaveBest         bool `key:"save_best" help:"keep the best dev checkpoint in best/"`
	SaveTotalLimit   int  `key:"save_total_limit" help:"most checkpoint folders a run keeps (the Trainer's save_total_limit): 0 no limit (best/ and last/), 1 last/ only (best/ is not written, as with save_best false; the best score stays in metrics.json)"`
	SaveOnlyModel    bool `key:"save_only_model" help:"checkpoints hold the model only (the Trainer's save_only_model): last/ without the optimizer state (twice the weights' size), so an interrupted run cannot resume and starts again"`
	Resume           bool `key:"resume" help:"continue an interrupted run from output_dir/last"`
	Overwrite        bool `key:"overwrite" help:"start afresh in an output_dir that already holds a run (its checkpoints, logs, metrics, curves, TensorBoard events and test predictions are removed)"`

	DoLowerCase string `key:"do_lower_case" help:"lower-case text: auto, true or false"`
	Threads     int    `key:"threads" help:"CPU worker goroutines (0: GOMAXPROCS)"`
	Device      string `key:"device" help:"compute device: cpu (cuda:N needs a build with -tags cuda)"`
	Precision   string `key:"precision" help:"GEMM precision: fp32, or bf16 (GEMM inputs rounded to bfloat16, float32 sums; weights, AdamW, LayerNorm, softmax and the loss stay fp32); tf32 on cuda only; a precision in --device cuda:N:PREC wins"`
	ReportTo    string `key:"report_to" help:"also report to: none, or tensorboard (event files in output_dir/tensorboard)"`
}

// KeepsBest reports whether the run keeps its best dev checkpoint in best/:
// save_best, unless save_total_limit 1 leaves room for last/ alone.
func (r *Run) KeepsBest() bool { return r.SaveBest && r.SaveTotalLimit != 1 }

// OwnData reports whether the run trains on the user's own files
// (train_file) instead of a GLUE task.
func (r *Run) OwnData() bool { return r.TrainFile != "" }

// Default returns the defaults: the paper's and Hugging Face run_glue's
// (lr 2e-5, batch 32, 3 epochs, 128 tokens, 10% warmup, ε 1e-8, clipping 1)
// with BERT's own dropout and weight decay 0.01 toward zero.
func Default() Run {
	return Run{
		Strategy: "custom", Seed: 42, MaxSeqLength: 128, BatchSize: 32, GradAccum: 1, EvalBatch: 64,
		Epochs: 3, LR: 2e-5, WarmupSteps: -1, WarmupRatio: 0.1, WeightDecay: 0.01, DecayTarget: "zero",
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, BiasCorrect: true, MaxGradNorm: 1, LayerLRDecay: 1,
		Dropout: -1, HiddenDropout: -1, AttentionDropout: -1, ClassifierDropout: -1,
		MixoutGrad: "exact", OutputLayer: "dropout", SaveBest: true, DoLowerCase: "auto", Device: "cpu",
		LabelColumn: "label", Problem: "classification", ReportTo: "none", Precision: "fp32",
	}
}

// Strategies maps each preset to the settings it implies (the paper's
// notation): dropout = dropout(0.1) + wdecay(0, 0.01); wdecay-pre =
// dropout(0.1) + wdecay(w_pre, 0.01); mixout = mixout(w_pre, 0.7) +
// wdecay(0, 0.01); mixout-wdecay-pre = mixout(w_pre, 0.7) + wdecay(w_pre,
// 0.01). With mixout the encoder's dropouts are 0; the new classifier keeps
// dropout(0.1) + wdecay(0, λ) in every preset, as in the paper's main
// experiments.
var Strategies = map[string]map[string]any{
	"custom":            {},
	"dropout":           {"dropout": 0.1, "mixout": 0.0, "weight_decay": 0.01, "weight_decay_target": "zero"},
	"wdecay-pre":        {"dropout": 0.1, "mixout": 0.0, "weight_decay": 0.01, "weight_decay_target": "pretrained"},
	"mixout":            {"mixout": 0.7, "weight_decay": 0.01, "weight_decay_target": "zero"},
	"mixout-wdecay-pre": {"mixout": 0.7, "weight_decay": 0.01, "weight_decay_target": "pretrained"},
}

// StrategyNames lists the presets in a fixed order.
func StrategyNames() []string {
	return []string{"custom", "dropout", "wdecay-pre", "mixout", "mixout-wdecay-pre"}
}

// Field is one setting as the command line and YAML files see it.
type Field struct {
	Key     string
	Help    string
	Default any
	// Kind is "string", "int", "uint64", "float64" or "bool".
	Kind string
}

// Fields lists every setting of Run in declaration order.
func Fields() []Field {
	d := reflect.ValueOf(Default())
	t := d.Type()
	fs := make([]Field, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fs = append(fs, Field{Key: f.Tag.Get("key"), Help: f.Tag.Get("help"), Default: d.Field(i).Interface(), Kind: f.Type.Kind().String()})
	}
	return fs
}

// Set assigns the value of one key; v must already have the field's kind.
func (r *Run) Set(key string, v any) error {
	f, ok := r.field(key)
	if !ok {
		return fmt.Errorf("unknown setting %q", key)
	}
	val := reflect.ValueOf(v)
	if val.Type() != f.Type() {
		return &FieldError{Key: key, Value: fmt.Sprint(v), Expected: "a " + f.Type().String()}
	}
	f.Set(val)
	return nil
}

// Ptr returns a pointer to the field of key (*string, *int, *uint64,
// *float64 or *bool), for binding it to a flag; nil for an unknown key.
func (r *Run) Ptr(key string) any {
	f, ok := r.field(key)
	if !ok {
		return nil
	}
	return f.Addr().Interface()
}

// field is the settable field of key.
func (r *Run) field(key string) (reflect.Value, bool) {
	rv := reflect.ValueOf(r).Elem()
	for i := 0; i < rv.NumField(); i++ {
		if rv.Type().Field(i).Tag.Get("key") == key {
			return rv.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// Map returns every setting by key (for writing the resolved config).
func (r Run) Map() map[string]any {
	rv := reflect.ValueOf(r)
	m := map[string]any{}
	for i := 0; i < rv.NumField(); i++ {
		m[rv.Type().Field(i).Tag.Get("key")] = rv.Field(i).Interface()
	}
	return m
}

// FieldError is a setting with a bad or missing value. Code that must act
// on it finds it with errors.As and reads the key, never the message; the
// command line fills in Source.
type FieldError struct {
	// Key is the setting's key ("batch_size").
	Key string
	// Value is the value as given, formatted for the message ("0",
	// `"dropconnect"`); empty when Missing.
	Value string
	// Source is where the value came from ("flag --batch-size",
	// "environment variable MIXFT_BATCH_SIZE", ...); empty when the code
	// that found the error does not know.
	Source string
	// Expected says what the key takes ("a positive number of
	// examples"), or for a Missing key what it is for.
	Expected string
	// Missing reports a required key that was not given.
	Missing bool
}

// Error is one line: "[source: ][key: ]value is not expected", or
// "[source: ]key: required (expected)".
func (e *FieldError) Error() string {
	msg := e.Value + " is not " + e.Expected
	if e.Missing {
		msg = "required (" + e.Expected + ")"
	}
	if e.Key != "" {
		msg = e.Key + ": " + msg
	}
	if e.Source != "" {
		msg = e.Source + ": " + msg
	}
	return msg
}

// Validate checks every setting; the error, a *FieldError, names the key
// and what it expects.
func (r *Run) Validate() error {
	bad := func(key string, v any, want string) error {
		return &FieldError{Key: key, Value: fmt.Sprint(v), Expected: want}
	}
	missing := func(key, what string) error {
		return &FieldError{Key: key, Missing: true, Expected: what}
	}
	switch {
	case r.Model == "":
		return missing("model", "the Hugging Face model directory to finetune")
	case r.OwnData() && r.Task != "" && r.Task != "custom":
		return bad("task", fmt.Sprintf("%q", r.Task), "empty or custom: train_file gives your own data")
	case r.OwnData() && r.ValidationFile == "":
		return missing("validation_file", "your own dev data, with train_file")
	case !r.OwnData() && r.ValidationFile != "":
		return missing("train_file", "your own training data, with validation_file")
	case !r.OwnData() && r.TestFile != "":
		return missing("train_file", "your own training data, with test_file; for a GLUE task's test split use mixft eval --split test")
	case !r.OwnData() && r.Task == "":
		return missing("task", "a GLUE task such as rte, or train_file and validation_file for your own data")
	case !r.OwnData() && r.DataDir == "":
		return missing("data_dir", "the task's GLUE folder")
	case !r.OwnData() && (r.TextColumns != "" || r.Labels != "" || r.DataFormat != "" || r.Problem != "classification" || r.LabelColumn != "label"):
		return missing("train_file", "text_columns, label_column, labels, problem and data_format describe your own data; a GLUE task fixes its columns and labels")
	case r.Problem != "classification" && r.Problem != "regression" && r.Problem != "auto":
		return bad("problem", fmt.Sprintf("%q", r.Problem), "classification, regression or auto")
	case r.LabelColumn == "":
		return bad("label_column", `""`, "a column name")
	case r.DataFormat != "" && !slices.Contains([]string{"csv", "tsv", "jsonl", "json"}, r.DataFormat):
		return bad("data_format", fmt.Sprintf("%q", r.DataFormat), "csv, tsv, jsonl or json (or empty: from the file extension)")
	case r.ReportTo != "none" && r.ReportTo != "tensorboard":
		return bad("report_to", fmt.Sprintf("%q", r.ReportTo), "none or tensorboard")
	case r.OutputDir == "":
		return missing("output_dir", "where the run is written")
	case !slices.Contains(StrategyNames(), r.Strategy):
		return bad("strategy", fmt.Sprintf("%q", r.Strategy), "one of "+strings.Join(StrategyNames(), ", "))
	case r.MaxSeqLength < 3:
		return bad("max_seq_length", r.MaxSeqLength, "at least 3")
	case r.BatchSize < 1:
		return bad("batch_size", r.BatchSize, "a positive number of examples")
	case r.GradAccum < 1 || r.BatchSize%r.GradAccum != 0:
		return bad("grad_accum_steps", r.GradAccum, fmt.Sprintf("a positive divisor of batch_size %d", r.BatchSize))
	case r.EvalBatch < 1:
		return bad("eval_batch_size", r.EvalBatch, "a positive number of examples")
	case r.Epochs < 1 && r.MaxSteps <= 0:
		return bad("epochs", r.Epochs, "positive (or set max_steps)")
	case r.MaxSteps < 0:
		return bad("max_steps", r.MaxSteps, "0 or positive")
	case !(r.LR > 0) || math.IsInf(r.LR, 0):
		return bad("lr", r.LR, "a positive learning rate")
	case r.WarmupSteps < -1:
		return bad("warmup_steps", r.WarmupSteps, "0 or positive (-1: use warmup_ratio)")
	case !(r.WarmupRatio >= 0 && r.WarmupRatio <= 1):
		return bad("warmup_ratio", r.WarmupRatio, "a fraction in [0, 1]")
	case !(r.WeightDecay >= 0) || math.IsInf(r.WeightDecay, 0):
		return bad("weight_decay", r.WeightDecay, "0 or positive")
	case r.DecayTarget != "zero" && r.DecayTarget != "pretrained":
		return bad("weight_decay_target", fmt.Sprintf("%q", r.DecayTarget), "zero or pretrained")
	case !(r.Beta1 >= 0 && r.Beta1 < 1):
		return bad("adam_beta1", r.Beta1, "in [0, 1)")
	case !(r.Beta2 >= 0 && r.Beta2 < 1):
		return bad("adam_beta2", r.Beta2, "in [0, 1)")
	case !(r.Eps > 0):
		return bad("adam_eps", r.Eps, "positive")
	case !(r.MaxGradNorm >= 0):
		return bad("max_grad_norm", r.MaxGradNorm, "0 (off) or positive")
	case !(r.LayerLRDecay > 0 && r.LayerLRDecay <= 1):
		return bad("layer_lr_decay", r.LayerLRDecay, "in (0, 1]")
	case r.ReinitLayers < 0:
		return bad("reinit_layers", r.ReinitLayers, "0 or positive")
	case CheckMixout("mixout", r.Mixout) != nil:
		return CheckMixout("mixout", r.Mixout)
	case r.MixoutGrad != "exact" && r.MixoutGrad != "reference":
		return bad("mixout_grad", fmt.Sprintf("%q", r.MixoutGrad), "exact or reference")
	case r.OutputLayer != "dropout" && r.OutputLayer != "mixout":
		return bad("output_layer", fmt.Sprintf("%q", r.OutputLayer), "dropout or mixout")
	case r.EvalSteps < 0:
		return bad("eval_steps", r.EvalSteps, "0 (every epoch) or positive")
	case r.LoggingSteps < 0:
		return bad("logging_steps", r.LoggingSteps, "0 (every step; the console about 20 times a run) or positive")
	case r.MaxTrainExamples < 0:
		return bad("max_train_examples", r.MaxTrainExamples, "0 (all) or positive")
	case r.MaxEvalExamples < 0:
		return bad("max_eval_examples", r.MaxEvalExamples, "0 (all) or positive")
	case r.DoLowerCase != "auto" && r.DoLowerCase != "true" && r.DoLowerCase != "false":
		return bad("do_lower_case", fmt.Sprintf("%q", r.DoLowerCase), "auto, true or false")
	case r.Precision != "fp32" && r.Precision != "bf16" && r.Precision != "tf32":
		return bad("precision", fmt.Sprintf("%q", r.Precision), "fp32 or bf16 (tf32 on cuda only)")
	case r.Threads < 0:
		return bad("threads", r.Threads, "0 (all cores) or positive")
	case r.SaveTotalLimit < 0:
		return bad("save_total_limit", r.SaveTotalLimit, "0 (no limit) or positive")
	case r.Resume && r.Overwrite:
		return bad("overwrite", true, "allowed with resume (choose one)")
	}
	for _, p := range []struct {
		key string
		v   float64
	}{{"dropout", r.Dropout}, {"hidden_dropout", r.HiddenDropout}, {"attention_dropout", r.AttentionDropout}, {"classifier_dropout", r.ClassifierDropout}} {
		if p.v == -1 {
			continue // unset: from dropout, or the checkpoint's
		}
		if err := CheckDropout(p.key, p.v); err != nil {
			return err
		}
	}
	return nil
}

// CheckDropout is the range of a dropout probability, defined once for
// every setting that takes one: [0, 1) (at 1 nothing would be left to
// scale by 1/(1-p)). The error is a *FieldError of key.
func CheckDropout(key string, p float64) error {
	if !(p >= 0 && p < 1) {
		return &FieldError{Key: key, Value: fmt.Sprint(p), Expected: "a probability in [0, 1)"}
	}
	return nil
}

// CheckMixout is the range of a mixout probability, defined once for every
// setting that takes one: [0, 1] (1 keeps the pretrained weights, every
// column replaced). The error is a *FieldError of key.
func CheckMixout(key string, p float64) error {
	if !(p >= 0 && p <= 1) {
		return &FieldError{Key: key, Value: fmt.Sprint(p), Expected: "a probability in [0, 1]"}
	}
	return nil
}

// Dropouts resolves the three dropout probabilities: a finer setting wins,
// then dropout, then the checkpoint's values (hidden_dropout_prob,
// attention_probs_dropout_prob, classifier_dropout), where the encoder's are
// 0 when mixout is on and the classifier's is 0 when it uses mixout
// (output_layer mixout).
func (r *Run) Dropouts(ckptHidden, ckptAttention, ckptClassifier float64) (hidden, attention, classifier float64) {
	h, a, c := r.ResolveDropouts(ckptHidden, ckptAttention, ckptClassifier)
	return h.P, a.P, c.P
}

// Dropout is one resolved dropout probability and where it came from.
type Dropout struct {
	P float64
	// From is the setting that gave P (hidden_dropout, attention_dropout,
	// classifier_dropout or dropout), "mixout" (0: mixout replaces this
	// dropout), or "checkpoint" (the checkpoint's own value).
	From string
}

// ResolveDropouts is Dropouts with the origin of each probability.
func (r *Run) ResolveDropouts(ckptHidden, ckptAttention, ckptClassifier float64) (hidden, attention, classifier Dropout) {
	pick := func(fine float64, fineKey string, ckpt float64, mixoutReplaces bool) Dropout {
		switch {
		case fine >= 0:
			return Dropout{fine, fineKey}
		case r.Dropout >= 0:
			return Dropout{r.Dropout, "dropout"}
		case mixoutReplaces:
			return Dropout{0, "mixout"}
		}
		return Dropout{ckpt, "checkpoint"}
	}
	mix := r.Mixout > 0
	return pick(r.HiddenDropout, "hidden_dropout", ckptHidden, mix),
		pick(r.AttentionDropout, "attention_dropout", ckptAttention, mix),
		pick(r.ClassifierDropout, "classifier_dropout", ckptClassifier, mix && r.OutputLayer == "mixout")
}

// Regularization describes the regularizers in the mixout paper's
// notation: "dropout(0.1) + wdecay(0, 0.01)" when every dropout is the
// same, else the dropouts one by one ("mixout(w_pre, 0.7) + wdecay(0,
// 0.01), dropout: hidden 0, attention 0, classifier 0.1"). A dropout left
// to the checkpoint (-1, not resolved against one) is "the checkpoint's".
func (r Run) Regularization() string {
	nan := math.NaN()
	h, a, c := r.ResolveDropouts(nan, nan, nan)
	var parts []string
	if r.Mixout > 0 {
		parts = append(parts, fmt.Sprintf("mixout(w_pre, %g)", r.Mixout))
	}
	fromCkpt := h.From == "checkpoint" && a.From == "checkpoint" && c.From == "checkpoint"
	same := fromCkpt || (h.P == a.P && a.P == c.P) // NaN (the checkpoint's) equals nothing
	if same && h.P > 0 {
		parts = append(parts, fmt.Sprintf("dropout(%g)", h.P))
	}
	if r.WeightDecay > 0 {
		parts = append(parts, fmt.Sprintf("wdecay(%s, %g)", map[string]string{"zero": "0", "pretrained": "w_pre"}[r.DecayTarget], r.WeightDecay))
	}
	d := strings.Join(parts, " + ")
	if d == "" {
		d = "none"
	}
	if r.Mixout > 0 && r.OutputLayer == "mixout" {
		d += fmt.Sprintf(", classifier mixout(w_0, %g)", r.Mixout)
	}
	p := func(x Dropout) string {
		if x.From == "checkpoint" {
			return "the checkpoint's"
		}
		return fmt.Sprintf("%g", x.P)
	}
	switch {
	case fromCkpt:
		d += ", dropout: the checkpoint's"
	case !same:
		d += fmt.Sprintf(", dropout: hidden %s, attention %s, classifier %s", p(h), p(a), p(c))
	}
	return d
}

// Resolve is the configuration of a run from the settings given by key
// (each of its field's kind): the defaults, then the given values, then
// the strategy preset for every key not given. Every command builds a run
// this way; the result is not validated yet.
func Resolve(given map[string]any) (Run, error) {
	r := Default()
	keys := make([]string, 0, len(given))
	for k := range given {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := r.Set(k, given[k]); err != nil {
			return r, err
		}
	}
	return r, r.ApplyStrategy(func(k string) bool { _, ok := given[k]; return ok })
}

// ApplyStrategy fills the settings the strategy preset implies, except
// those the user set explicitly (isSet reports that for a key).
func (r *Run) ApplyStrategy(isSet func(key string) bool) error {
	for key, v := range Strategies[r.Strategy] {
		if isSet(key) {
			continue
		}
		if err := r.Set(key, v); err != nil {
			return err
		}
	}
	return nil
}
