package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/train"
)

// newBenchCmd returns the bench command; runF, when not nil, runs instead
// of runBench.
func newBenchCmd(runF func(*benchOptions) error) *cobra.Command {
	if runF == nil {
		runF = runBench
	}
	o := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time training steps, forward passes and the SGEMM on this machine",
		Long: `bench times the CPU backend on random token ids: training steps exactly as
finetune runs them (mixout draw, forward with dropout, loss, backward, AdamW
with clipping) and forward-only passes, of a model preset (` + strings.Join(model.PresetNames(), ", ") + `;
vocab 30522) or of the model a Hugging Face config.json describes
(--model-config). It prints ms/step,
examples/s, the achieved GFLOP/s and their share of this machine's SGEMM
peak, measured in the same run on a 1024³ product.

Model FLOPs: training 6 × (encoder dense parameters × tokens + head
parameters × examples) + attention 12·L·B·S²·H; forward a third of that.

--gemm instead prints the SGEMM's GFLOP/s on square 512/1024/2048 and the
BERT shapes 4096×256×256, 4096×1024×256 and 4096×256×1024 (m×n×k), for
C = A·B and for C = A·Bᵀ (the model's Linear forward).

Timings are medians over the timed steps; --warmup-steps run first, untimed.`,
		Example: `  mixft bench --preset mini --batch 32 --seq 128 --dropout 0.1
  mixft bench --preset small --mixout 0.7 --dropout 0 --json
  mixft bench --model-config models/mine/config.json --steps 3
  mixft bench --gemm --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.load(cmd); err != nil {
				return err
			}
			return runF(o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.preset, "preset", "mini", "model size preset: "+strings.Join(model.PresetNames(), ", "))
	f.StringVar(&o.config, "model-config", "", "Hugging Face config.json of the model to time (overrides --preset)")
	f.IntVar(&o.batch, "batch", 32, "examples per step")
	f.IntVar(&o.seq, "seq", 128, "tokens per example")
	f.IntVar(&o.steps, "steps", 5, "timed steps (and timed forward passes)")
	f.IntVar(&o.warm, "warmup-steps", 1, "untimed steps first")
	f.Float64Var(&o.dropout, "dropout", 0.1, "dropout of hidden states, attention probabilities and the classifier input")
	f.Float64Var(&o.mixout, "mixout", 0, "mixout probability of every encoder and pooler Linear (0: off)")
	f.IntVar(&o.threads, "threads", 0, "CPU worker goroutines (0: GOMAXPROCS)")
	f.StringVar(&o.kernel, "kernel", "", "SGEMM micro-kernel: "+strings.Join(cpu.Kernels(), ", ")+" (default the first)")
	f.BoolVar(&o.gemm, "gemm", false, "time the SGEMM alone on the acceptance shapes")
	f.StringVar(&o.shapes, "shapes", "", "--gemm: comma-separated m×n×k shapes to time instead, e.g. 512x512x512,4096x256x1024")
	f.BoolVar(&o.noForward, "no-forward", false, "skip the forward-only timing")
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	f.Uint64Var(&o.seed, "seed", 42, "seed of the weights, token ids and masks")
	f.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the timed steps to this file")
	addConfigFlag(cmd)
	return cmd
}

// benchOptions are bench's settings.
type benchOptions struct {
	common
	preset, config, kernel  string
	cpuprofile, shapes      string
	batch, seq, steps, warm int
	dropout, mixout         float64
	threads                 int
	gemm, noForward, json   bool
	seed                    uint64
}

// check reports the first setting out of its range.
func (o *benchOptions) check() error {
	s := o.settings
	switch {
	case o.batch < 1:
		return s.bad("batch", o.batch, "a positive number of examples")
	case o.seq < 1:
		return s.bad("seq", o.seq, "a positive number of tokens")
	case o.steps < 1:
		return s.bad("steps", o.steps, "a positive number of steps")
	case o.warm < 0:
		return s.bad("warmup_steps", o.warm, "0 or more")
	case !(o.dropout >= 0 && o.dropout < 1):
		return s.bad("dropout", o.dropout, "in [0, 1)")
	case !(o.mixout >= 0 && o.mixout < 1):
		return s.bad("mixout", o.mixout, "in [0, 1)")
	case o.threads < 0:
		return s.bad("threads", o.threads, "0 (GOMAXPROCS) or more")
	}
	return nil
}

// runBench times the SGEMM (--gemm) or the model's steps.
func runBench(o *benchOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	be := cpu.New(o.threads)
	if o.kernel != "" {
		if err := be.SetKernel(o.kernel); err != nil {
			return fmt.Errorf("%s: %w", o.settings.source("kernel"), err)
		}
	}
	if o.gemm {
		return benchGemm(o.stdout, be, *o)
	}
	return benchModel(o.stdout, be, *o)
}

// machineName is lscpu's model name (from /proc/cpuinfo), or GOARCH.
func machineName() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// maxRSSMiB is the process's peak resident set (VmHWM) in MiB; 0 where
// /proc is not available.
func maxRSSMiB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, err := strconv.ParseFloat(f[0], 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	return 0
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// gemmRate times C = A·op(B) of shape m×n×k reps times (after one untimed
// call) and returns the median and best GFLOP/s.
func gemmRate(be *cpu.Backend, m, n, k int, transB bool, minTime time.Duration) (med, best float64) {
	a, b, c := be.Alloc(m*k), be.Alloc(k*n), be.Alloc(m*n)
	defer func() { be.Free(a); be.Free(b); be.Free(c) }()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, buf := range []*cpu.Tensor{a.(*cpu.Tensor), b.(*cpu.Tensor)} {
		for i := range buf.Data {
			buf.Data[i] = float32(rng.NormFloat64())
		}
	}
	be.MatMul(c, a, b, m, n, k, false, transB, 1, 0)
	flop := 2 * float64(m) * float64(n) * float64(k)
	var rates []float64
	start := time.Now()
	for len(rates) < 3 || (time.Since(start) < minTime && len(rates) < 200) {
		t0 := time.Now()
		be.MatMul(c, a, b, m, n, k, false, transB, 1, 0)
		rates = append(rates, flop/time.Since(t0).Seconds()/1e9)
	}
	return median(rates), slices.Max(rates)
}

// gemmShapes are the acceptance shapes, m×n×k.
var gemmShapes = [][3]int{{512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 256, 256}, {4096, 1024, 256}, {4096, 256, 1024}}

type gemmResult struct {
	M          int     `json:"m"`
	N          int     `json:"n"`
	K          int     `json:"k"`
	GFLOPS     float64 `json:"gflops"`
	GFLOPSBest float64 `json:"gflops_best"`
	GFLOPSNT   float64 `json:"gflops_nt"`
}

func benchGemm(out io.Writer, be *cpu.Backend, o benchOptions) error {
	shapes := gemmShapes
	if o.shapes != "" {
		shapes = nil
		for _, f := range strings.Split(o.shapes, ",") {
			var m, n, k int
			if c, err := fmt.Sscanf(strings.ReplaceAll(strings.TrimSpace(f), "×", "x"), "%dx%dx%d", &m, &n, &k); err != nil || c != 3 || m < 1 || n < 1 || k < 1 {
				return fmt.Errorf("--shapes: %q is not m×n×k with positive sizes (e.g. 512x512x512)", f)
			}
			shapes = append(shapes, [3]int{m, n, k})
		}
	}
	res := struct {
		Machine string       `json:"machine"`
		Threads int          `json:"threads"`
		Kernel  string       `json:"kernel"`
		Shapes  []gemmResult `json:"shapes"`
	}{Machine: machineName(), Threads: threadsOf(o), Kernel: be.Kernel()}
	if !o.json {
		fmt.Fprintf(out, "SGEMM on %s, %d threads, kernel %s (median GFLOP/s; C = A·B, C = A·Bᵀ)\n", res.Machine, res.Threads, res.Kernel)
	}
	for _, s := range shapes {
		r := gemmResult{M: s[0], N: s[1], K: s[2]}
		r.GFLOPS, r.GFLOPSBest = gemmRate(be, s[0], s[1], s[2], false, 500*time.Millisecond)
		r.GFLOPSNT, _ = gemmRate(be, s[0], s[1], s[2], true, 500*time.Millisecond)
		res.Shapes = append(res.Shapes, r)
		if !o.json {
			fmt.Fprintf(out, "  %5d×%5d×%5d  %7.1f GFLOP/s  (best %.1f; A·Bᵀ %.1f)\n", r.M, r.N, r.K, r.GFLOPS, r.GFLOPSBest, r.GFLOPSNT)
		}
	}
	if o.json {
		return json.NewEncoder(out).Encode(res)
	}
	return nil
}

func threadsOf(o benchOptions) int {
	if o.threads > 0 {
		return o.threads
	}
	return runtime.GOMAXPROCS(0)
}

// modelFLOPs is the multiply-add count ×2 of one training step (forward
// and backward) of cfg on batch×seq tokens.
func modelFLOPs(cfg model.Config, batch, seq int) (trainFLOPs, forwardFLOPs float64) {
	var enc, head float64
	for _, p := range cfg.ParamSpecs() {
		switch {
		case p.Kind == model.Embedding:
		case strings.HasPrefix(p.Name, "bert.encoder."):
			enc += float64(p.Size())
		default:
			head += float64(p.Size())
		}
	}
	tokens := float64(batch * seq)
	attn := 12 * float64(cfg.NumHiddenLayers) * float64(batch) * float64(seq) * float64(seq) * float64(cfg.HiddenSize)
	trainFLOPs = 6*(enc*tokens+head*float64(batch)) + attn
	return trainFLOPs, trainFLOPs / 3
}

type benchResult struct {
	Machine           string    `json:"machine"`
	Model             string    `json:"model"`
	Layers            int       `json:"layers"`
	Hidden            int       `json:"hidden"`
	Heads             int       `json:"heads"`
	Intermediate      int       `json:"intermediate"`
	Batch             int       `json:"batch"`
	Seq               int       `json:"seq"`
	Steps             int       `json:"steps"`
	Dropout           float64   `json:"dropout"`
	Mixout            float64   `json:"mixout"`
	Threads           int       `json:"threads"`
	Kernel            string    `json:"kernel"`
	MsPerStep         float64   `json:"ms_per_step"`
	ExamplesPerS      float64   `json:"examples_per_s"`
	GFLOPS            float64   `json:"gflops"`
	StepMs            []float64 `json:"step_ms"`
	ForwardMs         float64   `json:"forward_ms,omitempty"`
	ForwardExPerS     float64   `json:"forward_examples_per_s,omitempty"`
	ForwardGFLOPS     float64   `json:"forward_gflops,omitempty"`
	GemmPeakGFLOPS    float64   `json:"gemm_peak_gflops"`
	PeakShare         float64   `json:"peak_share"`
	ForwardPeakShare  float64   `json:"forward_peak_share,omitempty"`
	StepGFLOP         float64   `json:"step_gflop"`
	AllocBytesPerStep float64   `json:"alloc_bytes_per_step"`
	AllocsPerStep     float64   `json:"allocs_per_step"`
	MaxRSSMiB         float64   `json:"max_rss_mib"`
}

func benchModel(out io.Writer, be *cpu.Backend, o benchOptions) error {
	cfg, name := model.Config{}, o.preset
	var err error
	if o.config != "" {
		cfg, err = model.ReadConfig(o.config)
		name = o.config
	} else {
		cfg, err = model.Preset(o.preset)
	}
	if err != nil {
		return err
	}
	if o.seq > cfg.MaxPositionEmbeddings {
		return fmt.Errorf("--seq: %d exceeds the model's max_position_embeddings %d", o.seq, cfg.MaxPositionEmbeddings)
	}
	w := model.InitWeights(cfg, o.seed)
	m, err := model.New(be, cfg, w)
	if err != nil {
		return fmt.Errorf("model %s: %w", name, err)
	}
	if o.mixout > 0 {
		// As finetune's default output_layer dropout: every Linear but the new classifier.
		for _, l := range m.Linears() {
			if l == &m.Classifier {
				continue
			}
			if err := m.SetMixout(l, w[l.Name+".weight"], model.MixoutOptions{P: o.mixout}); err != nil {
				return err
			}
		}
	}
	grads := m.NewGrads()
	var params []*train.Param
	for _, spec := range cfg.ParamSpecs() {
		p, _ := m.Param(spec.Name)
		prm := &train.Param{Spec: spec, P: p, G: grads.Get(spec.Name), LRScale: 1}
		if spec.Kind == model.Embedding || spec.Kind == model.LinearWeight {
			prm.WeightDecay = 0.01
		}
		params = append(params, prm)
	}
	opt := train.NewAdamW(be, params)
	w = nil // the host copy is no longer needed (mixout targets live on the backend)

	// A random batch: ids in [1, vocab), one segment, no padding.
	rng := rand.New(rand.NewPCG(o.seed, 7))
	n := o.batch * o.seq
	b := &model.Batch{Size: o.batch, Seq: o.seq, InputIDs: make([]int32, n), TokenTypeIDs: make([]int32, n), AttentionMask: make([]int32, n)}
	for i := range b.InputIDs {
		b.InputIDs[i] = int32(1 + rng.IntN(cfg.VocabSize-1))
		b.AttentionMask[i] = 1
	}
	labels := make([]int32, o.batch)
	for i := range labels {
		labels[i] = int32(rng.IntN(max(cfg.NumLabels, 1)))
	}
	var targets []float32
	if cfg.Regression() {
		targets = make([]float32, o.batch)
	}
	if err := m.Check(b); err != nil {
		return err
	}
	acts := m.NewActivations(o.batch, o.seq)
	p := float32(o.dropout)
	step := func(s int) error {
		m.DrawMixout(o.seed, uint64(s))
		m.ForwardTrain(b, acts, model.TrainStep{HiddenDropout: p, AttentionDropout: p, ClassifierDropout: p, Seed: o.seed, Step: uint64(s)})
		if _, err := m.Loss(acts, labels, targets, 1); err != nil {
			return err
		}
		m.Backward(b, acts, grads)
		opt.Step(2e-5)
		opt.ZeroGrad()
		return nil
	}
	for s := 0; s < o.warm; s++ {
		if err := step(s); err != nil {
			return err
		}
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	times := make([]float64, o.steps)
	for s := range times {
		t0 := time.Now()
		if err := step(o.warm + s); err != nil {
			return err
		}
		times[s] = time.Since(t0).Seconds() * 1000
	}
	runtime.ReadMemStats(&after)
	trainF, fwdF := modelFLOPs(cfg, o.batch, o.seq)
	r := benchResult{
		Machine: machineName(), Model: name, Layers: cfg.NumHiddenLayers, Hidden: cfg.HiddenSize,
		Heads: cfg.NumAttentionHeads, Intermediate: cfg.IntermediateSize, Batch: o.batch, Seq: o.seq,
		Steps: o.steps, Dropout: o.dropout, Mixout: o.mixout, Threads: threadsOf(o), Kernel: be.Kernel(),
		StepMs: times, StepGFLOP: trainF / 1e9,
		AllocBytesPerStep: float64(after.TotalAlloc-before.TotalAlloc) / float64(o.steps),
		AllocsPerStep:     float64(after.Mallocs-before.Mallocs) / float64(o.steps),
	}
	r.MsPerStep = median(times)
	r.ExamplesPerS = float64(o.batch) / (r.MsPerStep / 1000)
	r.GFLOPS = trainF / (r.MsPerStep / 1000) / 1e9
	if !o.noForward {
		m.Forward(b, acts)
		ft := make([]float64, o.steps)
		for s := range ft {
			t0 := time.Now()
			m.Forward(b, acts)
			ft[s] = time.Since(t0).Seconds() * 1000
		}
		r.ForwardMs = median(ft)
		r.ForwardExPerS = float64(o.batch) / (r.ForwardMs / 1000)
		r.ForwardGFLOPS = fwdF / (r.ForwardMs / 1000) / 1e9
	}
	r.MaxRSSMiB = maxRSSMiB() // before the peak measurement's buffers
	r.GemmPeakGFLOPS, _ = gemmRate(be, 1024, 1024, 1024, false, 300*time.Millisecond)
	r.PeakShare = r.GFLOPS / r.GemmPeakGFLOPS
	if r.ForwardGFLOPS > 0 {
		r.ForwardPeakShare = r.ForwardGFLOPS / r.GemmPeakGFLOPS
	}
	if o.json {
		return json.NewEncoder(out).Encode(r)
	}
	fmt.Fprintf(out, "%s: L%d H%d A%d I%d, batch %d × seq %d, dropout %g, mixout %g, %d threads, kernel %s\n",
		r.Model, r.Layers, r.Hidden, r.Heads, r.Intermediate, r.Batch, r.Seq, r.Dropout, r.Mixout, r.Threads, r.Kernel)
	fmt.Fprintf(out, "  train step:   %8.1f ms/step  %7.1f examples/s  %6.1f GFLOP/s (%.0f%% of the %.1f GFLOP/s SGEMM peak; %.1f GFLOP/step)\n",
		r.MsPerStep, r.ExamplesPerS, r.GFLOPS, 100*r.PeakShare, r.GemmPeakGFLOPS, r.StepGFLOP)
	if r.ForwardMs > 0 {
		fmt.Fprintf(out, "  forward only: %8.1f ms/batch %7.1f examples/s  %6.1f GFLOP/s (%.0f%% of peak)\n",
			r.ForwardMs, r.ForwardExPerS, r.ForwardGFLOPS, 100*r.ForwardPeakShare)
	}
	fmt.Fprintf(out, "  memory: max RSS %.0f MiB; per step %.1f MiB allocated in %.0f allocations\n",
		r.MaxRSSMiB, r.AllocBytesPerStep/(1<<20), r.AllocsPerStep)
	return nil
}
