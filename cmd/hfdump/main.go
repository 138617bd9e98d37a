// Command hfdump writes what mixft computes on a real checkpoint, for
// scripts/hf/hf_check.py to compare with Hugging Face's transformers on the
// same inputs (`make hf-check`). Its subcommands:
//
//	hfdump tokenize -model DIR -glue GLUE -out FILE.jsonl
//	    every dev example of every GLUE task found under GLUE, encoded as
//	    finetune encodes it (max length 128)
//	hfdump forward -model DIR -glue GLUE -task rte -n 64 -out DIR
//	    the last hidden state and the pooled output of the first n dev
//	    examples, in one padded batch (eval mode)
//	hfdump train -model DIR -glue GLUE -task rte -steps 20 -batch 8 -out DIR
//	    the checkpoint with a new task head saved as out/init, then steps
//	    optimizer steps of mixft's training step (train.Step: AdamW, linear
//	    warmup, clipping) with every dropout 0 on the first steps×batch
//	    training examples; the loss of each step, and the weights after
//	    them saved as out/final
//	hfdump logits -model DIR -glue GLUE -task rte -n 64 -out DIR
//	    the logits of the first n dev examples (eval mode)
//
// Float outputs are little-endian float32 files; their shapes and the token
// ids are in a JSON file beside them.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/infer"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/train"
)

const maxSeqLen = 128

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// opts are the flags every subcommand shares.
type opts struct {
	model, glue, task, out string
	n, steps, batch        int
	lr                     float64
	warmup                 int
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: hfdump tokenize|forward|train|logits -model DIR -glue GLUE -out PATH [-task rte -n 64 -steps 20 -batch 8]")
		return 2
	}
	fs := flag.NewFlagSet("hfdump "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o opts
	fs.StringVar(&o.model, "model", "", "model directory")
	fs.StringVar(&o.glue, "glue", "../shared/glue", "GLUE data directory")
	fs.StringVar(&o.task, "task", "rte", "GLUE task")
	fs.StringVar(&o.out, "out", "", "output file or directory")
	fs.IntVar(&o.n, "n", 64, "dev examples")
	fs.IntVar(&o.steps, "steps", 20, "optimizer steps")
	fs.IntVar(&o.batch, "batch", 8, "examples per step")
	fs.Float64Var(&o.lr, "lr", 1e-4, "peak learning rate")
	fs.IntVar(&o.warmup, "warmup", 2, "linear warmup steps")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if o.model == "" || o.out == "" {
		fmt.Fprintln(stderr, "hfdump: -model and -out are required")
		return 2
	}
	var err error
	switch args[0] {
	case "tokenize":
		err = tokenize(o)
	case "forward":
		err = forward(o)
	case "train":
		err = trainSteps(o, stdout)
	case "logits":
		err = logits(o)
	default:
		err = fmt.Errorf("unknown subcommand %q", args[0])
	}
	if err != nil {
		fmt.Fprintln(stderr, "hfdump:", err)
		return 1
	}
	return 0
}

// encoded is one example as the JSON files record it.
type encoded struct {
	Task          string  `json:"task,omitempty"`
	Index         string  `json:"index,omitempty"`
	TextA         string  `json:"a"`
	TextB         *string `json:"b"`
	InputIDs      []int32 `json:"input_ids"`
	TokenTypeIDs  []int32 `json:"token_type_ids"`
	AttentionMask []int32 `json:"attention_mask"`
}

func encode(tok data.Encoder, task string, ex data.Example) encoded {
	e := tok.EncodePair(ex.TextA, ex.TextB, maxSeqLen)
	r := encoded{Task: task, Index: ex.Index, TextA: ex.TextA, InputIDs: e.InputIDs, TokenTypeIDs: e.TokenTypeIDs, AttentionMask: e.AttentionMask}
	if ex.TextB != "" {
		b := ex.TextB
		r.TextB = &b
	}
	return r
}

