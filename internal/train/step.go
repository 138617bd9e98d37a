package train

import (
	"math"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/model"
)

// Step is the training step, the one mixft has: for each micro-batch the
// mixout draw, the forward pass with dropout, the loss and the backward
// pass; then clipping, AdamW and clearing the gradients. The trainer,
// `mixft bench` and the GPU parity tests all run it. It owns the model's
// gradients, the activations and the optimizer.
type Step struct {
	// Model is the model being trained; Grads are its gradients and Opt
	// the optimizer over both.
	Model *model.Model
	Grads *model.Grads
	Opt   *AdamW
	// Dropout holds the dropout probabilities of the training passes and
	// the seed of every dropout and mixout mask (its Step is set per pass).
	Dropout model.TrainStep

	acts *model.Activations
	seq  int
}

// MicroBatch is the input of one forward and backward pass.
type MicroBatch struct {
	Batch *model.Batch
	// Labels are the examples' class ids (classification), Targets their
	// scores (regression).
	Labels  []int32
	Targets []float32
}

// NewStep sets up training m with the settings of cfg that shape a step:
// seed, dropout (resolved against m's configuration), mixout on every
// pretrained Linear toward pre, its pretrained weights, weight decay on the
// embeddings and dense weights (toward pre with weight_decay_target
// pretrained), layer-wise learning-rate decay, Adam's settings and
// clipping. A parameter pre lacks is new (a head layer the checkpoint did
// not have, initialised at load); new layers and the classifier get the
// output-layer regularizer: classifier dropout and weight decay toward
// zero, or with output_layer mixout, mixout toward their own initial value.
// Activations are sized for max_seq_length tokens at first.
func NewStep(m *model.Model, pre model.Weights, cfg config.Run) (*Step, error) {
	mc := m.Config
	h, a, c := cfg.Dropouts(mc.HiddenDropoutProb, mc.AttentionProbsDropoutProb, classifierDropout(mc))
	s := &Step{Model: m, seq: cfg.MaxSeqLength,
		Dropout: model.TrainStep{HiddenDropout: float32(h), AttentionDropout: float32(a), ClassifierDropout: float32(c), Seed: cfg.Seed}}
	s.Dropout.EmbeddingDropout = s.Dropout.HiddenDropout
	if mc.Modern != nil { // ModernBERT's embedding_dropout, resolved as the hidden dropout
		e, _, _ := cfg.Dropouts(mc.Modern.EmbeddingDropout, 0, 0)
		s.Dropout.EmbeddingDropout = float32(e)
	}
	if cfg.Mixout > 0 {
		mo := model.MixoutOptions{P: cfg.Mixout, PerElement: cfg.MixoutPerElement, Reference: cfg.MixoutGrad == "reference"}
		for _, l := range m.Linears() {
			target := pre[l.Name+".weight"]
			if outputLayer(m, l, pre) {
				if cfg.OutputLayer != "mixout" {
					continue
				}
				target = make([]float32, l.Out*l.In)
				m.Backend.Download(target, l.W)
			}
			if err := m.SetMixout(l, target, mo); err != nil {
				return nil, err
			}
		}
	}
	s.Grads = m.NewGrads()
	s.Opt = NewAdamW(m.Backend, params(m, s.Grads, pre, cfg))
	s.Opt.Beta1, s.Opt.Beta2, s.Opt.Eps = cfg.Beta1, cfg.Beta2, cfg.Eps
	s.Opt.BiasCorrection, s.Opt.MaxGradNorm = cfg.BiasCorrect, cfg.MaxGradNorm
	return s, nil
}

// outputLayer reports whether l gets the output-layer regularizer: it is
// the classifier, or new (pre lacks its weight).
func outputLayer(m *model.Model, l *model.Linear, pre model.Weights) bool {
	_, pretrained := pre[l.Name+".weight"]
	return l == &m.Classifier || !pretrained
}

// classifierDropout is transformers' choice: classifier_dropout, else
// hidden_dropout_prob.
func classifierDropout(c model.Config) float64 {
	if c.ClassifierDropout != nil {
		return *c.ClassifierDropout
	}
	return c.HiddenDropoutProb
}

