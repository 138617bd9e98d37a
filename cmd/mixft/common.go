package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/hub"
	"github.com/mixft/mixft/internal/infer"
	"github.com/mixft/mixft/internal/model"
)

// addModelFlags registers the flags every command that runs a model shares.
func addModelFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("model", "", "Hugging Face model directory (config.json, model.safetensors, vocab.txt)")
	f.String("task", "", "GLUE task: "+fmt.Sprint(data.TaskNames()))
	f.Int("max-seq-length", 128, "maximum tokens per example, [CLS] and [SEP] included")
	f.Int("batch-size", 32, "examples per forward pass")
	f.String("do-lower-case", "auto", "lower-case text: auto (tokenizer_config.json, else the model name), true or false")
	f.String("device", "cpu", "compute device: cpu (cuda:N needs a build with -tags cuda)")
	f.Int("threads", 0, "CPU worker goroutines (0: GOMAXPROCS)")
	f.Uint64("seed", 42, "seed for parameters the checkpoint lacks (a fresh classifier)")
	addConfigFlag(cmd)
}

// modelRun is a model, its tokenizer and a task, ready to predict.
type modelRun struct {
	task      *data.Task
	predictor *infer.Predictor
	ck        *model.Checkpoint
}

// openModel loads what the model flags name; warnings go to stderr.
func openModel(s *settings, stderr io.Writer) (*modelRun, error) {
	dir, taskName := s.String("model"), s.String("task")
	s.Require("model", dir)
	s.Require("task", taskName)
	maxLen, batch := s.Int("max_seq_length"), s.Int("batch_size")
	lowerMode := s.Choice("do_lower_case", "auto", "true", "false")
	device := s.String("device")
	threads, seed := s.Int("threads"), s.Uint64("seed")
	if err := s.Err(); err != nil {
		return nil, err
	}
	be, err := newBackend(device, threads)
	if err != nil {
		return nil, err
	}
	task, err := data.LookupTask(taskName)
	if err != nil {
		return nil, err
	}
	if dir, err = hub.ResolveModel(dir); err != nil {
		return nil, err
	}
	ck, err := model.Load(dir, model.LoadOptions{Seed: seed})
	if err != nil {
		return nil, err
	}
	for _, name := range ck.Initialized {
		fmt.Fprintf(stderr, "mixft: warning: %s: %s is not in the checkpoint; initialised randomly (seed %d)\n", dir, name, seed)
	}
	var lower *bool
	if lowerMode != "auto" {
		b := lowerMode == "true"
		lower = &b
	}
	tok, err := data.LoadTokenizer(dir, lower)
	if err != nil {
		return nil, err
	}
	if !s.isSet("max_seq_length") {
		// The default fits the model, as a tokenizer's model_max_length does.
		maxLen = min(maxLen, ck.Config.MaxPositionEmbeddings)
	}
	p, err := infer.NewPredictor(be, ck, tok, task, infer.Options{MaxSeqLen: maxLen, BatchSize: batch})
	if err != nil {
		return nil, err
	}
	return &modelRun{task: task, predictor: p, ck: ck}, nil
}

// progressEvery is the most time between two progress lines of a command
// whose stderr is not a terminal (a log file, a pipe).
const progressEvery = 10 * time.Second

// progress returns a progress callback for work on total examples and a
// function that ends it: a bar on w when it is a terminal (its clock
// started before the first batch, so the first rate is a real one), else a
// line at most every progressEvery.
func progress(w io.Writer, total int, what string) (func(int), func()) {
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		began := time.Now()
		last := began
		return func(done int) {
			if now := time.Now(); now.Sub(last) >= progressEvery && done < total {
				last = now
				fmt.Fprintf(w, "%s: %d/%d examples, %.1f ex/s\n", what, done, total, float64(done)/now.Sub(began).Seconds())
			}
		}, func() {}
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
		name, code := "SIGINT", 130
		if s == syscall.SIGTERM {
			name, code = "SIGTERM", 143
		}
		return &exitError{code, fmt.Errorf("%s: interrupted by %s; nothing written", what, name)}
	}
	return ctx, interrupted, func() { signal.Stop(ch); cancel() }
}
