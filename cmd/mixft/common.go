package main

import (
	"fmt"
	"io"
	"os"

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
	tok, err := data.LoadEncoder(dir, lower)
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

// progress returns a progress callback drawing a bar on stderr when it is a
// terminal, and a function that finishes the bar.
func progress(total int, what string) (func(int), func()) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil, func() {}
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("ex"),
		progressbar.OptionShowIts(),
		progressbar.OptionClearOnFinish(),
	)
	return func(done int) { bar.Set(done) }, func() { bar.Finish() }
}
