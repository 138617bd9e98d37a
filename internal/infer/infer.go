// Package infer runs a loaded model over GLUE examples: encoding, dynamic
// padding per batch, the forward pass, and the mapping of outputs to the
// task's labels and metrics. The eval and predict commands (and the trainer's
// evaluation) stand on it.
package infer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/metrics"
	"github.com/mixft/mixft/internal/model"
)

// Predictor runs one model on one task.
type Predictor struct {
	Model     *model.Model
	Tokenizer data.Encoder
	Task      *data.Task
	// MaxSeqLen caps every encoding, in tokens ([CLS] and [SEP] included).
	MaxSeqLen int
	// BatchSize is the number of examples per forward pass.
	BatchSize int
	// classOf maps the model's output id to the task's class id.
	classOf []int
}

// Options configures NewPredictor.
type Options struct {
	MaxSeqLen, BatchSize int
}

// NewPredictor checks that the checkpoint's head fits the task, uploads it
// to be and returns a predictor for it (see New).
func NewPredictor(be backend.Backend, ck *model.Checkpoint, tok data.Encoder, task *data.Task, opt Options) (*Predictor, error) {
	cfg := ck.Config
	if cfg.NumLabels != task.NumLabels() {
		return nil, fmt.Errorf("%s/config.json: the model has %d outputs, task %s needs %d (finetune the model on %s first)",
			ck.Dir, cfg.NumLabels, task.Name, task.NumLabels(), task.Name)
	}
	if _, err := task.HeadClasses(cfg.ID2Label); err != nil {
		return nil, fmt.Errorf("%s/config.json: %w (finetune the model on %s first)", ck.Dir, err, task.Name)
	}
	if n := tok.VocabSize(); n > cfg.VocabSize {
		return nil, fmt.Errorf("%s: the tokenizer has %d ids, more than the model's vocab_size %d", ck.Dir, n, cfg.VocabSize)
	}
	m, err := model.New(be, cfg, ck.Weights)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ck.Dir, err)
	}
	return New(m, tok, task, opt)
}

// CheckMaxSeqLen is the one check of a max_seq_length against a tokenizer
// and a model, for every command that encodes (finetune, eval, predict,
// tokenize): room for a pair's special tokens, and no more tokens than
// the model's position embeddings allow. cfg is nil for a folder that
// holds a tokenizer without a model (tokenize), which checks the first
// limit alone.
func CheckMaxSeqLen(maxSeqLen int, tok data.Encoder, cfg *model.Config) error {
	if n := tok.PairSpecialTokens(); maxSeqLen < n {
		return fmt.Errorf("max_seq_length %d is too small: a pair's special tokens alone take %d", maxSeqLen, n)
	}
	if cfg != nil && maxSeqLen > cfg.MaxSeqLen() {
		return fmt.Errorf("max_seq_length %d exceeds the model's longest sequence %d (max_position_embeddings %d)", maxSeqLen, cfg.MaxSeqLen(), cfg.MaxPositionEmbeddings)
	}
	return nil
}

func (opt Options) check(cfg model.Config, tok data.Encoder) error {
	if err := CheckMaxSeqLen(opt.MaxSeqLen, tok, &cfg); err != nil {
		return err
	}
	if opt.BatchSize < 1 {
		return fmt.Errorf("batch_size %d is not positive", opt.BatchSize)
	}
	return nil
}

// New returns a predictor running m (in evaluation mode) on task. The
// model's id2label decides which output is which class (Task.HeadClasses):
// by name when it names the task's labels, by position for LABEL_0, ...;
// labels of another task are an error.
func New(m *model.Model, tok data.Encoder, task *data.Task, opt Options) (*Predictor, error) {
	cfg := m.Config
	if cfg.NumLabels != task.NumLabels() {
		return nil, fmt.Errorf("the model has %d outputs, task %s needs %d", cfg.NumLabels, task.Name, task.NumLabels())
	}
	if err := opt.check(cfg, tok); err != nil {
		return nil, err
	}
	p := &Predictor{Model: m, Tokenizer: tok, Task: task, MaxSeqLen: opt.MaxSeqLen, BatchSize: opt.BatchSize}
	var err error
	if p.classOf, err = task.HeadClasses(cfg.ID2Label); err != nil {
		return nil, err
	}
	return p, nil
}

// Prediction is the model's output for one example.
type Prediction struct {
	// Index is the example's index (see data.Example).
	Index string
	// Logits are the raw outputs in the task's class order (one value, the
	// predicted score, for regression).
	Logits []float32
	// Class is the predicted class id (argmax; ties go to the lower id); -1
	// for regression.
	Class int
	// Label is the predicted label string; for regression the score as
	// written in GLUE submissions (clipped to [0, 5]), or for a custom task
	// as Task.ScoreLabel writes it (unclipped).
	Label string
	// Score is the raw predicted score for regression, NaN otherwise.
	Score float64
}

