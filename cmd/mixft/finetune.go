package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/curves"
	"github.com/mixft/mixft/internal/exitcode"
	"github.com/mixft/mixft/internal/hub"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/rundir"
	"github.com/mixft/mixft/internal/sweep"
	"github.com/mixft/mixft/internal/sweep/schedule"
	"github.com/mixft/mixft/internal/train"
)

// finetuneOptions are finetune's settings.
type finetuneOptions struct {
	common
	// run holds every run setting, each bound to its flag.
	run config.Run
	// manifest and index name a line of a sweep manifest to run instead.
	manifest string
	index    int
}

// newFinetuneCmd returns the finetune command; runF, when not nil, runs
// instead of runFinetune.
func newFinetuneCmd(runF func(*finetuneOptions) error) *cobra.Command {
	if runF == nil {
		runF = runFinetune
	}
	o := &finetuneOptions{run: config.Default()}
	cmd := &cobra.Command{
		Use:   "finetune",
		Short: "Finetune a BERT checkpoint on a GLUE task or your own CSV/JSON data with dropout, weight decay or mixout",
		Long: `finetune trains a Hugging Face BERT-family checkpoint (BERT, RoBERTa,
XLM-RoBERTa, ELECTRA, DistilBERT, ALBERT, DeBERTa-v2/v3, ModernBERT) on a GLUE task's train.tsv,
evaluates on dev.tsv every epoch (or every --eval-steps), and writes the run
directory --output-dir:

  config.yaml     every setting as the run resolved it (the checkpoint's
                  dropouts, the thread count, the warmup and total steps, ...)
                  and under requested: the settings as given where they differ
  log.jsonl       one line per step (per --logging-steps N steps, the loss
                  averaged over them): step, loss, lr, grad_norm, examples_per_s
  metrics.json    status (running, interrupted, finished, diverged), best dev
                  metrics (with loss, the dev loss), the majority-class
                  baseline; once finished or diverged, the final metrics and
                  whether the run failed (final score at or below that
                  baseline, or a diverged loss)
  all_results.json  the final summary with Hugging Face's keys: train_runtime,
                  train_samples_per_second, train_steps_per_second, train_loss,
                  epoch, eval_<metric>, eval_loss, eval_runtime, ...
  best/           the checkpoint with the best dev score (Hugging Face layout)
  last/           the latest checkpoint, saved at every evaluation: after the
                  run, the final model (Hugging Face layout, plus the
                  optimizer moments and trainer state --resume needs)
  (each checkpoint's config.json records the run's max_seq_length as
  mixft_max_seq_length, eval's and predict's default)
  curves.svg/png  the run's curves (see mixft plot)
  tensorboard/    TensorBoard event files, with --report-to tensorboard
  test_predictions.jsonl  with --test-file: the final model's predictions

Your own data instead of a GLUE task: --train-file and --validation-file
(.csv, .tsv, .jsonl or .json; --data-format overrides the extension), and
optionally --test-file (labels optional; predicted at the end), with
--text-columns a[,b] (default: sentence1,sentence2 when present, else the
first one or two text columns other than the label), --label-column
(default label), --labels x,y,z (default: the train file's labels, sorted)
and --problem classification|regression|auto (auto: regression when every
train label is a number). The run's summary says what was chosen; the
checkpoints carry id2label and the problem type.

Fewer copies (the Trainer's names): --save-total-limit 1 keeps last/ alone
(best/ is not written, as with --save-best=false; the best score stays in
metrics.json); 0 (default) and 2 or more keep both, mixft's most.
--save-only-model keeps last/ without optimizer.safetensors (the Adam
moments, twice the weights' size), so an interrupted run cannot resume
exactly: --resume refuses it (start afresh with --overwrite) and a sweep
starts it again. A tiny BERT's run directory keeps 68 MB by default, 51 MB
with --save-total-limit 1, 35 MB with --save-only-model, 18 MB with both;
a BERT-large run about 5.4 GB, 4.0, 2.7 and 1.3 GB.

Regularizers (the mixout paper's notation), combinable:
  --dropout P                   dropout(P) on every dropout of the model
  --weight-decay L              wdecay(0, L); with --weight-decay-target
                                pretrained: wdecay(w_pre, L)
  --mixout P                    mixout(w_pre, P) on every pretrained Linear
                                (query, key, value, attention output,
                                intermediate, output, pooler); the encoder's
                                dropouts then default to 0
  --output-layer mixout         mixout(w_0, P) on the new classifier too
  --strategy NAME               a preset: dropout, wdecay-pre, mixout,
                                mixout-wdecay-pre (explicit flags override it)

Mixout's gradient: --mixout-grad exact (default) is the true derivative
M/(1-p) ⊙ dL/dW~; reference is the mixout authors' code, M ⊙ dL/dW~, which
scales the gradient of kept columns by (1-p) relative to the true one (with
Adam this mostly cancels, except through epsilon and gradient clipping).

The run starts by printing what it will do: examples, steps and epochs,
batch and gradient accumulation, device, the strategy and each regularizer
with its resolved value and where it came from ("classifier 0.1 (the
checkpoint's hidden_dropout_prob)", "hidden 0 (mixout replaces it)"). Progress
goes to stderr: a bar on a terminal, else a line every --logging-steps steps
(default: about 20 lines a run) and at least one every 10 seconds (the last
step and how long ago it was done, while a long step or evaluation runs),
and each evaluation with its dev metric and dev loss. At the end it prints the dev scores and the final summary (runtime,
samples/s, steps/s, mean training loss), also saved as all_results.json.

SIGINT or SIGTERM saves last/ and exits with status 3; --resume continues the
run bit for bit. --resume takes every setting not given from the run's own
<output-dir>/config.yaml as requested (its requested: block over the
resolved values), so --output-dir X --resume is enough; a setting given that
differs from the run's is refused (output_dir, threads, device and
logging_steps may change; model, data_dir and your data files count as
equal when they name the same directory or file). A diverged run exits with
status 4; other errors with 1.
A checkpoint is replaced through last.tmp/ and last.old/, so a kill at any
moment leaves a complete one; the next finetune in the directory repairs an
interrupted save. One process at a time writes a run directory (a lock on
<output-dir>/.mixft.lock): a second one exits at once naming the holder.
A run's config.yaml works as --config: its requested: block stands for the
resolved values above it, so the file gives the settings the run was
started with (see the example with --seed 4); its resume and overwrite are
left out.

The Hugging Face TrainingArguments names are accepted for the settings they
match, as YAML keys, MIXFT_* variables and (unlisted) flags: learning_rate
(--learning-rate) for lr, num_train_epochs for epochs,
per_device_train_batch_size for batch_size (mixft's batch is per optimizer
step), per_device_eval_batch_size for eval_batch_size,
gradient_accumulation_steps for grad_accum_steps, adam_epsilon for
adam_eps, and run_glue's task_name, model_name_or_path and
overwrite_output_dir; a flag may use "_" for "-" (--learning_rate,
--max_seq_length) as run_glue spells it. See the table in README.md
("Hugging Face names"). config.yaml records the mixft names. A setting
given twice (two flags, whichever names, or a name and its alias in one
file) is an error.

--manifest FILE --index N runs line N of a sweep manifest (mixft sweep plan):
every setting comes from that line, the run is written to
<--output-dir, default the manifest's directory>/<run id>, and is resumed
when it was interrupted, skipped (exit 0) when it finished, and exits 4 when
it diverged before. The index may also come from SLURM_ARRAY_TASK_ID or
JOB_COMPLETION_INDEX (Slurm job arrays, Kubernetes Indexed Jobs). Only
--output-dir, --threads, --device, --resume and --overwrite may be given
with it.`,
		Example: `  mixft finetune --task rte --model bert-large-uncased --data-dir glue_data/RTE --output-dir runs/rte-mixout --mixout 0.7
  mixft finetune --task rte --model microsoft/deberta-v3-base --data-dir glue_data/RTE --output-dir runs/rte-deberta --mixout 0.7
  mixft finetune --task rte --model xlm-roberta-base --data-dir glue_data/RTE --output-dir runs/rte-xlmr --mixout 0.7
  mixft finetune --task rte --model albert-base-v2 --data-dir glue_data/RTE --output-dir runs/rte-albert --mixout 0.7
  mixft finetune --config configs/rte/mixout.yaml --model bert-large-uncased --data-dir glue_data/RTE --output-dir runs/rte --seed 3
  mixft finetune --config configs/rte/mixout.yaml --output-dir runs/rte --resume
  mixft finetune --output-dir runs/rte-mixout --resume
  mixft finetune --config runs/rte-mixout/config.yaml --output-dir runs/rte-mixout-s4 --seed 4
  mixft finetune --manifest runs/fig3/manifest.jsonl --index 7
  mixft finetune --task rte --model bert-base-uncased --data-dir glue_data/RTE --output-dir runs/rte --learning-rate 3e-5 --num-train-epochs 3
  mixft finetune --task rte --model bert-base-uncased --data-dir glue_data/RTE --output-dir runs/rte --logging-steps 50
  mixft finetune --task rte --model bert-large-uncased --data-dir glue_data/RTE --output-dir runs/rte --save-total-limit 1 --save-only-model
  mixft finetune --task rte --model bert-base-uncased --data-dir glue_data/RTE --output-dir runs/rte-bf16 --mixout 0.7 --precision bf16
  mixft finetune --model bert-base-uncased --train-file reviews/train.csv --validation-file reviews/dev.csv --text-columns review --output-dir runs/reviews --report-to tensorboard
  mixft finetune --model answerdotai/ModernBERT-base --train-file contracts/train.csv --validation-file contracts/dev.csv --text-columns text --max-seq-length 8192 --batch-size 1 --mixout 0.7 --output-dir runs/contracts`,
		Args: cobra.NoArgs,
		RunE: runE(o, runF),
	}
	f := cmd.Flags()
	for _, fd := range config.Fields() {
		name := flagName(fd.Key)
		switch p := o.run.Ptr(fd.Key).(type) {
		case *string:
			f.StringVar(p, name, *p, fd.Help)
		case *int:
			f.IntVar(p, name, *p, fd.Help)
		case *uint64:
			f.Uint64Var(p, name, *p, fd.Help)
		case *float64:
			f.Float64Var(p, name, *p, fd.Help)
		case *bool:
			f.BoolVar(p, name, *p, fd.Help)
		}
	}
	f.StringVar(&o.manifest, manifestFlag, "", "run line --index of this sweep manifest (mixft sweep plan) into <--output-dir>/<run id>")
	f.IntVar(&o.index, indexFlag, -1, "the manifest line to run, from 0 (default: $SLURM_ARRAY_TASK_ID, else $JOB_COMPLETION_INDEX)")
	bindSettings(cmd)
	return cmd
}

