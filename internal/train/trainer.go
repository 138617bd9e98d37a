package train

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/fsutil"
	"github.com/mixft/mixft/internal/infer"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/rundir"
)

// ErrInterrupted is returned when the context was cancelled (SIGINT or
// SIGTERM): the run saved its state in last/ and can be resumed.
var ErrInterrupted = errors.New("interrupted; state saved in last/, continue with --resume")

// ErrDiverged is returned when the loss or the gradient became NaN or
// infinite: the run failed and retrying it with the same seed fails again.
var ErrDiverged = errors.New("training diverged (loss or gradient norm is not finite)")

// Options are the trainer's collaborators.
type Options struct {
	// Backend runs the model.
	Backend backend.Backend
	// OnStep and OnEval, when not nil, observe progress: OnStep after
	// every optimizer step, OnEval after every evaluation.
	OnStep func(rundir.StepInfo)
	OnEval func(rundir.Eval)
	// OnLog, when not nil, receives each line written to log.jsonl (every
	// logging_steps steps, with the loss averaged over them).
	OnLog func(rundir.StepInfo)
	// Warn receives warnings (missing head parameters, skipped rows).
	Warn func(msg string)
}

// Trainer is one finetuning run in progress.
type Trainer struct {
	cfg      config.Run
	opts     Options
	task     *data.Task
	tok      data.Encoder
	model    *model.Model
	step     *Step
	pred     *infer.Predictor
	train    []trainExample
	dev      []data.Example
	baseline float64
	state    rundir.State
	tokFiles []string // tokenizer files of the model directory, saved with the model
	run      *runDir
	micro    []microBatch
	tb       *tensorBoard
	test     []data.Example
	// evalSeconds is the duration of this process's latest evaluation (0:
	// none yet).
	evalSeconds float64
	// mark is when state.Runtime was last brought up to date (tick).
	mark time.Time
	// modelSHA and dataSHA identify the checkpoint and the train and dev
	// files by content (model.Fingerprint, fsutil.HashFiles); metrics.json
	// records them so that reports know one run made from copies in other
	// places.
	modelSHA, dataSHA string
}

// microBatch holds one micro-batch's inputs; its slices are reused from
// step to step.
type microBatch struct {
	encs    []data.Encoding
	labels  []int32
	targets []float32
	batch   model.Batch
}

type trainExample struct {
	enc   data.Encoding
	label int32
	score float32
}

