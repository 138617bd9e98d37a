//go:build cuda || kernelhost

package gpu

// Whole-training-step parity with the CPU backend, and mask identity: the
// same seed must give the same mixout and dropout masks on both backends,
// bit for bit.

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/philox"
	"github.com/mixft/mixft/internal/train"
)

// stepConfig is a small BERT with every feature the step touches: several
// heads, two layers, three labels, padding.
func stepConfig() model.Config {
	c := model.DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 60, 64, 2, 4, 128
	c.MaxPositionEmbeddings = 32
	c.NumLabels, c.ID2Label = 3, []string{"a", "b", "c"}
	return c
}

// stepRun is what one backend produced over the steps.
type stepRun struct {
	loss, norm []float64
	grads      []map[string][]float32 // per step, before the optimizer
	weights    []map[string][]float32 // per step, after the optimizer
	masks      []map[string][]float32 // per step, the mixout masks
}

// runSteps trains the model of cfg for steps steps on be with train.Step,
// set up as finetune does it with mixout 0.7 toward pretrained weights on
// every Linear but the classifier, dropout 0.1 everywhere, weight decay
// toward the pretrained weights (the classifier's toward zero) and clipping
// at 1; two thirds of the mixed Linears are switched to the other mixout
// flavours (per element, the authors' backward). It records what each step
// did: loss, gradient norm, gradients, masks, and the weights after AdamW.
func runSteps(t *testing.T, be backend.Backend, cfg model.Config, steps int, lr float64) stepRun {
	t.Helper()
	const seed = 20240611
	w := model.InitWeights(cfg, 1)
	pre := model.InitWeights(cfg, 2)
	m, err := model.New(be, cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	rc := config.Default()
	rc.Seed, rc.MaxSeqLength, rc.Dropout, rc.Mixout, rc.DecayTarget = seed, 16, 0.1, 0.7, "pretrained"
	st, err := train.NewStep(m, pre, rc)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range m.Linears() {
		if l == &m.Classifier || i%3 == 0 {
			continue
		}
		opt := model.MixoutOptions{P: 0.7, PerElement: i%3 == 1, Reference: i%3 == 2}
		if err := m.SetMixout(l, pre[l.Name+".weight"], opt); err != nil {
			t.Fatal(err)
		}
	}

	rng := rand.New(rand.NewPCG(seed, 1))
	const batch, seq = 3, 16
	b := &model.Batch{Size: batch, Seq: seq, InputIDs: make([]int32, batch*seq), TokenTypeIDs: make([]int32, batch*seq),
		AttentionMask: make([]int32, batch*seq)}
	for r, real := range []int{seq, 12, 5} {
		for s := 0; s < seq; s++ {
			k := r*seq + s
			b.InputIDs[k] = int32(cfg.PadTokenID)
			if s < real {
				b.InputIDs[k] = int32(1 + rng.IntN(cfg.VocabSize-1))
				if int(b.InputIDs[k]) == cfg.PadTokenID {
					b.InputIDs[k] = 0 // RoBERTa's pad (1) only on padding
				}
				b.AttentionMask[k] = 1
				if s >= real/2 && cfg.TypeVocabSize > 1 {
					b.TokenTypeIDs[k] = 1
				}
			}
		}
	}
	mbs := []train.MicroBatch{{Batch: b, Labels: []int32{0, 2, 1}}}
	var run stepRun
	for step := 0; step < steps; step++ {
		loss, err := st.Accumulate(mbs, uint64(step))
		if err != nil {
			t.Fatal(err)
		}
		g, ms := map[string][]float32{}, map[string][]float32{}
		for _, gt := range st.Grads.Tensors() {
			v := make([]float32, gt.Size())
			be.Download(v, *gt.Buf)
			g[gt.Name] = v
		}
		for _, l := range m.Linears() {
			if l.Mix != nil {
				v := make([]float32, l.MaskLen())
				be.Download(v, l.Mix.Mask)
				ms[l.Name] = v
			}
		}
		norm := st.Update(lr)
		run.loss, run.norm = append(run.loss, loss), append(run.norm, norm)
		run.grads, run.masks = append(run.grads, g), append(run.masks, ms)
		run.weights = append(run.weights, m.Weights())
	}
	return run
}

func norm2(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func diff2(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// stepTolerance is the relative tolerance of losses and gradients (per
// tensor, in the 2-norm) for a GEMM precision.
func stepTolerance(p Precision) float64 {
	switch p {
	case TF32:
		return 5e-3
	case BF16:
		return 3e-2
	}
	return 1e-5
}

// compareSteps checks a GPU run against the CPU run.
func compareSteps(t *testing.T, cfg model.Config, got, want stepRun, prec Precision, lr float64) {
	t.Helper()
	tol := stepTolerance(prec)
	// small[name][i]: the weight's gradient was small at some step so far.
	small := map[string][]bool{}
	for s := range want.loss {
		// Masks: drawn from the same streams, bit-identical at any precision.
		for name, wm := range want.masks[s] {
			gm := got.masks[s][name]
			for i := range wm {
				if gm[i] != wm[i] {
					t.Fatalf("step %d: mixout mask of %s differs at %d: %g, CPU %g", s, name, i, gm[i], wm[i])
				}
			}
		}
		if d := math.Abs(got.loss[s] - want.loss[s]); !(d <= tol*math.Abs(want.loss[s])) {
			t.Fatalf("step %d: loss %.9g, CPU %.9g (relative %.2g > %g)", s, got.loss[s], want.loss[s], d/math.Abs(want.loss[s]), tol)
		}
		if d := math.Abs(got.norm[s] - want.norm[s]); !(d <= tol*want.norm[s]) {
			t.Fatalf("step %d: gradient norm %.9g, CPU %.9g", s, got.norm[s], want.norm[s])
		}
		// A gradient that is 0 in exact arithmetic (the key bias: softmax
		// ignores a shift common to a row's scores) is rounding noise on
		// both backends: it must stay noise, below noise of the global norm.
		noise := 1e-6 * want.norm[s]
		worst := 0.0
		for _, spec := range cfg.ParamSpecs() {
			g, w := got.grads[s][spec.Name], want.grads[s][spec.Name]
			nw, d := norm2(w), diff2(g, w)
			if nw == 0 {
				if d != 0 {
					t.Fatalf("step %d: gradient of %s should be exactly 0 (no token used it), norm of the difference %g", s, spec.Name, d)
				}
				continue
			}
			if nw <= noise {
				if ng := norm2(g); !(ng <= noise) {
					t.Fatalf("step %d: gradient of %s has norm %g, CPU %g (rounding noise below %g)", s, spec.Name, ng, nw, noise)
				}
				continue
			}
			if !(d <= tol*nw) {
				t.Fatalf("step %d: gradient of %s: relative difference %.3g > %g", s, spec.Name, d/nw, tol)
			}
			worst = max(worst, d/nw)
		}
		t.Logf("step %d: loss %.9g (CPU %.9g), worst gradient relative difference %.2g", s, got.loss[s], want.loss[s], worst)
		if prec != FP32 {
			continue
		}
		// Updated weights, element by element at 1e-5 relative (plus 1e-3 of
		// the learning rate for weights near 0), except where the gradient
		// is or was small next to its tensor's RMS: Adam's first steps move
		// a weight by about lr·g/(|g| + eps) whatever g's size, so where g is
		// small its float rounding (which differs between the backends'
		// summation orders) moves the update by up to ±lr. Those may differ
		// by 2.5·lr per step, and must stay few.
		for _, spec := range cfg.ParamSpecs() {
			gw, ww := got.weights[s][spec.Name], want.weights[s][spec.Name]
			g := want.grads[s][spec.Name]
			if norm2(g) <= noise {
				continue // noise gradients move weights by noise-driven ±lr
			}
			rms := norm2(g) / math.Sqrt(float64(len(g)))
			if small[spec.Name] == nil {
				small[spec.Name] = make([]bool, len(g))
			}
			sm := small[spec.Name]
			sensitive := 0
			for i := range ww {
				sm[i] = sm[i] || math.Abs(float64(g[i])) <= 1e-2*rms
				d := math.Abs(float64(gw[i]) - float64(ww[i]))
				if d <= 1e-5*math.Abs(float64(ww[i]))+1e-3*lr {
					continue
				}
				if sm[i] && d <= 2.5*lr*float64(s+1) {
					sensitive++
					continue
				}
				t.Fatalf("step %d: %s[%d] after AdamW = %.9g, CPU %.9g (gradient %g, rms %g)", s, spec.Name, i, gw[i], ww[i], g[i], rms)
			}
			if sensitive > max(1, len(ww)/50) {
				t.Fatalf("step %d: %s: %d of %d weights with small gradients moved differently", s, spec.Name, sensitive, len(ww))
			}
		}
	}
}

// TestTrainingStepParity: two training steps of train.Step (mixout,
// dropout, clipping, AdamW with both decay anchors) against the CPU backend.
func TestTrainingStepParity(t *testing.T) {
	precs := []Precision{FP32, TF32, BF16}
	cfg := stepConfig()
	const lr = 1e-4
	want := runSteps(t, cpu.New(1), cfg, 2, lr)
	for _, prec := range precs {
		t.Run(prec.String(), func(t *testing.T) {
			got := runSteps(t, newTestBackend(t, prec), cfg, 2, lr)
			compareSteps(t, cfg, got, want, prec, lr)
		})
	}
	// The CPU backend's bf16 keeps the GPU's contract (inputs rounded to
	// bfloat16, float32 sums): the two bf16 runs agree within the bf16
	// tolerance, as each does with fp32.
	t.Run("bf16-cpu", func(t *testing.T) {
		cb := cpu.New(1)
		cb.SetPrecision(cpu.BF16)
		ref := runSteps(t, cb, cfg, 2, lr)
		got := runSteps(t, newTestBackend(t, BF16), cfg, 2, lr)
		compareSteps(t, cfg, got, ref, BF16, lr)
	})
}

// TestTrainingStepParityFamilies: the same two training steps for
// RoBERTa, XLM-RoBERTa, ELECTRA (with embeddings_project), DistilBERT,
// ALBERT (factorized embeddings, one shared layer) and DeBERTa-v3
// (disentangled attention, log buckets beyond ±4, the relative
// embeddings' dropout) in FP32: their embeddings, heads and dropout sites
// against the CPU backend.
func TestTrainingStepParityFamilies(t *testing.T) {
	for _, mt := range []string{"roberta", "xlm-roberta", "electra", "distilbert", "albert", "deberta-v2"} {
		t.Run(mt, func(t *testing.T) {
			base := stepConfig()
			cfg, err := model.FamilyDefaults(mt)
			if err != nil {
				t.Fatal(err)
			}
			cfg.VocabSize, cfg.HiddenSize, cfg.NumHiddenLayers, cfg.NumAttentionHeads, cfg.IntermediateSize =
				base.VocabSize, base.HiddenSize, base.NumHiddenLayers, base.NumAttentionHeads, base.IntermediateSize
			cfg.MaxPositionEmbeddings, cfg.EmbeddingSize = base.MaxPositionEmbeddings+2, base.HiddenSize/2
			switch mt {
			case "roberta", "xlm-roberta":
				cfg.TypeVocabSize = 1
			case "deberta-v2":
				cfg.EmbeddingSize = 0
				cfg.SetDeBERTaV3Attention(8)
			}
			cfg.SetLabels(base.ID2Label)
			const lr = 1e-4
			want := runSteps(t, cpu.New(1), cfg, 2, lr)
			got := runSteps(t, newTestBackend(t, FP32), cfg, 2, lr)
			compareSteps(t, cfg, got, want, FP32, lr)
		})
	}
}

// TestMaskIdentity: KeepMask, Dropout and attention dropout give the same
// masks as the CPU backend for the same streams, bit for bit, over long
// ranges (past 2^20 elements) and awkward lengths.
func TestMaskIdentity(t *testing.T) {
	be := newTestBackend(t, FP32)
	c := cpu.New(0)
	rng := rand.New(rand.NewPCG(77, 78))
	lengths := []int{1, 3, 4, 5, 1023, 4097, 1<<20 + 3}
	for _, n := range lengths {
		for _, p := range []float32{0.1, 0.5, 0.7} {
			s := philox.Stream{Seed: rng.Uint64(), Step: rng.Uint64(), ID: rng.Uint32()}
			gm, cm := be.Alloc(n), c.Alloc(n)
			be.KeepMask(gm, n, p, s)
			c.KeepMask(cm, n, p, s)
			g, w := make([]float32, n), make([]float32, n)
			be.Download(g, gm)
			c.Download(w, cm)
			for i := range w {
				if g[i] != w[i] {
					t.Fatalf("KeepMask n %d p %g stream %+v: element %d = %g, CPU %g", n, p, s, i, g[i], w[i])
				}
			}
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			gx, cx := be.Alloc(n), c.Alloc(n)
			be.Upload(gx, x)
			c.Upload(cx, x)
			be.Dropout(gx, gx, n, p, s)
			c.Dropout(cx, cx, n, p, s)
			be.Download(g, gx)
			c.Download(w, cx)
			for i := range w {
				if g[i] != w[i] {
					t.Fatalf("Dropout n %d p %g: element %d = %g, CPU %g", n, p, i, g[i], w[i])
				}
			}
			be.Free(gm)
			be.Free(gx)
		}
	}
	// Attention dropout: with headDim = seq and V the identity in every
	// head, ctx = P'·V is P' itself, so the kept/dropped pattern shows.
	const batch, heads, seq = 2, 3, 24
	hd := seq
	hidden := heads * hd
	n := batch * seq * hidden
	// q, k and v packed in rows of 3·hidden, as AttentionQKV reads them.
	qkv := make([]float32, 3*n)
	for t := 0; t < batch*seq; t++ {
		for j := 0; j < 2*hidden; j++ {
			qkv[t*3*hidden+j] = float32(rng.NormFloat64())
		}
	}
	for b := 0; b < batch; b++ {
		for h := 0; h < heads; h++ {
			for j := 0; j < seq; j++ {
				qkv[(b*seq+j)*3*hidden+2*hidden+h*hd+j] = 1
			}
		}
	}
	mask := make([]float32, batch*seq)
	for i := range mask {
		mask[i] = 1
	}
	drop := philox.Stream{Seed: 5, Step: 9, ID: philox.DropoutID(4)}
	ctxOf := func(bk backend.Backend) []float32 {
		up := func(x []float32) backend.Buffer { t := bk.Alloc(len(x)); bk.Upload(t, x); return t }
		ctx, probs := bk.Alloc(n), bk.Alloc(batch*heads*seq*seq)
		bk.AttentionQKV(ctx, probs, up(qkv), up(mask), batch, seq, heads, hd, 0.2, 0.3, drop)
		out := make([]float32, n)
		bk.Download(out, ctx)
		return out
	}
	g, w := ctxOf(be), ctxOf(c)
	kept := 0
	for i := range w {
		if (g[i] == 0) != (w[i] == 0) {
			t.Fatalf("attention dropout pattern differs at ctx element %d: %g, CPU %g", i, g[i], w[i])
		}
		if w[i] != 0 {
			kept++
		}
	}
	if kept == 0 || kept == len(w) {
		t.Fatalf("attention dropout kept %d of %d: the test shows nothing", kept, len(w))
	}
	t.Logf("attention dropout: %d of %d kept, identical pattern", kept, len(w))
}

// TestSumSquaresRuns: SumSquares computed ahead for a learned run of
// buffers gives the same sums as one at a time, and any op in between (a
// write to one of the buffers) drops the sums computed ahead.
func TestSumSquaresRuns(t *testing.T) {
	be := newTestBackend(t, FP32)
	rng := rand.New(rand.NewPCG(5, 55))
	sizes := []int{1, 100, 8192, 8193, 40000}
	bufs := make([]backend.Buffer, len(sizes))
	host := make([][]float32, len(sizes))
	for i, n := range sizes {
		host[i] = make([]float32, n)
		for j := range host[i] {
			host[i][j] = float32(rng.NormFloat64())
		}
		bufs[i] = be.Alloc(n)
		be.Upload(bufs[i], host[i])
	}
	want := func(i int) float64 {
		var s float64
		for _, v := range host[i] {
			s += float64(v) * float64(v)
		}
		return s
	}
	check := func(round int) {
		for i, b := range bufs {
			got, w := be.SumSquares(b, sizes[i]), want(i)
			if math.Abs(got-w) > 1e-9*w {
				t.Fatalf("round %d buffer %d: %.12g, want %.12g", round, i, got, w)
			}
		}
	}
	check(0) // learns the run
	be.Scale(bufs[0], 1, 1)
	check(1) // computed ahead in one go
	if len(be.sums.learned) != len(bufs) {
		t.Fatalf("learned a run of %d, want %d", len(be.sums.learned), len(bufs))
	}
	// A write between two calls of the run must be seen.
	for i := range host[3] {
		host[3][i] *= 2
	}
	be.Scale(bufs[0], 1, 1)
	for i, b := range bufs {
		if i == 2 {
			be.Upload(bufs[3], host[3])
		}
		got, w := be.SumSquares(b, sizes[i]), want(i)
		if math.Abs(got-w) > 1e-9*w {
			t.Fatalf("after a write: buffer %d: %.12g, want %.12g", i, got, w)
		}
	}
}