// tokenize writes every dev example of every task found under o.glue.
func tokenize(o opts) error {
	tok, err := data.LoadEncoder(o.model, nil)
	if err != nil {
		return err
	}
	var lines []byte
	found := 0
	for _, name := range data.TaskNames() {
		task, err := data.LookupTask(name)
		if err != nil {
			return err
		}
		path, err := task.SplitPath(filepath.Join(o.glue, task.Dir), "dev")
		if err != nil {
			continue
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		exs, _, err := task.ReadFile(path, "dev")
		if err != nil {
			return err
		}
		found++
		for _, ex := range exs {
			b, err := json.Marshal(encode(tok, name, ex))
			if err != nil {
				return err
			}
			lines = append(append(lines, b...), '\n')
		}
	}
	if found == 0 {
		return fmt.Errorf("%s: no GLUE dev set found", o.glue)
	}
	return atomicfile.WriteFile(o.out, lines, 0o644)
}

// examples reads the first n examples of a split of o.task.
func examples(o opts, split string, n int) (*data.Task, []data.Example, error) {
	task, err := data.LookupTask(o.task)
	if err != nil {
		return nil, nil, err
	}
	exs, _, err := task.ReadSplit(filepath.Join(o.glue, task.Dir), split)
	if err != nil {
		return nil, nil, err
	}
	if len(exs) < n {
		return nil, nil, fmt.Errorf("%s %s: %d examples, fewer than %d", o.task, split, len(exs), n)
	}
	return task, exs[:n], nil
}

// batchOf encodes and pads examples to their longest.
func batchOf(tok data.Encoder, exs []data.Example) (*model.Batch, []encoded) {
	encs := make([]data.Encoding, len(exs))
	recs := make([]encoded, len(exs))
	for i, ex := range exs {
		encs[i] = tok.EncodePair(ex.TextA, ex.TextB, maxSeqLen)
		recs[i] = encode(tok, "", ex)
	}
	var b model.Batch
	infer.Collate(&b, encs, tok.PadID())
	return &b, recs
}

func newModel(dir string, opt model.LoadOptions) (*model.Checkpoint, *model.Model, error) {
	ck, err := model.Load(dir, opt)
	if err != nil {
		return nil, nil, err
	}
	m, err := model.New(cpu.New(runtime.GOMAXPROCS(0)), ck.Config, ck.Weights)
	return ck, m, err
}

// forward writes the last hidden state and pooled output of n dev examples.
func forward(o opts) error {
	tok, err := data.LoadEncoder(o.model, nil)
	if err != nil {
		return err
	}
	_, exs, err := examples(o, "dev", o.n)
	if err != nil {
		return err
	}
	ck, m, err := newModel(o.model, model.LoadOptions{})
	if err != nil {
		return err
	}
	b, recs := batchOf(tok, exs)
	a := m.NewActivations(b.Size, b.Seq)
	m.Forward(b, a)
	h := m.Config.HiddenSize
	hidden := make([]float32, b.Size*b.Seq*h)
	m.Backend.Download(hidden, a.Sequence())
	pooled := make([]float32, b.Size*h)
	m.Backend.Download(pooled, a.Pooled)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	meta := map[string]any{"batch": b.Size, "seq": b.Seq, "hidden": h, "examples": recs, "initialized": ck.Initialized, "ignored": ck.Ignored}
	if err := writeFloats(filepath.Join(o.out, "hidden.f32"), hidden); err != nil {
		return err
	}
	if err := writeFloats(filepath.Join(o.out, "pooled.f32"), pooled); err != nil {
		return err
	}
	return writeJSON(filepath.Join(o.out, "forward.json"), meta)
}

// logits writes the logits of n dev examples of a classification checkpoint.
func logits(o opts) error {
	tok, err := data.LoadEncoder(o.model, nil)
	if err != nil {
		return err
	}
	_, exs, err := examples(o, "dev", o.n)
	if err != nil {
		return err
	}
	ck, m, err := newModel(o.model, model.LoadOptions{})
	if err != nil {
		return err
	}
	if len(ck.Initialized) > 0 {
		return fmt.Errorf("%s: not a classification checkpoint (%v initialised)", o.model, ck.Initialized)
	}
	b, recs := batchOf(tok, exs)
	a := m.NewActivations(b.Size, b.Seq)
	m.Forward(b, a)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if err := writeFloats(filepath.Join(o.out, "logits.f32"), m.Logits(a, b.Size)); err != nil {
		return err
	}
	return writeJSON(filepath.Join(o.out, "logits.json"), map[string]any{"batch": b.Size, "labels": m.Config.NumLabels, "examples": recs})
}

// trainSteps runs o.steps steps of train.Step with every dropout 0.
func trainSteps(o opts, stdout io.Writer) error {
	tok, err := data.LoadEncoder(o.model, nil)
	if err != nil {
		return err
	}
	task, exs, err := examples(o, "train", o.steps*o.batch)
	if err != nil {
		return err
	}
	cfg := config.Default()
	cfg.Dropout, cfg.HiddenDropout, cfg.AttentionDropout, cfg.ClassifierDropout = 0, 0, 0, 0
	cfg.MaxSeqLength = maxSeqLen
	ck, err := model.Load(o.model, model.LoadOptions{Seed: cfg.Seed, Labels: task.Labels})
	if err != nil {
		return err
	}
	pre := model.Weights{}
	for k, v := range ck.Weights {
		pre[k] = v
	}
	for _, name := range ck.Initialized {
		delete(pre, name)
	}
	lower := tok.DoLowerCase()
	save := model.SaveOptions{TokenizerFiles: model.TokenizerFiles(o.model), DoLowerCase: lower}
	if err := model.Save(filepath.Join(o.out, "init"), ck.Config, ck.Weights, save); err != nil {
		return err
	}
	m, err := model.New(cpu.New(runtime.GOMAXPROCS(0)), ck.Config, ck.Weights)
	if err != nil {
		return err
	}
	st, err := train.NewStep(m, pre, cfg)
	if err != nil {
		return err
	}
	var steps []map[string]any
	for s := 0; s < o.steps; s++ {
		b, recs := batchOf(tok, exs[s*o.batch:(s+1)*o.batch])
		labels := make([]int32, len(recs))
		for i, ex := range exs[s*o.batch : (s+1)*o.batch] {
			labels[i] = int32(ex.LabelID)
		}
		lr := o.lr * train.LinearSchedule(s, o.warmup, o.steps)
		loss, norm, err := st.Run([]train.MicroBatch{{Batch: b, Labels: labels}}, uint64(s), lr)
		if err != nil {
			return err
		}
		if math.IsNaN(loss) {
			return fmt.Errorf("step %d: loss is NaN", s)
		}
		fmt.Fprintf(stdout, "hfdump train: step %d loss %.6f grad norm %.4f lr %.3g\n", s+1, loss, norm, lr)
		steps = append(steps, map[string]any{"loss": loss, "grad_norm": norm, "lr": lr, "labels": labels, "examples": recs})
	}
	if err := model.Save(filepath.Join(o.out, "final"), m.Config, m.Weights(), save); err != nil {
		return err
	}
	return writeJSON(filepath.Join(o.out, "train.json"), map[string]any{
		"steps": steps, "lr": o.lr, "warmup": o.warmup, "total": o.steps, "weight_decay": cfg.WeightDecay,
		"max_grad_norm": cfg.MaxGradNorm, "betas": []float64{cfg.Beta1, cfg.Beta2}, "eps": cfg.Eps,
	})
}

func writeFloats(path string, v []float32) error {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return atomicfile.WriteFile(path, b, 0o644)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}
