package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/rundir"
)

// mixoutInWords says in one line what mixout does, per input column or
// (perElement) per weight.
func mixoutInWords(perElement bool) string {
	unit := "each input column of a pretrained weight matrix"
	if perElement {
		unit = "each pretrained weight"
	}
	return "mixout: at every step " + unit + " is swapped back to its pretrained value with probability p (the others scaled by 1/(1-p)), which keeps finetuning near the pretrained model"
}

// logWindow gathers the steps between two lines of log.jsonl.
type logWindow struct {
	loss     float64
	steps    int
	examples int
	seconds  float64
}

func (w *logWindow) add(loss float64, examples int, seconds float64) {
	w.loss += loss
	w.steps++
	w.examples += examples
	w.seconds += seconds
}

// line is the log line of the window ending with step s: s's learning rate
// and gradient norm, the window's mean loss and examples per second (s
// itself when the window is one step).
func (w *logWindow) line(s rundir.StepInfo) rundir.StepInfo {
	if w.steps > 1 {
		s.Loss = rundir.Number(w.loss / float64(w.steps))
		s.ExamplesPerSec = float64(w.examples) / w.seconds
	}
	return s
}

// log writes one line of log.jsonl and its TensorBoard scalars, and passes
// it to OnLog.
func (t *Trainer) log(info rundir.StepInfo) error {
	if err := t.run.logStep(info); err != nil {
		return err
	}
	if err := t.tb.step(info); err != nil {
		return err
	}
	if t.opts.OnLog != nil {
		t.opts.OnLog(info)
	}
	return nil
}

// summary computes the final summary from the state and the final
// evaluation.
func (t *Trainer) summary(final *rundir.Eval) rundir.Summary {
	st := t.state
	s := rundir.Summary{
		"epoch":         rundir.Number(float64(st.Epoch) + float64(st.Pos)/float64(len(t.train))),
		"train_runtime": rundir.Number(st.Runtime),
		"train_samples": rundir.Number(len(t.train)),
		"train_loss":    rundir.Number(math.NaN()),
		"eval_samples":  rundir.Number(len(t.dev)),
	}
	if st.LossSteps > 0 {
		s["train_loss"] = rundir.Number(st.LossSum / float64(st.LossSteps))
	}
	if st.Runtime > 0 {
		s["train_samples_per_second"] = rundir.Number(float64(st.Epoch*len(t.train)+st.Pos) / st.Runtime)
		s["train_steps_per_second"] = rundir.Number(float64(st.Step) / st.Runtime)
	}
	if final != nil {
		for k, v := range final.Metrics {
			s["eval_"+k] = rundir.Number(v)
		}
	}
	if t.evalSeconds > 0 {
		s["eval_runtime"] = rundir.Number(t.evalSeconds)
		s["eval_samples_per_second"] = rundir.Number(float64(len(t.dev)) / t.evalSeconds)
		s["eval_steps_per_second"] = rundir.Number(math.Ceil(float64(len(t.dev))/float64(t.cfg.EvalBatch)) / t.evalSeconds)
	}
	return s
}