// params builds the optimizer's view of every parameter: weight decay on
// embeddings and dense weights only, toward the pretrained value with
// weight_decay_target pretrained (the classifier and new layers always
// toward zero), and the layer-wise learning-rate scale.
func params(m *model.Model, g *model.Grads, pre model.Weights, cfg config.Run) []*Param {
	be, layers := m.Backend, m.Config.NumHiddenLayers
	ws, gs := m.Tensors(), g.Tensors()
	ps := make([]*Param, len(ws))
	for i, w := range ws {
		p := &Param{Spec: w.ParamSpec, P: *w.Buf, G: *gs[i].Buf, LRScale: 1}
		if w.Kind == model.Embedding || w.Kind == model.LinearWeight {
			p.WeightDecay = cfg.WeightDecay
		}
		if _, pretrained := pre[w.Name]; p.WeightDecay > 0 && cfg.DecayTarget == "pretrained" && w.Block != model.Classifier && pretrained {
			p.Target = be.Alloc(w.Size())
			be.Upload(p.Target, pre[w.Name])
		}
		if cfg.LayerLRDecay < 1 {
			p.LRScale = math.Pow(cfg.LayerLRDecay, float64(layers+1-depth(w.ParamSpec, layers)))
		}
		ps[i] = p
	}
	return ps
}

// depth is a parameter's depth for layer-wise learning-rate decay:
// embeddings 0, encoder layer i is i+1, pooler and classifier L+1.
func depth(p model.ParamSpec, layers int) int {
	switch p.Block {
	case model.Embeddings:
		return 0
	case model.Encoder:
		return p.Layer + 1
	}
	return layers + 1
}

// Accumulate runs the forward and backward passes of one batch split into
// micro-batches, whose gradients add up to those of the batch's mean loss;
// it returns that mean loss. micro counts forward passes: the i-th
// micro-batch draws its dropout and mixout masks as pass micro+i.
func (s *Step) Accumulate(mbs []MicroBatch, micro uint64) (float64, error) {
	m := s.Model
	n, rows, seq := 0, 0, s.seq
	for _, mb := range mbs {
		if err := m.Check(mb.Batch); err != nil {
			return 0, err
		}
		n += mb.Batch.Size
		rows, seq = max(rows, mb.Batch.Size), max(seq, mb.Batch.Seq)
	}
	if s.acts == nil || !s.acts.Fits(rows, seq) {
		if s.acts != nil {
			s.acts.Free()
		}
		s.acts = m.NewActivations(rows, seq)
	}
	var loss float64
	for i, mb := range mbs {
		ts := s.Dropout
		ts.Step = micro + uint64(i)
		m.DrawMixout(ts.Seed, ts.Step)
		m.ForwardTrain(mb.Batch, s.acts, ts)
		share := float32(mb.Batch.Size) / float32(n)
		l, err := m.Loss(s.acts, mb.Labels, mb.Targets, share)
		if err != nil {
			return 0, err
		}
		m.Backward(mb.Batch, s.acts, s.Grads)
		loss += l * float64(share)
	}
	return loss, nil
}

// Update clips the accumulated gradients, applies AdamW at learning rate lr
// and clears the gradients; it returns the gradient norm before clipping.
func (s *Step) Update(lr float64) float64 {
	norm := s.Opt.Step(lr)
	s.Opt.ZeroGrad()
	return norm
}

// Run takes one optimizer step on a batch split into micro-batches
// (Accumulate, then Update); it returns the batch's mean loss and the
// gradient norm before clipping.
func (s *Step) Run(mbs []MicroBatch, micro uint64, lr float64) (loss, gradNorm float64, err error) {
	if loss, err = s.Accumulate(mbs, micro); err != nil {
		return 0, 0, err
	}
	return loss, s.Update(lr), nil
}

// Activations are the step's activations (nil before the first
// Accumulate); between steps they may serve evaluation-mode passes
// (Model.Forward) of batches that fit them.
func (s *Step) Activations() *model.Activations { return s.acts }