// Collate pads encodings with padID to the longest of them, as one batch
// written into b (its slices are reused, so a caller that keeps b allocates
// nothing once they are large enough). Padding gets token type 0 and
// attention mask 0.
func Collate(b *model.Batch, encs []data.Encoding, padID int32) {
	seq := 1
	for _, e := range encs {
		seq = max(seq, len(e.InputIDs))
	}
	n := len(encs) * seq
	b.Size, b.Seq = len(encs), seq
	b.InputIDs, b.TokenTypeIDs, b.AttentionMask = resize(b.InputIDs, n), resize(b.TokenTypeIDs, n), resize(b.AttentionMask, n)
	for i, e := range encs {
		ids, types, mask := b.InputIDs[i*seq:(i+1)*seq], b.TokenTypeIDs[i*seq:(i+1)*seq], b.AttentionMask[i*seq:(i+1)*seq]
		k := copy(ids, e.InputIDs)
		copy(types, e.TokenTypeIDs)
		copy(mask, e.AttentionMask)
		for j := k; j < seq; j++ {
			ids[j], types[j], mask[j] = padID, 0, 0
		}
	}
}

// resize returns s with length n, reusing its array when it is large enough.
func resize(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// Predict is PredictContext without cancellation.
func (p *Predictor) Predict(examples []data.Example, progress func(done int)) ([]Prediction, error) {
	return p.PredictContext(context.Background(), examples, progress)
}

// PredictContext runs the model over examples and returns one prediction
// per example, in order. Examples are batched by encoded length so that
// little padding is computed; padding never changes an example's outputs.
// progress, when not nil, is called with the number of examples done after
// each batch. A cancelled ctx stops it before the next batch, with ctx's
// error.
func (p *Predictor) PredictContext(ctx context.Context, examples []data.Example, progress func(done int)) ([]Prediction, error) {
	encs := make([]data.Encoding, len(examples))
	order := make([]int, len(examples))
	for i, e := range examples {
		encs[i] = p.Tokenizer.EncodePair(e.TextA, e.TextB, p.MaxSeqLen)
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(encs[a].InputIDs) - len(encs[b].InputIDs) })
	out := make([]Prediction, len(examples))
	// Activations for the largest batch these examples make (the longest
	// encodings come last), not BatchSize × MaxSeqLen: a few long
	// documents evaluated at a large batch size need no more than they fill.
	longest := 1
	for _, e := range encs {
		longest = max(longest, len(e.InputIDs))
	}
	acts := p.Model.NewForwardActivations(max(1, min(p.BatchSize, len(examples))), longest)
	defer acts.Free()
	n := p.Model.Config.NumLabels
	group := make([]data.Encoding, 0, p.BatchSize)
	for lo := 0; lo < len(order); lo += p.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx := order[lo:min(lo+p.BatchSize, len(order))]
		group = group[:0]
		for _, i := range idx {
			group = append(group, encs[i])
		}
		b := &model.Batch{}
		Collate(b, group, p.Tokenizer.PadID())
		if err := p.Model.Check(b); err != nil {
			return nil, err
		}
		p.Model.Forward(b, acts)
		logits := p.Model.Logits(acts, b.Size)
		for r, i := range idx {
			raw := logits[r*n : (r+1)*n]
			pr := Prediction{Index: examples[i].Index, Logits: make([]float32, n), Class: -1, Score: math.NaN()}
			for j, v := range raw {
				pr.Logits[p.classOf[j]] = v
			}
			if p.Task.Regression {
				pr.Score = float64(pr.Logits[0])
				pr.Label = p.Task.ScoreLabel(pr.Score)
			} else {
				pr.Class = argmax(pr.Logits)
				pr.Label = p.Task.Labels[pr.Class]
			}
			out[i] = pr
		}
		if progress != nil {
			progress(lo + len(idx))
		}
	}
	return out, nil
}

// argmax returns the first index of the largest value (NaN never wins).
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] || (v[best] != v[best] && x == x) {
			best = i
		}
	}
	return best
}

