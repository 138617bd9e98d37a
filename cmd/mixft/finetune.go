package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/hub"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/train"
)

// Exit statuses of mixft finetune besides 0 (done) and 1 (error).
const (
	// exitInterrupted: SIGINT/SIGTERM; the state is saved, --resume continues.
	exitInterrupted = 3
	// exitDiverged: the loss became NaN or infinite; retrying will not help.
	exitDiverged = 4
)

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func newFinetuneCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "finetune",
		Short: "Finetune a BERT checkpoint on a GLUE task with dropout, weight decay or mixout",
		Long: `finetune trains a Hugging Face BERT checkpoint on a GLUE task's train.tsv,
evaluates on dev.tsv every epoch (or every --eval-steps), and writes the run
directory --output-dir:

  config.yaml     every resolved setting
  log.jsonl       one line per step: step, loss, lr, grad_norm, examples_per_s
  metrics.json    status (running, interrupted, finished, diverged), best dev
                  metrics, the majority-class baseline; once finished or
                  diverged, the final metrics and whether the run failed (final
                  score at or below that baseline, or a diverged loss)
  best/           the checkpoint with the best dev score (Hugging Face layout)
  last/           the latest checkpoint, saved at every evaluation: after the
                  run, the final model (Hugging Face layout, plus the
                  optimizer moments and trainer state --resume needs)

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

SIGINT or SIGTERM saves last/ and exits with status 3; --resume continues the
run bit for bit. --resume takes every setting not given from the run's own
<output-dir>/config.yaml, so --output-dir X --resume is enough; a setting
given that differs from the run's is refused (output_dir, threads and device
may change; paths count as equal when they name the same directory). A diverged run exits with status 4; other errors with 1.
A checkpoint is replaced through last.tmp/ and last.old/, so a kill at any
moment leaves a complete one; the next finetune in the directory repairs an
interrupted save. One process at a time writes a run directory (a lock on
<output-dir>/.mixft.lock): a second one exits at once naming the holder.

--manifest FILE --index N runs line N of a sweep manifest (mixft sweep plan):
every setting comes from that line, the run is written to
<--output-dir, default the manifest's directory>/<run id>, and is resumed
when it was interrupted, skipped (exit 0) when it finished, and exits 4 when
it diverged before. The index may also come from SLURM_ARRAY_TASK_ID or
JOB_COMPLETION_INDEX (Slurm job arrays, Kubernetes Indexed Jobs). Only
--output-dir, --threads, --device, --resume and --overwrite may be given
with it.`,
		Example: `  mixft finetune --task rte --model bert-large-uncased --data-dir glue_data/RTE --output-dir runs/rte-mixout --mixout 0.7
  mixft finetune --config configs/rte/mixout.yaml --model bert-large-uncased --data-dir glue_data/RTE --output-dir runs/rte --seed 3
  mixft finetune --config configs/rte/mixout.yaml --output-dir runs/rte --resume
  mixft finetune --output-dir runs/rte-mixout --resume
  mixft finetune --manifest runs/fig3/manifest.jsonl --index 7`,
		Args: cobra.NoArgs,
		RunE: runFinetune,
	}
	f := cmd.Flags()
	for _, fd := range config.Fields() {
		name := flagName(fd.Key)
		switch v := fd.Default.(type) {
		case string:
			f.String(name, v, fd.Help)
		case int:
			f.Int(name, v, fd.Help)
		case uint64:
			f.Uint64(name, v, fd.Help)
		case float64:
			f.Float64(name, v, fd.Help)
		case bool:
			f.Bool(name, v, fd.Help)
		}
	}
	addConfigFlag(cmd)
	addManifestFlags(cmd)
	return cmd
}

