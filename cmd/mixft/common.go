package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/exitcode"
	"github.com/mixft/mixft/internal/hub"
	"github.com/mixft/mixft/internal/infer"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/rundir"
)

// modelOptions are the settings of every command that runs a model.
type modelOptions struct {
	model, task             string
	maxSeqLength, batchSize int
	doLowerCase, device     string
	precision               string
	threads                 int
	seed                    uint64
	// Your own data (no task): its columns, labels, problem and format.
	textColumns, labelColumn, labels, problem, dataFormat string
}

// ownData reports whether o names no GLUE task: the data is the user's
// own files.
func (o *modelOptions) ownData() bool { return o.task == "" || o.task == data.CustomTaskName }

// addModelFlags registers the model settings on cmd, bound
// to o.
func addModelFlags(cmd *cobra.Command, o *modelOptions) {
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "Hugging Face model directory (config.json, model.safetensors, and vocab.txt, vocab.json + merges.txt or tokenizer.json)")
	f.StringVar(&o.task, "task", "", "GLUE task: "+fmt.Sprint(data.TaskNames())+"; empty (or custom) for your own data files")
	f.StringVar(&o.textColumns, "text-columns", "", "your data's text column, or two comma-separated (default: sentence1,sentence2 if present, else the first one or two text columns other than the label)")
	f.StringVar(&o.labelColumn, "label-column", data.DefaultLabelColumn, "your data's label column")
	f.StringVar(&o.labels, "labels", "", "your data's labels, comma-separated, in class-id order (default: the model's id2label)")
	f.StringVar(&o.problem, "problem", "", "your data's problem: classification or regression (default: the model's problem_type)")
	f.StringVar(&o.dataFormat, "data-format", "", "format of your data file: csv, tsv, jsonl or json (default: from the extension)")
	f.IntVar(&o.maxSeqLength, "max-seq-length", 128, "maximum tokens per example, special tokens ([CLS]/[SEP], <s>/</s>) included; not given: the length the model was finetuned with (recorded in its config.json as "+model.FinetunedMaxSeqKey+"), else 128 (at most the model's max_position_embeddings)")
	f.IntVar(&o.batchSize, "batch-size", 32, "examples per forward pass")
	f.StringVar(&o.doLowerCase, "do-lower-case", "auto", "lower-case text: auto (tokenizer_config.json, else the model name), true or false")
	f.StringVar(&o.device, "device", "cpu", "compute device: cpu (cuda:N needs a build with -tags cuda)")
	f.StringVar(&o.precision, "precision", "fp32", precisionHelp)
	f.IntVar(&o.threads, "threads", 0, "CPU worker goroutines (0: GOMAXPROCS)")
	f.Uint64Var(&o.seed, "seed", 42, "seed for parameters the checkpoint lacks (a fresh classifier)")
}

// modelRun is a model, its tokenizer and a task, ready to predict.
type modelRun struct {
	task      *data.Task
	predictor *infer.Predictor
	ck        *model.Checkpoint
}

// openModel loads the model o names; s tells which settings were given,
// and warnings go to stderr. For the user's own data (no task), files maps
// the split ("dev" or "test") to the data file; the labels and the problem
// type come from the model unless given.
func openModel(o *modelOptions, s *settings, stderr io.Writer, files map[string]string) (*modelRun, error) {
	if err := s.require("model", o.model); err != nil {
		return nil, err
	}
	if err := s.choice("do_lower_case", o.doLowerCase, "auto", "true", "false"); err != nil {
		return nil, err
	}
	if err := s.choice("precision", o.precision, "fp32", "bf16", "tf32"); err != nil {
		return nil, err
	}
	be, err := newBackend(o.device, o.threads, o.precision)
	if err != nil {
		return nil, err
	}
	var task *data.Task
	if !o.ownData() {
		if task, err = data.LookupTask(o.task); err != nil {
			return nil, err
		}
	}
	dir, err := hub.ResolveModel(o.model, func(msg string) { fmt.Fprintf(stderr, "mixft: warning: %s\n", msg) })
	if err != nil {
		return nil, err
	}
	ck, err := model.Load(dir, model.LoadOptions{Seed: o.seed})
	if err != nil {
		return nil, err
	}
	if task == nil {
		spec := data.CustomSpec{Files: files, Format: o.dataFormat, TextColumns: data.ParseList(o.textColumns),
			LabelColumn: o.labelColumn, Labels: data.ParseList(o.labels), Problem: o.problem}
		if task, err = infer.CustomTask(ck.Config, spec); err != nil {
			return nil, err
		}
		if msg := task.HeadWarning(ck.Config.ID2Label); msg != "" {
			fmt.Fprintf(stderr, "mixft: warning: %s: %s\n", dir, msg)
		}
	}
	for _, name := range ck.Initialized {
		fmt.Fprintf(stderr, "mixft: warning: %s: %s is not in the checkpoint; initialised randomly (seed %d)\n", dir, name, o.seed)
	}
	tok, err := data.LoadEncoder(dir, lowerOverride(o.doLowerCase))
	if err != nil {
		return nil, err
	}
	maxLen := o.maxSeqLength
	if !s.isSet("max_seq_length") {
		// The default: the length the model was finetuned with, recorded in
		// its config.json (or, for a checkpoint of an older mixft, in the
		// run's config.yaml beside it); else one that fits the model, as a
		// tokenizer's model_max_length does.
		if n := finetunedMaxSeqLength(dir, ck.Config); n > 0 {
			maxLen = n
		}
		maxLen = min(maxLen, ck.Config.MaxSeqLen())
	}
	p, err := infer.NewPredictor(be, ck, tok, task, infer.Options{MaxSeqLen: maxLen, BatchSize: o.batchSize})
	if err != nil {
		return nil, err
	}
	return &modelRun{task: task, predictor: p, ck: ck}, nil
}