// Metrics scores predictions against the examples' labels with the task's
// GLUE metrics, named as Hugging Face evaluate names them (accuracy, f1,
// matthews_correlation, pearson, spearmanr, combined_score); a custom task
// gets metrics.Classification's or metrics.Regression's.
func Metrics(task *data.Task, examples []data.Example, preds []Prediction) (map[string]float64, error) {
	if len(examples) != len(preds) {
		return nil, fmt.Errorf("%d predictions for %d examples", len(preds), len(examples))
	}
	var cls, labels []int
	var scores, targets []float64
	for i, e := range examples {
		if !e.HasLabel {
			return nil, fmt.Errorf("line %d has no label: metrics need a labelled split (dev or train)", e.Line)
		}
		if task.Regression {
			scores, targets = append(scores, preds[i].Score), append(targets, e.Score)
		} else {
			cls, labels = append(cls, preds[i].Class), append(labels, e.LabelID)
		}
	}
	if task.Custom != nil {
		if task.Regression {
			return metrics.Regression(scores, targets)
		}
		return metrics.Classification(cls, labels, len(task.Labels))
	}
	m, err := metrics.GLUE(task.Name, cls, labels, scores, targets)
	if err != nil {
		return nil, err
	}
	return metrics.HFEvaluateNames(m), nil
}

// Loss is the mean loss of predictions on labelled examples, as training
// computes it: cross-entropy of the softmax of the logits (in float64,
// through log-sum-exp), or for regression the squared error. NaN when a
// logit is not finite.
func Loss(task *data.Task, examples []data.Example, preds []Prediction) (float64, error) {
	if len(examples) != len(preds) || len(preds) == 0 {
		return 0, fmt.Errorf("loss: %d predictions for %d examples", len(preds), len(examples))
	}
	var sum float64
	for i, e := range examples {
		if !e.HasLabel {
			return 0, fmt.Errorf("line %d has no label: the loss needs a labelled split", e.Line)
		}
		row := preds[i].Logits
		if task.Regression {
			d := float64(row[0]) - e.Score
			sum += d * d
			continue
		}
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v) - mx)
		}
		sum += mx + math.Log(z) - float64(row[e.LabelID])
	}
	return sum / float64(len(preds)), nil
}

// CustomTask is the task of the user's own data files for a finetuned
// model: unless spec gives them, the label set is the model's id2label and
// the problem type its own (a single output is regression), as saved by
// finetuning, so that a model needs no other description of its data.
func CustomTask(cfg model.Config, spec data.CustomSpec) (*data.Task, error) {
	if spec.Problem == "" && cfg.Regression() {
		spec.Problem = data.ProblemRegression
	}
	if len(spec.Labels) == 0 && spec.Problem != data.ProblemRegression {
		spec.Labels, spec.LabelsAreKeys = cfg.ID2Label, true
	}
	return data.NewCustomTask(spec)
}

// LineOptions are what WriteJSONLines adds to each line.
type LineOptions struct {
	// Probabilities adds "probabilities": the softmax of the logits, in the
	// task's label order (classification only).
	Probabilities bool
}

// Probabilities is the softmax of logits, computed in float64 (the
// largest logit subtracted first); NaN everywhere when a logit is not
// finite.
func Probabilities(logits []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	p := make([]float64, len(logits))
	var z float64
	for i, v := range logits {
		p[i] = math.Exp(float64(v) - mx)
		z += p[i]
	}
	for i := range p {
		p[i] /= z
	}
	return p
}

// WriteJSONLines writes one JSON object per prediction and line, as
// mixft predict prints them: {"index": ..., "logits": [...], "prediction":
// ...}, and with opt.Probabilities "probabilities": [...]. index is a
// number when the example's index is one; non-finite logits and
// probabilities are null; prediction is the label string, or for
// regression the raw predicted score. Probabilities of a regression task
// are an error.
func WriteJSONLines(w io.Writer, task *data.Task, preds []Prediction, opt LineOptions) error {
	if opt.Probabilities && task.Regression {
		return fmt.Errorf("probabilities: %s is a regression task, whose single output has no class probabilities", task.Name)
	}
	enc := json.NewEncoder(w)
	for _, p := range preds {
		var index any = p.Index
		if n, err := strconv.ParseInt(p.Index, 10, 64); err == nil {
			index = n
		}
		logits := make([]any, len(p.Logits))
		for i, v := range p.Logits {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				logits[i] = nil
			} else {
				logits[i] = float64(v)
			}
		}
		var pred any = p.Label
		if task.Regression {
			pred = logits[0]
		}
		line := map[string]any{"index": index, "logits": logits, "prediction": pred}
		if opt.Probabilities {
			probs := make([]any, len(p.Logits))
			for i, v := range Probabilities(p.Logits) {
				if !math.IsNaN(v) {
					probs[i] = v
				}
			}
			line["probabilities"] = probs
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return nil
}