// runConfig reads every finetune setting, applies the strategy preset and
// validates the result.
func runConfig(s *settings) (config.Run, error) {
	cfg := config.Default()
	// --resume: the run's own settings (output_dir/config.yaml) come below flags, env and --config.
	var saved map[string]any
	if s.Bool("resume") && s.String("output_dir") != "" {
		var err error
		if saved, err = train.ResumeDefaults(s.String("output_dir")); err != nil {
			return cfg, err
		}
		if saved == nil && !s.isSet("model") {
			return cfg, fmt.Errorf("resume: %s holds no settings (config.yaml): the run was stopped before it wrote them; give them again", s.String("output_dir"))
		}
	}
	isSet := func(k string) bool { _, ok := saved[k]; return ok || s.isSet(k) }
	for _, fd := range config.Fields() {
		var v any
		switch fd.Kind {
		case "string":
			v = s.String(fd.Key)
		case "int":
			v = s.Int(fd.Key)
		case "uint64":
			v = s.Uint64(fd.Key)
		case "float64":
			v = s.Float64(fd.Key)
		case "bool":
			v = s.Bool(fd.Key)
		}
		if err := s.Err(); err != nil {
			return cfg, err
		}
		if sv, ok := saved[fd.Key]; ok && !s.isSet(fd.Key) {
			v = sv
		}
		if err := cfg.Set(fd.Key, v); err != nil {
			return cfg, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%s: %w", s.source(firstWord(err.Error())), err)
	}
	if err := cfg.ApplyStrategy(isSet); err != nil {
		return cfg, err
	}
	// A model name (bert-large-uncased) resolves through the Hugging Face cache.
	dir, err := hub.ResolveModel(cfg.Model)
	if err != nil {
		return cfg, err
	}
	cfg.Model = dir
	if !isSet("max_seq_length") {
		// The default fits the model, as a tokenizer's model_max_length does.
		if mc, err := model.ReadConfig(filepath.Join(cfg.Model, model.ConfigFile)); err == nil {
			cfg.MaxSeqLength = min(cfg.MaxSeqLength, mc.MaxPositionEmbeddings)
		}
	}
	return cfg, cfg.Validate()
}

// firstWord is the key a validation error starts with ("lr: ...").
func firstWord(msg string) string {
	for i, c := range msg {
		if c == ':' || c == ' ' {
			return msg[:i]
		}
	}
	return msg
}

func runFinetune(cmd *cobra.Command, _ []string) error {
	s, err := loadSettings(cmd)
	if err != nil {
		return err
	}
	var cfg config.Run
	if manifest := s.String("manifest"); manifest != "" {
		cfg, err = manifestConfig(s, manifest, cmd.OutOrStdout(), cmd.ErrOrStderr())
		if errors.Is(err, errRunDone) {
			return nil
		}
		if err == nil {
			// A model name (bert-large-uncased) resolves through the Hugging Face cache.
			cfg.Model, err = hub.ResolveModel(cfg.Model)
		}
	} else {
		cfg, err = runConfig(s)
	}
	if err != nil {
		return err
	}
	be, err := newBackend(cfg.Device, cfg.Threads)
	if err != nil {
		return err
	}
	stderr, stdout := cmd.ErrOrStderr(), cmd.OutOrStdout()
	rep := newReporter(stderr)
	tn, err := train.New(cfg, train.Options{
		Backend: be,
		OnStep:  rep.step,
		OnEval:  rep.eval,
		Warn:    func(msg string) { fmt.Fprintf(stderr, "mixft: warning: %s\n", msg) },
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := tn.Run(ctx)
	rep.finish()
	switch {
	case errors.Is(err, train.ErrInterrupted):
		return &exitError{exitInterrupted, fmt.Errorf("%s: %w", cfg.OutputDir, err)}
	case errors.Is(err, train.ErrDiverged):
		return &exitError{exitDiverged, fmt.Errorf("%s: %w; see metrics.json", cfg.OutputDir, err)}
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "%s %s (%s): %d steps, run directory %s\n", cfg.Task, cfg.Strategy, tn.Regularization(), tn.State().Step, res.Dir)
	printEval(stdout, "final", res.Final)
	printEval(stdout, "best", res.Best)
	verdict := "no"
	if res.Failed {
		verdict = "yes (at or below the majority-class baseline)"
	}
	fmt.Fprintf(stdout, "  failed run: %s; majority-class baseline %.4f\n", verdict, res.Baseline)
	return nil
}

func printEval(w io.Writer, what string, ev *train.Eval) {
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
		fmt.Fprintf(w, " %s %.4f", k, ev.Metrics[k])
	}
	fmt.Fprintln(w)
}

// reporter shows training progress: a bar on a terminal, plain lines
// otherwise (about 20 per run, at least one every progressEvery, and every
// evaluation).
type reporter struct {
	w   io.Writer
	bar *progressbar.ProgressBar
	tty bool
	// first is the first step seen (a resumed run starts late) and when;
	// the bar's rate counts from there. last is the last line's time.
	first       int
	began, last time.Time
}

func newReporter(w io.Writer) *reporter {
	f, ok := w.(*os.File)
	return &reporter{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (r *reporter) step(s train.StepInfo) {
	now := time.Now()
	if r.began.IsZero() {
		r.first, r.began, r.last = s.Step, now, now
	}
	if r.tty {
		if r.bar == nil {
			r.bar = progressbar.NewOptions(s.Total, progressbar.OptionSetWriter(r.w), progressbar.OptionShowCount(),
				progressbar.OptionClearOnFinish())
		}
		desc := fmt.Sprintf("epoch %.2f loss %.4f", s.Epoch, float64(s.Loss))
		if s.Step > r.first { // a rate needs two steps
			desc += fmt.Sprintf(", %.2f steps/s", float64(s.Step-r.first)/now.Sub(r.began).Seconds())
		}
		r.bar.Describe(desc)
		r.bar.Set(s.Step)
		return
	}
	if every := max(1, s.Total/20); s.Step%every == 0 || s.Step == s.Total || s.Step == r.first || now.Sub(r.last) >= progressEvery {
		r.last = now
		fmt.Fprintf(r.w, "step %d/%d epoch %.2f loss %.4f lr %.3g grad_norm %.3f %.1f ex/s\n",
			s.Step, s.Total, s.Epoch, float64(s.Loss), s.LR, float64(s.GradNorm), s.ExamplesPerSec)
	}
}

func (r *reporter) eval(ev train.Eval) {
	if r.bar != nil {
		r.bar.Clear()
	}
	fmt.Fprintf(r.w, "eval at step %d (epoch %.2f): primary %.4f\n", ev.Step, ev.Epoch, float64(ev.Primary))
}

func (r *reporter) finish() {
	if r.bar != nil {
		r.bar.Finish()
	}
}