// finetunedMaxSeqLength is the max_seq_length the model in dir was
// finetuned with: config.json's record, else that of the run directory
// holding dir (its best/ or last/ checkpoint); 0 when neither says.
func finetunedMaxSeqLength(dir string, c model.Config) int {
	if n := c.FinetunedMaxSeqLen(); n > 0 {
		return n
	}
	if b := filepath.Base(filepath.Clean(dir)); b != rundir.BestDir && b != rundir.LastDir {
		return 0
	}
	_, resolved, err := config.ReadRunYAML(filepath.Join(filepath.Dir(filepath.Clean(dir)), rundir.ConfigFile))
	if err != nil {
		return 0
	}
	return resolved.MaxSeqLength
}

// progressEvery is the most time between two progress lines of a command
// whose stderr is not a terminal (a log file, a pipe).
const progressEvery = 10 * time.Second

// heartbeat writes line() (when not "") as a line on w every interval
// until stop is called, so that a command whose stderr is not a terminal
// shows it is alive even while one piece of work (a batch, a step, a
// file) takes longer than that. line is called from another goroutine.
func heartbeat(w io.Writer, every time.Duration, line func() string) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if l := line(); l != "" {
					fmt.Fprintln(w, l)
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-done }) }
}

// rate is the speed of work counted from its first report: items per
// second between the first report (first items at began) and now (done
// items); ok is false until a second report has come.
func rate(first, done int, began, now time.Time) (perSec float64, ok bool) {
	if done <= first || !now.After(began) {
		return 0, false
	}
	return float64(done-first) / now.Sub(began).Seconds(), true
}

// progress returns a progress callback for work on total examples and a
// function that ends it: a bar on w when it is a terminal (its clock
// started before the first batch, so the first rate is a real one), else a
// line every progressEvery (heartbeat), its rate counted from the first
// batch done.
func progress(w io.Writer, total int, what string) (func(int), func()) {
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		var mu sync.Mutex
		first, done, seen := 0, 0, false
		var began time.Time
		stop := heartbeat(w, progressEvery, func() string {
			mu.Lock()
			defer mu.Unlock()
			line := fmt.Sprintf("%s: %d/%d examples", what, done, total)
			if r, ok := rate(first, done, began, time.Now()); ok {
				line += fmt.Sprintf(", %.1f ex/s", r)
			}
			return line
		})
		return func(d int) {
			mu.Lock()
			defer mu.Unlock()
			if !seen {
				first, began, seen = d, time.Now(), true
			}
			done = d
		}, stop
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("ex"),
		progressbar.OptionShowIts(),
		progressbar.OptionClearOnFinish(),
	)
	bar.RenderBlank()
	return func(done int) { bar.Set(done) }, func() { bar.Finish() }
}

// withSignals returns a context that SIGINT or SIGTERM cancels, and
// interrupted, which turns the error of work stopped by one into a
// one-line error with the shell's status for that signal (130, 143) and
// leaves other errors as they are; stop ends the watch.
func withSignals(parent context.Context, what string) (ctx context.Context, interrupted func(error) error, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	var got atomic.Value
	go func() {
		select {
		case s := <-ch:
			got.Store(s)
			cancel()
		case <-ctx.Done():
		}
	}()
	interrupted = func(err error) error {
		s, ok := got.Load().(os.Signal)
		if !ok || !errors.Is(err, context.Canceled) {
			return err
		}
		name, code := "SIGINT", exitcode.SIGINT
		if s == syscall.SIGTERM {
			name, code = "SIGTERM", exitcode.SIGTERM
		}
		return &exitError{code, fmt.Errorf("%s: interrupted by %s; nothing written", what, name)}
	}
	return ctx, interrupted, func() { signal.Stop(ch); cancel() }
}

// lowerOverride is the do_lower_case setting as data.LoadEncoder takes it:
// nil for auto (the tokenizer's own files decide), else true or false.
func lowerOverride(setting string) *bool {
	if setting == "auto" {
		return nil
	}
	b := setting == "true"
	return &b
}