// runConfig is the run's configuration from the settings given
// (config.Resolve: the strategy preset fills what was not given),
// validated once, before the model is looked up (the one Validate of a
// run: train.New takes it as it is), with the model name resolved and the
// default max_seq_length fitted to the model (lowered, never below the 3
// Validate asks for). With --resume, the run's own settings
// (output_dir/config.yaml, rundir.ResumeDefaults) stand for every setting
// not given.
func (o *finetuneOptions) runConfig() (config.Run, error) {
	s, given := o.settings, map[string]any{}
	for k, v := range o.run.Map() {
		if s.isSet(k) {
			given[k] = v
		}
	}
	if o.run.Resume && o.run.OutputDir != "" {
		saved, err := rundir.ResumeDefaults(o.run.OutputDir)
		if err != nil {
			return o.run, err
		}
		if saved == nil && !s.isSet("model") {
			return o.run, fmt.Errorf("resume: %s holds no settings (config.yaml): the run was stopped before it wrote them; give them again", o.run.OutputDir)
		}
		for k, v := range saved {
			if _, ok := given[k]; !ok {
				given[k] = v
			}
		}
	}
	cfg, err := config.Resolve(given)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return cfg, s.fieldError(err)
	}
	// A model name (bert-large-uncased) resolves through the Hugging Face cache.
	if cfg.Model, err = hub.ResolveModel(cfg.Model, o.warn); err != nil {
		return cfg, err
	}
	if _, ok := given["max_seq_length"]; !ok {
		// The default fits the model, as a tokenizer's model_max_length does.
		if mc, err := model.ReadConfig(filepath.Join(cfg.Model, model.ConfigFile)); err == nil && mc.MaxSeqLen() >= 3 {
			cfg.MaxSeqLength = min(cfg.MaxSeqLength, mc.MaxSeqLen())
		}
	}
	return cfg, nil
}