// clearResults removes the all_results.json of an earlier run in
// output_dir: the file describes a finished run only.
func (t *Trainer) clearResults() error {
	err := os.Remove(filepath.Join(t.cfg.OutputDir, rundir.ResultsFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", rundir.ResultsFile, err)
	}
	return nil
}

// writeResults fills res.Summary and writes it to all_results.json.
func (t *Trainer) writeResults(res *Result) error {
	res.Summary = t.summary(res.Final)
	b, err := json.MarshalIndent(res.Summary, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", rundir.ResultsFile, err)
	}
	return atomicfile.WriteFile(filepath.Join(t.cfg.OutputDir, rundir.ResultsFile), append(b, '\n'), 0o644)
}

// dropouts are the run's three dropout probabilities and their origins.
func (t *Trainer) dropouts() (hidden, attention, classifier config.Dropout) {
	mc := t.model.Config
	return t.cfg.ResolveDropouts(mc.HiddenDropoutProb, mc.AttentionProbsDropoutProb, classifierDropout(mc))
}

// StrategyName names the regularization in effect: the preset's name, or
// for settings given one by one what they amount to ("mixout 0.7",
// "dropout 0.1 + wdecay(w_pre)").
func (t *Trainer) StrategyName() string {
	if t.cfg.Strategy != "custom" {
		return t.cfg.Strategy
	}
	var parts []string
	if t.cfg.Mixout > 0 {
		parts = append(parts, fmt.Sprintf("mixout %g", t.cfg.Mixout))
	} else if h, a, c := t.dropouts(); h.P == a.P && a.P == c.P {
		parts = append(parts, fmt.Sprintf("dropout %g", h.P))
	} else {
		parts = append(parts, fmt.Sprintf("dropout %g/%g/%g", h.P, a.P, c.P))
	}
	if t.cfg.WeightDecay > 0 && t.cfg.DecayTarget == "pretrained" {
		parts = append(parts, "wdecay(w_pre)")
	}
	return strings.Join(parts, " + ")
}

// Title names the run's data and regularization for a person: "rte with
// mixout 0.7" or "train.csv with the mixout preset".
func (t *Trainer) Title() string {
	what := t.task.Name
	if t.cfg.OwnData() {
		what = filepath.Base(t.cfg.TrainFile)
	}
	if t.cfg.Strategy != "custom" {
		return fmt.Sprintf("%s with the %s preset", what, t.cfg.Strategy)
	}
	return fmt.Sprintf("%s with %s", what, t.StrategyName())
}

// dropoutFrom says in words where a dropout probability came from.
func dropoutFrom(d config.Dropout, ckptKey string) string {
	switch d.From {
	case "mixout":
		return "mixout replaces it"
	case "checkpoint":
		return "the checkpoint's " + ckptKey
	}
	return "the " + d.From + " setting"
}

// plural is "1 step", "2 steps".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// threads is the number of CPU worker goroutines the run uses.
func (t *Trainer) threads() int {
	if t.cfg.Threads > 0 {
		return t.cfg.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// StartSummary describes the run about to start, as Hugging Face's Trainer
// does: the examples, the schedule, the batch, the device, the strategy
// and every regularizer in effect with its resolved value and where that
// came from. Each line is indented by two spaces.
func (t *Trainer) StartSummary() string {
	cfg, st := t.cfg, t.state
	var b strings.Builder
	line := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "  %-14s %s\n", name, fmt.Sprintf(format, args...))
	}
	mc, params := t.model.Config, 0
	for _, p := range t.step.Opt.Params {
		params += p.Spec.Size()
	}
	line("model", "%s (%d layers, hidden %d, %d parameters)", cfg.Model, mc.NumHiddenLayers, mc.HiddenSize, params)
	line("examples", "%d train, %d dev, up to %d tokens each", len(t.train), len(t.dev), cfg.MaxSeqLength)
	perEpoch := (len(t.train) + cfg.BatchSize - 1) / cfg.BatchSize
	line("steps", "%d optimizer steps = %.4g epochs of %d steps; warmup %s, then linear decay from lr %g",
		st.Total, float64(st.Total)/float64(perEpoch), perEpoch, plural(st.Warmup, "step"), cfg.LR)
	if cfg.GradAccum > 1 {
		line("batch", "%d examples per step, in %d micro-batches of %d (gradient accumulation)", cfg.BatchSize, cfg.GradAccum, cfg.BatchSize/cfg.GradAccum)
	} else {
		line("batch", "%d examples per step (no gradient accumulation)", cfg.BatchSize)
	}
	evals := "every epoch"
	if cfg.EvalSteps > 0 {
		evals = fmt.Sprintf("every %d steps", cfg.EvalSteps)
	}
	line("evaluation", "%s and at the end, on %d dev examples (%d per pass)", evals, len(t.dev), cfg.EvalBatch)
	logs := "every step"
	if cfg.LoggingSteps > 1 {
		logs = fmt.Sprintf("every %d steps (loss averaged over them)", cfg.LoggingSteps)
	}
	line("logging", "%s to %s", logs, rundir.LogFile)
	if cfg.Device == "cpu" {
		line("device", "cpu, %d threads, %s GEMMs", t.threads(), cfg.Precision)
	} else {
		line("device", "%s (%s)", cfg.Device, t.opts.Backend.Name())
	}
	if st.Step > 0 {
		line("resuming", "from step %d of %d", st.Step, st.Total)
	}
	strategy := t.StrategyName()
	if cfg.Strategy == "custom" {
		strategy += " (no preset: the settings one by one)"
	} else {
		strategy += " preset"
	}
	line("strategy", "%s", strategy)
	if cfg.Mixout > 0 {
		n := 0
		for _, l := range t.model.Linears() {
			if l.Mix != nil && l != &t.model.Classifier {
				n++
			}
		}
		how := "one decision per input neuron"
		if cfg.MixoutPerElement {
			how = "one decision per weight"
		}
		line("mixout", "%g toward the pretrained weights on %d Linears (%s, %s gradient)", cfg.Mixout, n, how, cfg.MixoutGrad)
		if cfg.OutputLayer == "mixout" {
			line("", "and the classifier: mixout %g toward its own initial weights", cfg.Mixout)
		}
		line("", "%s", mixoutInWords(cfg.MixoutPerElement))
	} else {
		line("mixout", "off")
	}
	h, a, c := t.dropouts()
	line("dropout", "hidden %g (%s), attention %g (%s), classifier %g (%s)",
		h.P, dropoutFrom(h, "hidden_dropout_prob"), a.P, dropoutFrom(a, "attention_probs_dropout_prob"),
		c.P, dropoutFrom(c, classifierDropoutKey(t.model.Config.ClassifierDropout != nil)))
	switch {
	case cfg.WeightDecay == 0:
		line("weight decay", "off")
	case cfg.DecayTarget == "pretrained":
		line("weight decay", "%g toward the pretrained weights, wdecay(w_pre, %g) (the new classifier toward 0; not on biases and LayerNorm)", cfg.WeightDecay, cfg.WeightDecay)
	default:
		line("weight decay", "%g toward 0, wdecay(0, %g) (not on biases and LayerNorm)", cfg.WeightDecay, cfg.WeightDecay)
	}
	clip := "off"
	if cfg.MaxGradNorm > 0 {
		clip = fmt.Sprintf("global norm %g", cfg.MaxGradNorm)
	}
	line("optimizer", "AdamW (β %g, %g, ε %g, bias correction %t), clipping %s", cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.BiasCorrect, clip)
	if cfg.LayerLRDecay < 1 {
		line("", "layer-wise lr decay %g", cfg.LayerLRDecay)
	}
	if cfg.ReinitLayers > 0 {
		line("re-init", "the top %s and the pooler", plural(cfg.ReinitLayers, "encoder layer"))
	}
	line("seed", "%d", cfg.Seed)
	return b.String()
}

// classifierDropoutKey is the checkpoint key the classifier's dropout
// comes from: classifier_dropout when the checkpoint sets it, else
// hidden_dropout_prob (as transformers does).
func classifierDropoutKey(set bool) string {
	if set {
		return "classifier_dropout"
	}
	return "hidden_dropout_prob"
}

// configYAML is config.yaml: every setting as the run resolved it (the
// checkpoint's dropouts, the thread count, the tokenizer's lower-casing,
// the schedule's steps, the labels and columns of the user's own data),
// and under requested: the settings given where they differ (-1, 0, auto
// and empty mean "resolve it"). The requested values are the run's
// identity: a sweep's run id hashes them, mixft sweep report and --resume
// read them (config.ReadRunYAML).
func (t *Trainer) configYAML() ([]byte, error) {
	req := t.cfg.Map()
	res := t.cfg.Map()
	h, a, c := t.dropouts()
	res["hidden_dropout"], res["attention_dropout"], res["classifier_dropout"] = h.P, a.P, c.P
	if t.cfg.Dropout < 0 {
		delete(res, "dropout") // the three above say it all
		if h.P == a.P && a.P == c.P {
			res["dropout"] = h.P
		}
	}
	if t.cfg.Device == "cpu" {
		res["threads"] = t.threads()
	}
	res["do_lower_case"] = fmt.Sprint(t.tok.DoLowerCase())
	res["warmup_steps"] = t.state.Warmup
	res["max_steps"] = t.state.Total
	if cu := t.task.Custom; cu != nil {
		res["task"] = t.task.Name
		res["text_columns"] = strings.Join(cu.TextColumns, ",")
		if t.task.Regression {
			res["problem"] = "regression"
		} else {
			res["problem"] = "classification"
			res["labels"] = strings.Join(t.task.Labels, ",")
		}
	}
	differ := map[string]any{}
	for k, v := range req {
		if r, ok := res[k]; !ok || fmt.Sprint(r) != fmt.Sprint(v) {
			differ[k] = v
		}
	}
	head := "# mixft finetune: every setting of this run as resolved; requested: the settings\n" +
		"# as given where they differ (-1, 0, auto or empty: resolved by the run).\n"
	body, err := yaml.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", rundir.ConfigFile, err)
	}
	out := append([]byte(head), body...)
	if len(differ) > 0 {
		tail, err := yaml.Marshal(map[string]any{config.RequestedKey: differ})
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", rundir.ConfigFile, err)
		}
		out = append(out, tail...)
	}
	return out, nil
}