// New prepares a run: reads the data, loads the checkpoint, sets up the
// regularizers and the optimizer, and (with cfg.Resume) restores the state
// of output_dir/last. cfg must be valid (config.Run.Validate, which the
// command line calls once, where the settings come in). It locks output_dir until Run returns (or Close).
func New(cfg config.Run, opts Options) (_ *Trainer, err error) {
	if opts.Warn == nil {
		opts.Warn = func(string) {}
	}
	t := &Trainer{cfg: cfg, opts: opts}
	if t.task, err = taskOf(cfg); err != nil {
		return nil, err
	}
	if t.run, err = openRunDir(cfg); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			t.run.abandon()
		}
	}()
	if err := t.loadData(); err != nil {
		return nil, err
	}
	if err := t.readTest(); err != nil {
		return nil, err
	}
	if err := t.loadModel(); err != nil {
		return nil, err
	}
	steps := (len(t.train) + cfg.BatchSize - 1) / cfg.BatchSize
	t.state.Total = cfg.MaxSteps
	if t.state.Total == 0 {
		t.state.Total = cfg.Epochs * steps
	}
	t.state.Warmup = cfg.WarmupSteps
	if t.state.Warmup < 0 {
		t.state.Warmup = int(math.Ceil(cfg.WarmupRatio * float64(t.state.Total)))
	}
	if cfg.Resume {
		if err := t.restore(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// loadData reads and encodes the train split and reads the dev split.
func (t *Trainer) loadData() error {
	lower, err := lowerCase(t.cfg.DoLowerCase)
	if err != nil {
		return err
	}
	if t.tok, err = data.LoadEncoder(t.cfg.Model, lower); err != nil {
		return err
	}
	t.tokFiles = model.TokenizerFiles(t.cfg.Model)
	train, rep, err := t.task.ReadSplit(t.cfg.DataDir, "train")
	if err != nil {
		return err
	}
	trainPath := rep.Path
	if rep.Skipped > 0 {
		t.opts.Warn(fmt.Sprintf("%s: skipped %d rows with too few columns", rep.Path, rep.Skipped))
	}
	if n := t.cfg.MaxTrainExamples; n > 0 && n < len(train) {
		train = train[:n]
	}
	if len(train) == 0 {
		return fmt.Errorf("%s: no training examples", rep.Path)
	}
	for _, e := range train {
		te := trainExample{enc: t.tok.EncodePair(e.TextA, e.TextB, t.cfg.MaxSeqLength), label: int32(e.LabelID), score: float32(e.Score)}
		t.train = append(t.train, te)
	}
	dev, rep, err := t.task.ReadSplit(t.cfg.DataDir, "dev")
	if err != nil {
		return err
	}
	if n := t.cfg.MaxEvalExamples; n > 0 && n < len(dev) {
		dev = dev[:n]
	}
	if len(dev) == 0 {
		return fmt.Errorf("%s: no dev examples", rep.Path)
	}
	t.dev = dev
	t.baseline = majorityBaseline(t.task, dev)
	if t.dataSHA, err = fsutil.HashFiles([]string{trainPath, rep.Path}); err != nil {
		return err
	}
	return nil
}

func lowerCase(mode string) (*bool, error) {
	switch mode {
	case "auto":
		return nil, nil
	case "true", "false":
		b := mode == "true"
		return &b, nil
	}
	return nil, fmt.Errorf("do_lower_case: %q is not auto, true or false", mode)
}

// loadModel loads the checkpoint with the task's head, applies re-init,
// the regularizers, and builds the optimizer.
func (t *Trainer) loadModel() error {
	cfg := t.cfg
	opt := model.LoadOptions{Seed: cfg.Seed, Labels: taskLabels(t.task)}
	var byPosition string // the warning when the head is matched by position
	if !cfg.ReinitHead {
		opt.HeadClasses = func(id2label []string) ([]int, error) {
			byPosition = t.task.HeadWarning(id2label)
			return t.task.HeadClasses(id2label)
		}
	}
	ck, err := model.Load(cfg.Model, opt)
	var other *data.HeadLabelsError
	if errors.As(err, &other) {
		return fmt.Errorf("%w; reinit_head starts a new classifier for %s", err, t.task.Name)
	}
	if err != nil {
		return err
	}
	if byPosition != "" {
		t.opts.Warn(fmt.Sprintf("%s: %s", cfg.Model, byPosition))
	}
	if t.modelSHA, err = model.Fingerprint(cfg.Model); err != nil {
		return err
	}
	for _, name := range ck.Initialized {
		t.opts.Warn(fmt.Sprintf("%s: %s is not in the checkpoint; initialised randomly (seed %d)", cfg.Model, name, cfg.Seed))
	}
	if err := infer.CheckMaxSeqLen(cfg.MaxSeqLength, t.tok, &ck.Config); err != nil {
		return err
	}
	if n := t.tok.VocabSize(); n > ck.Config.VocabSize {
		return fmt.Errorf("%s: the tokenizer has %d ids, more than the model's vocab_size %d", cfg.Model, n, ck.Config.VocabSize)
	}
	if cfg.ReinitLayers > ck.Config.NumHiddenLayers {
		return fmt.Errorf("reinit_layers: %d exceeds the model's %d layers", cfg.ReinitLayers, ck.Config.NumHiddenLayers)
	}
	if cfg.ReinitLayers > 0 {
		// The top reinit_layers encoder layers and the pooler are drawn afresh.
		fresh, top := model.InitWeights(ck.Config, cfg.Seed), ck.Config.NumHiddenLayers-cfg.ReinitLayers
		for _, p := range ck.Config.ParamSpecs() {
			if p.Block == model.Pooler || (p.Block == model.Encoder && p.Layer >= top) {
				ck.Weights[p.Name] = fresh[p.Name]
			}
		}
	}
	cls := ck.Config.ClassifierName()
	if cfg.ReinitHead && !slices.Contains(ck.Initialized, cls+".weight") {
		ck.Config.InitLinear(ck.Weights, cls, ck.Config.NumLabels, ck.Config.HiddenSize, cfg.Seed)
	}
	// The pretrained weights, mixout's and wdecay(w_pre)'s target: what the
	// checkpoint held (head layers it lacked are new).
	pre := maps.Clone(ck.Weights)
	for _, name := range ck.Initialized {
		delete(pre, name)
	}
	t.model, err = model.New(t.opts.Backend, ck.Config, ck.Weights)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Model, err)
	}
	if t.step, err = NewStep(t.model, pre, cfg); err != nil {
		return err
	}
	t.pred, err = infer.New(t.model, t.tok, t.task, infer.Options{MaxSeqLen: cfg.MaxSeqLength, BatchSize: cfg.EvalBatch})
	return err
}