// manifestConfig is the run's configuration in manifest mode: line
// --index of --manifest, written to <--output-dir, default the manifest's
// directory>/<id>, resumed or started afresh as its directory requires
// (schedule.PrepareLine); skip reports a finished run.
func (o *finetuneOptions) manifestConfig() (cfg config.Run, skip bool, err error) {
	s := o.settings
	if s.file != "" {
		return cfg, false, fmt.Errorf("--config %s: not allowed with --manifest (the run's settings come from the manifest)", s.file)
	}
	local, values := map[string]any{}, o.run.Map()
	for _, fd := range config.Fields() {
		switch k := fd.Key; {
		case !s.isSet(k):
		case !slices.Contains(sweep.Unhashed, k):
			return cfg, false, fmt.Errorf("%s: not allowed with --manifest (the run's settings come from the manifest; change the sweep file and plan it again)", s.source(k))
		case k != "output_dir":
			local[k] = values[k]
		}
	}
	index, err := o.manifestIndex()
	if err != nil {
		return cfg, false, err
	}
	out := ""
	if s.isSet("output_dir") {
		out = o.run.OutputDir
	}
	lr, err := schedule.PrepareLine(o.manifest, index, out, local)
	var fe *config.FieldError
	if errors.As(err, &fe) && !s.isSet(fe.Key) {
		fe.Source = fmt.Sprintf("manifest %s line %d", o.manifest, index)
	}
	if err != nil {
		return cfg, false, s.fieldError(err)
	}
	cfg = lr.Run.Config
	what := fmt.Sprintf("manifest %s line %d: run %s (%s)", o.manifest, index, lr.Run.ID, sweep.Describe(cfg))
	switch lr.Decision {
	case sweep.Skip:
		fmt.Fprintf(o.stdout, "%s: already finished in %s\n", what, cfg.OutputDir)
		return cfg, true, nil
	case sweep.Refuse:
		return cfg, false, &exitError{exitcode.Diverged, fmt.Errorf("%s: diverged in an earlier attempt (%s); a failed run is not retried", what, filepath.Join(cfg.OutputDir, rundir.MetricsFile))}
	}
	fmt.Fprintf(o.stderr, "mixft: %s: %s in %s\n", what, lr.Decision, cfg.OutputDir)
	// A model name (bert-large-uncased) resolves through the Hugging Face cache.
	cfg.Model, err = hub.ResolveModel(cfg.Model, o.warn)
	return cfg, false, err
}

// manifestIndex is --index, else the index a cluster sets
// (sweep.IndexFromEnv).
func (o *finetuneOptions) manifestIndex() (int, error) {
	if o.settings.isSet("index") {
		if o.index < 0 {
			return 0, o.settings.bad("index", o.index, "a manifest line (0 or more)")
		}
		return o.index, nil
	}
	i, ok, err := sweep.IndexFromEnv(os.LookupEnv)
	if err == nil && !ok {
		err = fmt.Errorf("--manifest needs --index N (or %s)", strings.Join(sweep.IndexEnv, ", or "))
	}
	return i, err
}

// runFinetune trains the run the settings (or the manifest line) describe.
func runFinetune(o *finetuneOptions) error {
	var cfg config.Run
	var err error
	if o.manifest != "" {
		var skip bool
		if cfg, skip, err = o.manifestConfig(); skip {
			return nil
		}
	} else {
		cfg, err = o.runConfig()
	}
	if err != nil {
		return err
	}
	be, err := newBackend(cfg.Device, cfg.Threads, cfg.Precision)
	if err != nil {
		return err
	}
	stderr, stdout := o.stderr, o.stdout
	rep := newReporter(stderr, cfg.LoggingSteps)
	tn, err := train.New(cfg, train.Options{
		Backend: be,
		OnStep:  rep.step,
		OnLog:   rep.log,
		OnEval:  rep.eval,
		Warn:    o.warn,
	})
	if err != nil {
		return err
	}
	if c := tn.Task().Custom; c != nil {
		fmt.Fprintf(stdout, "data: %s\n", c.Choice)
	}
	fmt.Fprintf(stdout, "finetuning %s into %s\n%s", tn.Title(), cfg.OutputDir, tn.StartSummary())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := tn.Run(ctx)
	rep.finish()
	if r, perr := curves.Read(cfg.OutputDir); perr == nil {
		if _, perr = r.Write(cfg.OutputDir); perr != nil {
			fmt.Fprintf(stderr, "mixft: warning: %v\n", perr)
		}
	}
	switch {
	case errors.Is(err, train.ErrInterrupted):
		return &exitError{exitcode.Interrupted, fmt.Errorf("%s: %w", cfg.OutputDir, err)}
	case errors.Is(err, train.ErrDiverged):
		return &exitError{exitcode.Diverged, fmt.Errorf("%s: %w; see metrics.json", cfg.OutputDir, err)}
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "finished %s: %d steps, run directory %s\n  regularization: %s\n", tn.Title(), tn.State().Step, res.Dir, tn.Regularization())
	printEval(stdout, "final", res.Final)
	printEval(stdout, "best", res.Best)
	verdict := "no"
	if res.Failed {
		verdict = "yes (at or below the majority-class baseline)"
	}
	fmt.Fprintf(stdout, "  failed run: %s; majority-class baseline %.4f\n", verdict, res.Baseline)
	printSummary(stdout, res.Summary, filepath.Join(res.Dir, rundir.ResultsFile))
	return nil
}