// taskLabels is the head's label set: the task's labels, or an empty
// (non-nil) slice for regression.
func taskLabels(task *data.Task) []string {
	if task.Regression {
		return []string{}
	}
	return task.Labels
}

// order is the shuffled order of the training examples in an epoch: a
// permutation drawn from PCG(seed, epoch), so a resumed run sees the same.
func (t *Trainer) order(epoch int) []int {
	return rand.New(rand.NewPCG(t.cfg.Seed, uint64(epoch)+0x5eed)).Perm(len(t.train))
}

// Run trains until the last step, evaluating on dev every epoch (or every
// eval_steps), and writes the run directory. A cancelled ctx saves last/
// and returns ErrInterrupted. It releases output_dir when it returns.
func (t *Trainer) Run(ctx context.Context) (*Result, error) {
	defer t.Close()
	cfg, st := t.cfg, &t.state
	if err := t.run.start(t); err != nil {
		return nil, err
	}
	var err error
	if t.tb, err = openTensorBoard(cfg); err != nil {
		return nil, err
	}
	defer t.tb.close()
	if err := t.clearResults(); err != nil {
		return nil, err
	}
	order := t.order(st.Epoch)
	t.mark = time.Now()
	if st.EvalDue {
		if err := t.evaluateAndSave(ctx, float64(st.Epoch)+float64(st.Pos)/float64(len(order))); err != nil {
			return nil, err
		}
	}
	var logged logWindow
	for st.Step < st.Total {
		if ctx.Err() != nil {
			return nil, t.interrupt()
		}
		began := time.Now()
		idx := order[st.Pos:min(st.Pos+cfg.BatchSize, len(order))]
		mbs := t.microBatches(idx)
		lr := cfg.LR * LinearSchedule(st.Step, st.Warmup, st.Total)
		loss, norm, err := t.step.Run(mbs, st.Micro, lr)
		if err != nil {
			return nil, err
		}
		st.Micro += uint64(len(mbs))
		st.Step++
		st.Pos += len(idx)
		epochDone := st.Pos >= len(order)
		if epochDone {
			st.Epoch, st.Pos = st.Epoch+1, 0
			order = t.order(st.Epoch)
		}
		secs := time.Since(began).Seconds()
		st.Seconds += secs
		st.LossSum += loss
		st.LossSteps++
		info := rundir.StepInfo{Step: st.Step, Total: st.Total, Epoch: float64(st.Epoch) + float64(st.Pos)/float64(len(order)),
			Loss: rundir.Number(loss), LR: lr, GradNorm: rundir.Number(norm), ExamplesPerSec: float64(len(idx)) / secs}
		if t.opts.OnStep != nil {
			t.opts.OnStep(info)
		}
		logged.add(loss, len(idx), secs)
		if cfg.LoggingSteps <= 1 || st.Step%cfg.LoggingSteps == 0 || st.Step == st.Total || !finite(loss) || !finite(norm) {
			if err := t.log(logged.line(info)); err != nil {
				return nil, err
			}
			logged = logWindow{}
		}
		if !finite(loss) || !finite(norm) {
			if err := t.run.writeMetrics(t, rundir.StatusDiverged, "diverged at step "+fmt.Sprint(st.Step)); err != nil {
				return nil, err
			}
			return nil, ErrDiverged
		}
		evalNow := (cfg.EvalSteps > 0 && st.Step%cfg.EvalSteps == 0) || (cfg.EvalSteps == 0 && epochDone) || st.Step == st.Total
		if evalNow {
			if err := t.evaluateAndSave(ctx, info.Epoch); err != nil {
				return nil, err
			}
		}
	}
	t.tick()
	if err := t.run.writeMetrics(t, rundir.StatusFinished, ""); err != nil {
		return nil, err
	}
	if err := t.predictTest(); err != nil {
		return nil, err
	}
	res := t.result()
	if err := t.writeResults(res); err != nil {
		return nil, err
	}
	return res, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// microBatches collates the examples idx into grad_accum_steps micro-batches
// (the buffers are reused from step to step).
func (t *Trainer) microBatches(idx []int) []MicroBatch {
	n := len(idx)
	chunk := (n + t.cfg.GradAccum - 1) / t.cfg.GradAccum
	var mbs []MicroBatch
	for k, lo := 0, 0; lo < n; k, lo = k+1, lo+chunk {
		if k == len(t.micro) {
			t.micro = append(t.micro, microBatch{})
		}
		mb := &t.micro[k]
		mb.encs, mb.labels, mb.targets = mb.encs[:0], mb.labels[:0], mb.targets[:0]
		for _, j := range idx[lo:min(lo+chunk, n)] {
			mb.encs = append(mb.encs, t.train[j].enc)
			mb.labels = append(mb.labels, t.train[j].label)
			mb.targets = append(mb.targets, t.train[j].score)
		}
		infer.Collate(&mb.batch, mb.encs, t.tok.PadID())
		mbs = append(mbs, MicroBatch{Batch: &mb.batch, Labels: mb.labels, Targets: mb.targets})
	}
	return mbs
}

// evaluate scores the model on dev, records the evaluation, and saves best/
// when it improved; a cancelled ctx stops it before it records anything.
func (t *Trainer) evaluate(ctx context.Context, epoch float64) error {
	began := time.Now()
	preds, err := t.pred.PredictContext(ctx, t.dev, nil)
	if err != nil {
		return err
	}
	mets, err := infer.Metrics(t.task, t.dev, preds)
	if err != nil {
		return err
	}
	if mets["loss"], err = infer.Loss(t.task, t.dev, preds); err != nil {
		return err
	}
	t.evalSeconds = time.Since(began).Seconds()
	ev := rundir.Eval{Step: t.state.Step, Epoch: epoch, Metrics: mets, Primary: rundir.Number(primary(mets))}
	t.state.Evals = append(t.state.Evals, ev)
	if err := t.tb.eval(ev); err != nil {
		return err
	}
	if t.opts.OnEval != nil {
		t.opts.OnEval(ev)
	}
	if t.state.Best == nil || ev.Primary > t.state.Best.Primary || (math.IsNaN(float64(t.state.Best.Primary)) && !math.IsNaN(float64(ev.Primary))) {
		best := ev
		t.state.Best = &best
		if t.cfg.KeepsBest() {
			if err := t.run.saveModel(t, "best", false); err != nil {
				return err
			}
		}
	}
	return t.run.writeMetrics(t, rundir.StatusRunning, "")
}

// primary picks the task's main metric from evaluate-named metrics.
func primary(m map[string]float64) float64 {
	_, v := rundir.PrimaryMetric(m)
	return v
}

// majorityBaseline is the primary metric of always predicting the dev
// set's most frequent class (0 for STS-B: a constant has no correlation).
// A run at or below it has failed, as the mixout paper counts failed runs.
func majorityBaseline(task *data.Task, dev []data.Example) float64 {
	if task.Regression {
		return 0
	}
	counts := make([]int, len(task.Labels))
	for _, e := range dev {
		if e.LabelID >= 0 {
			counts[e.LabelID]++
		}
	}
	maj := 0
	for i, c := range counts {
		if c > counts[maj] {
			maj = i
		}
	}
	preds := make([]infer.Prediction, len(dev))
	for i := range preds {
		preds[i] = infer.Prediction{Class: maj, Score: math.NaN()}
	}
	m, err := infer.Metrics(task, dev, preds)
	if err != nil {
		return math.NaN()
	}
	return primary(m)
}

// saveLast writes last/: the model and everything --resume needs.
func (t *Trainer) saveLast() error { return t.run.saveModel(t, "last", true) }

// Result summarises a finished run.
type Result struct {
	Final, Best *rundir.Eval
	Failed      bool
	Baseline    float64
	Dir         string
	// Summary is all_results.json: Hugging Face's train_* and eval_* keys.
	Summary rundir.Summary
}

func (t *Trainer) result() *Result {
	r := &Result{Best: t.state.Best, Baseline: t.baseline, Dir: t.cfg.OutputDir}
	if n := len(t.state.Evals); n > 0 {
		r.Final = &t.state.Evals[n-1]
	}
	r.Failed = r.Final == nil || !(float64(r.Final.Primary) > t.baseline)
	return r
}

// Close releases output_dir for other processes; Run calls it.
func (t *Trainer) Close() error { return t.run.close() }

// Model is the model being trained.
func (t *Trainer) Model() *model.Model { return t.model }

// State returns the run's progress.
func (t *Trainer) State() rundir.State { return t.state }

// Regularization describes the run's regularizers in the mixout paper's
// notation (config.Run.Regularization with the dropouts resolved against
// the checkpoint), e.g. "mixout(w_pre, 0.7) + wdecay(0, 0.01), dropout:
// hidden 0, attention 0, classifier 0.1".
func (t *Trainer) Regularization() string {
	r := t.cfg
	h, a, c := t.dropouts()
	r.HiddenDropout, r.AttentionDropout, r.ClassifierDropout = h.P, a.P, c.P
	return r.Regularization()
}