// printSummary writes the final summary (all_results.json) in words.
func printSummary(w io.Writer, s rundir.Summary, path string) {
	num := func(k string) float64 {
		if v, ok := s[k]; ok {
			return float64(v)
		}
		return math.NaN()
	}
	fmt.Fprintf(w, "  training: %.4g epochs in %s (%.1f samples/s, %.2f steps/s); mean train loss %.4f\n",
		num("epoch"), time.Duration(num("train_runtime")*float64(time.Second)).Round(time.Millisecond), num("train_samples_per_second"),
		num("train_steps_per_second"), num("train_loss"))
	fmt.Fprintf(w, "  summary with Hugging Face's keys: %s\n", path)
}

func printEval(w io.Writer, what string, ev *rundir.Eval) {
	if ev == nil {
		return
	}
	names := make([]string, 0, len(ev.Metrics))
	for k := range ev.Metrics {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "  %-5s (step %d):", what, ev.Step)
	for _, k := range names {
		name := k
		if k == "loss" {
			name = "dev loss"
		}
		fmt.Fprintf(w, " %s %.4f", name, ev.Metrics[k])
	}
	fmt.Fprintln(w)
}

// reporter shows training progress: a bar on a terminal, plain lines
// otherwise (every logging_steps steps, or without it about 20 per run;
// every evaluation; and while a step or an evaluation runs, one at least
// every progressEvery).
type reporter struct {
	w   io.Writer
	bar *progressbar.ProgressBar
	tty bool
	// every is logging_steps (0: about 20 lines a run).
	every int
	// mu guards what the heartbeat reads: the fields below.
	mu sync.Mutex
	// first is the first step seen (a resumed run starts late) and when;
	// rates count from there. last is the last line's time, latest the
	// last step seen and stepAt when. stopBeat ends the heartbeat (plain
	// lines only, from the first step on).
	first               int
	began, last, stepAt time.Time
	latest              rundir.StepInfo
	stopBeat            func()
}

func newReporter(w io.Writer, loggingSteps int) *reporter {
	f, ok := w.(*os.File)
	return &reporter{w: w, tty: ok && term.IsTerminal(int(f.Fd())), every: loggingSteps}
}

// still is the heartbeat's line: the last step and how long ago it was
// done, when no line came for progressEvery ("" otherwise, or before the
// first step).
func (r *reporter) still() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.began.IsZero() || now.Sub(r.last) < progressEvery {
		return ""
	}
	r.last = now
	return fmt.Sprintf("step %d/%d done %s ago; working (a step or an evaluation)", r.latest.Step, r.latest.Total, now.Sub(r.stepAt).Truncate(time.Second))
}

// step records a step for the heartbeat and moves the bar.
func (r *reporter) step(s rundir.StepInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.began.IsZero() {
		r.first, r.began, r.last = s.Step, now, now
		if !r.tty {
			r.stopBeat = heartbeat(r.w, progressEvery, r.still)
		}
	}
	r.latest, r.stepAt = s, now
	perSec, hasRate := rate(r.first, s.Step, r.began, now)
	if r.tty {
		if r.bar == nil {
			r.bar = progressbar.NewOptions(s.Total, progressbar.OptionSetWriter(r.w), progressbar.OptionShowCount(),
				progressbar.OptionClearOnFinish())
		}
		desc := fmt.Sprintf("epoch %.2f loss %.4f", s.Epoch, float64(s.Loss))
		if hasRate { // a rate needs two steps
			desc += fmt.Sprintf(", %.2f steps/s", perSec)
		}
		r.bar.Describe(desc)
		r.bar.Set(s.Step)
	}
}

// log prints a line of log.jsonl (all of them with logging_steps, else
// about 20 a run) when there is no bar.
func (r *reporter) log(s rundir.StepInfo) {
	if r.tty {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if every := max(1, s.Total/20); r.every > 0 || s.Step%every == 0 || s.Step == s.Total || s.Step == r.first || now.Sub(r.last) >= progressEvery {
		r.last = now
		fmt.Fprintf(r.w, "step %d/%d epoch %.2f loss %.4f lr %.3g grad_norm %.3f %.1f ex/s\n",
			s.Step, s.Total, s.Epoch, float64(s.Loss), s.LR, float64(s.GradNorm), s.ExamplesPerSec)
	}
}

func (r *reporter) eval(ev rundir.Eval) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = time.Now()
	if r.bar != nil {
		r.bar.Clear()
	}
	name, v := rundir.PrimaryMetric(ev.Metrics)
	fmt.Fprintf(r.w, "eval at step %d (epoch %.2f): %s %.4f, dev loss %.4f\n", ev.Step, ev.Epoch, name, v, ev.Metrics["loss"])
}

func (r *reporter) finish() {
	if r.stopBeat != nil {
		r.stopBeat()
	}
	if r.bar != nil {
		r.bar.Finish()
	}
}
