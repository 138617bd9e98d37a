package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
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

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/config"
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
		Short: "Time training steps, forward passes and the GEMM on this machine",
		Long: `bench times a backend (--device) on random token ids: training steps
exactly as finetune runs them (the same code: mixout draw, forward with
dropout, loss, backward, AdamW with clipping) and forward-only passes, of a
model preset (` + strings.Join(model.PresetNames(), ", ") + `; vocab 30522) or of the model a
Hugging Face config.json describes (--model-config). It prints ms/step,
examples/s, the achieved GFLOP/s and their share of the peak: on the CPU,
this machine's GEMM at the step's precision (the SGEMM, or with --precision
bf16 the bf16 GEMM) measured in the same run on a 1024³ product, and the
micro-kernel that ran (avx512bf16 12x32 and amx 32x32 are chosen from
CPUID; AMX only where the kernel grants tile permission); on a GPU
(a build with -tags cuda, --device cuda:N[:fp32|tf32|bf16]), the card's
dense datasheet rate at the GEMM precision, with the peak device memory
and the device's description (card, compute capability, driver, PTX
target, the cuBLAS file and version loaded; device_info in --json).

Model FLOPs: training 6 × (encoder dense parameters × tokens + head
parameters × examples) + attention 12·L·B·S²·H (ModernBERT's sliding-window
layers: S × the keys within the window instead of S²); forward a third of that.

--gemm instead prints the GEMM's GFLOP/s (the SGEMM, or the bf16 GEMM with
--precision bf16) on square 512/1024/2048 and the BERT shapes
4096×256×256, 4096×1024×256 and 4096×256×1024 (m×n×k), for C = A·B and
for C = A·Bᵀ (the model's Linear forward), after the kernels this CPU
runs (and why the others cannot) and the cache blocks, derived from the
cache sizes the machine reports.

Timings are medians over the timed steps; --warmup-steps run first, untimed.`,
		Example: `  mixft bench --preset mini --batch 32 --seq 128 --dropout 0.1
  mixft bench --preset small --mixout 0.7 --dropout 0 --json
  mixft bench --preset base --precision bf16 --mixout 0.7 --dropout 0 --steps 3
  mixft bench --gemm --precision bf16 --shapes 4096x2304x768,4096x768x3072
  mixft bench --device cuda:0:bf16 --preset large --mixout 0.7 --steps 15 --no-forward
  mixft bench --model-config models/mine/config.json --steps 3
  mixft bench --model-config models/modernbert-base/config.json --batch 1 --seq 8192 --steps 1 --warmup-steps 0 --no-forward
  mixft bench --gemm --json`,
		Args: cobra.NoArgs,
		RunE: runE(o, runF),
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
	f.StringVar(&o.device, "device", "cpu", "compute device: cpu (cuda:N[:fp32|tf32|bf16] needs a build with -tags cuda)")
	f.IntVar(&o.threads, "threads", 0, "CPU worker goroutines (0: GOMAXPROCS)")
	f.StringVar(&o.precision, "precision", "fp32", precisionHelp)
	f.StringVar(&o.kernel, "kernel", "", "GEMM micro-kernel: fp32 "+strings.Join(cpu.Kernels(), ", ")+"; bf16 "+strings.Join(bf16KernelNames(), ", ")+" (default the first of the precision's)")
	f.BoolVar(&o.gemm, "gemm", false, "time the SGEMM alone on the acceptance shapes")
	f.StringVar(&o.shapes, "shapes", "", "--gemm: comma-separated m×n×k shapes to time instead, e.g. 512x512x512,4096x256x1024")
	f.BoolVar(&o.noForward, "no-forward", false, "skip the forward-only timing")
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	f.Uint64Var(&o.seed, "seed", 42, "seed of the weights, token ids and masks")
	f.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the timed steps to this file")
	bindSettings(cmd)
	return cmd
}

// benchOptions are bench's settings.
type benchOptions struct {
	common
	preset, config, kernel  string
	device, precision       string
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
	case config.CheckDropout("dropout", o.dropout) != nil:
		return s.fieldError(config.CheckDropout("dropout", o.dropout))
	case config.CheckMixout("mixout", o.mixout) != nil:
		return s.fieldError(config.CheckMixout("mixout", o.mixout))
	case o.threads < 0:
		return s.bad("threads", o.threads, "0 (GOMAXPROCS) or more")
	}
	return s.choice("precision", o.precision, "fp32", "bf16", "tf32")
}

// runBench times the SGEMM (--gemm) or the model's steps.
func runBench(o *benchOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	be, err := newBackend(o.device, o.threads, o.precision)
	if err != nil {
		return err
	}
	cb, onCPU := be.(*cpu.Backend)
	if o.kernel != "" {
		if !onCPU {
			return fmt.Errorf("%s: only the CPU backend has GEMM micro-kernels (device is %s)", o.settings.source("kernel"), o.device)
		}
		set := cb.SetKernel
		if cb.Precision() == cpu.BF16 {
			set = cb.SetBF16Kernel
		}
		if err := set(o.kernel); err != nil {
			return fmt.Errorf("%s: %w", o.settings.source("kernel"), err)
		}
	}
	if o.gemm {
		if !onCPU {
			return fmt.Errorf("%s: times the CPU backend's GEMM (device is %s, expected cpu)", o.settings.source("gemm"), o.device)
		}
		return benchGemm(o.stdout, cb, *o)
	}
	return benchModel(o.stdout, be, *o)
}

// accelerator is what bench needs of a backend that queues its work on a
// device (the CUDA backend).
type accelerator interface {
	// Synchronize waits for the queued work; the clock is read after it.
	Synchronize()
	// MemoryStats reports device bytes in use, at most so far, and cached.
	MemoryStats() (inUse, peak, cached int64)
	// DeviceName is the card's name, GEMMPrecision the precision of its
	// GEMMs (fp32, tf32, bf16), PeakTFLOPS the card's dense datasheet rate
	// at that precision (0 when not known).
	DeviceName() string
	GEMMPrecision() string
	PeakTFLOPS() float64
	// Info describes the card, the driver, the PTX target and the GEMM
	// library (the cuBLAS file loaded and its version).
	Info() backend.DeviceInfo
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
		Machine   string       `json:"machine"`
		Threads   int          `json:"threads"`
		Precision string       `json:"precision"`
		Kernel    string       `json:"kernel"`
		Kernels   []string     `json:"kernels"`
		Missing   []string     `json:"kernels_missing,omitempty"`
		Blocking  string       `json:"blocking"`
		Calib     any          `json:"calibration,omitempty"`
		Shapes    []gemmResult `json:"shapes"`
	}{Machine: machineName(), Threads: threadsOf(o), Precision: be.Precision().String(), Kernel: be.GEMMKernel(), Kernels: cpu.Kernels(), Blocking: be.Blocking()}
	if be.Precision() == cpu.BF16 {
		res.Kernels, res.Missing = cpu.BF16Kernels()
	}
	if c := be.Calibration(); c.Key != "" {
		res.Calib = struct {
			cpu.Calibration
			Source string `json:"source"`
		}{c, c.Source}
	}
	if !o.json {
		fmt.Fprintf(out, "%s on %s, %d threads, kernel %s (median GFLOP/s; C = A·B, C = A·Bᵀ)\n", gemmName(res.Precision), res.Machine, res.Threads, res.Kernel)
		fmt.Fprintf(out, "  kernels this CPU runs, best first: %s\n", strings.Join(res.Kernels, ", "))
		for _, m := range res.Missing {
			fmt.Fprintf(out, "  not available: %s\n", m)
		}
		fmt.Fprintf(out, "  blocking: %s\n", res.Blocking)
		if c := be.Calibration(); c.Key != "" {
			fmt.Fprintf(out, "  calibration: fp32 %s, bf16 %s; %s\n", c.FP32, c.BF16, c.Source)
			names := slices.Sorted(maps.Keys(c.GFLOPS))
			for _, name := range names {
				fmt.Fprintf(out, "    %-20s %7.1f GFLOP/s on 384×768×768 (best of 5, %s)\n", name, c.GFLOPS[name], c.Measured)
			}
			for _, name := range slices.Sorted(maps.Keys(c.Rejected)) {
				fmt.Fprintf(out, "    %-20s rejected: %s\n", name, c.Rejected[name])
			}
		}
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

// gemmName names the GEMM of a precision: "SGEMM" for fp32, "bf16 GEMM".
func gemmName(precision string) string {
	if precision == "fp32" {
		return "SGEMM"
	}
	return precision + " GEMM"
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
		case p.Block == model.Encoder:
			enc += float64(p.Size())
		default:
			head += float64(p.Size())
		}
	}
	tokens := float64(batch * seq)
	// 12·B·S·keys·H per layer: keys = S, or for ModernBERT's sliding-window
	// layers the mean number of keys within the window.
	var attn float64
	for l := range cfg.NumHiddenLayers {
		keys := float64(seq)
		if cfg.Family() == model.ModernBERT {
			if w := cfg.AttnWindow(l); w >= 0 {
				n := 0
				for i := range seq {
					n += min(seq, i+w+1) - max(0, i-w)
				}
				keys = float64(n) / float64(seq)
			}
		}
		attn += 12 * float64(batch) * float64(seq) * keys * float64(cfg.HiddenSize)
	}
	trainFLOPs = 6*(enc*tokens+head*float64(batch)) + attn
	return trainFLOPs, trainFLOPs / 3
}

type benchResult struct {
	Machine           string    `json:"machine"`
	Device            string    `json:"device"`
	Precision         string    `json:"precision,omitempty"`
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
	Threads           int       `json:"threads,omitempty"`
	Kernel            string    `json:"kernel,omitempty"`
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
	PeakMemGiB        float64   `json:"peak_mem_gib,omitempty"`
	// DeviceInfo describes an accelerator (card, compute capability,
	// driver, PTX target, cuBLAS file and version).
	DeviceInfo *backend.DeviceInfo `json:"device_info,omitempty"`
}

// benchModel times training steps (train.Step, as finetune runs them) and
// forward passes of a random model on a random batch. On an accelerator
// the peak is the card's datasheet rate (gemm_peak_gflops then holds it,
// and peak_share is the MFU).
func benchModel(out io.Writer, be backend.Backend, o benchOptions) (err error) {
	cfg, name := model.Config{}, o.preset
	if o.config != "" {
		cfg, err = model.ReadConfig(o.config)
		name = o.config
	} else {
		cfg, err = model.Preset(o.preset)
	}
	if err != nil {
		return err
	}
	if o.seq > cfg.MaxSeqLen() {
		return fmt.Errorf("--seq: %d exceeds the model's longest sequence %d (max_position_embeddings %d)", o.seq, cfg.MaxSeqLen(), cfg.MaxPositionEmbeddings)
	}
	w := model.InitWeights(cfg, o.seed)
	m, err := model.New(be, cfg, w)
	if err != nil {
		return fmt.Errorf("model %s: %w", name, err)
	}
	// finetune's defaults (weight decay 0.01 toward zero, the classifier
	// without mixout, AdamW, clipping at 1) with bench's dropout and mixout.
	rc := config.Default()
	rc.Seed, rc.MaxSeqLength, rc.Dropout, rc.Mixout = o.seed, o.seq, o.dropout, o.mixout
	st, err := train.NewStep(m, w, rc)
	if err != nil {
		return err
	}
	w = nil // the host copy is no longer needed (mixout targets live on the backend)
	mbs := []train.MicroBatch{randomBatch(cfg, o)}
	step := func(s int) error {
		_, _, err := st.Run(mbs, uint64(s), 2e-5)
		return err
	}
	acc, _ := be.(accelerator)
	wait := func() {
		if acc != nil {
			acc.Synchronize()
		}
	}
	for s := 0; s < o.warm; s++ {
		if err := step(s); err != nil {
			return err
		}
	}
	wait()
	if o.cpuprofile != "" {
		// Profiled in memory, written once complete (atomicfile.Write).
		var prof bytes.Buffer
		if err := pprof.StartCPUProfile(&prof); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if werr := atomicfile.WriteFile(o.cpuprofile, prof.Bytes(), 0o644); werr != nil && err == nil {
				err = fmt.Errorf("--cpuprofile: %w", werr)
			}
		}()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	times, err := timeMs(o.steps, wait, func(s int) error { return step(o.warm + s) })
	if err != nil {
		return err
	}
	runtime.ReadMemStats(&after)
	trainF, fwdF := modelFLOPs(cfg, o.batch, o.seq)
	r := benchResult{
		Machine: machineName(), Device: o.device, Model: name, Layers: cfg.NumHiddenLayers, Hidden: cfg.HiddenSize,
		Heads: cfg.NumAttentionHeads, Intermediate: cfg.IntermediateSize, Batch: o.batch, Seq: o.seq,
		Steps: o.steps, Dropout: o.dropout, Mixout: o.mixout, StepMs: times, StepGFLOP: trainF / 1e9,
		AllocBytesPerStep: float64(after.TotalAlloc-before.TotalAlloc) / float64(o.steps),
		AllocsPerStep:     float64(after.Mallocs-before.Mallocs) / float64(o.steps),
	}
	r.MsPerStep = median(times)
	r.ExamplesPerS = float64(o.batch) / (r.MsPerStep / 1000)
	r.GFLOPS = trainF / (r.MsPerStep / 1000) / 1e9
	if !o.noForward {
		b, acts := mbs[0].Batch, st.Activations()
		m.Forward(b, acts)
		ft, _ := timeMs(o.steps, wait, func(int) error { m.Forward(b, acts); return nil })
		r.ForwardMs = median(ft)
		r.ForwardExPerS = float64(o.batch) / (r.ForwardMs / 1000)
		r.ForwardGFLOPS = fwdF / (r.ForwardMs / 1000) / 1e9
	}
	r.MaxRSSMiB = maxRSSMiB() // before the peak measurement's buffers
	if cb, ok := be.(*cpu.Backend); ok {
		// The peak is the GEMM at the step's precision (SGEMM, or the bf16
		// GEMM), measured now on the same backend.
		r.Threads, r.Kernel, r.Precision = threadsOf(o), cb.GEMMKernel(), cb.Precision().String()
		r.GemmPeakGFLOPS, _ = gemmRate(cb, 1024, 1024, 1024, false, 300*time.Millisecond)
	}
	if acc != nil {
		_, peak, _ := acc.MemoryStats()
		r.Machine, r.Precision, r.PeakMemGiB = acc.DeviceName(), acc.GEMMPrecision(), float64(peak)/(1<<30)
		r.GemmPeakGFLOPS = acc.PeakTFLOPS() * 1000
		info := acc.Info()
		r.DeviceInfo = &info
	}
	if r.GemmPeakGFLOPS > 0 {
		r.PeakShare = r.GFLOPS / r.GemmPeakGFLOPS
		r.ForwardPeakShare = r.ForwardGFLOPS / r.GemmPeakGFLOPS
	}
	if o.json {
		return json.NewEncoder(out).Encode(r)
	}
	r.print(out)
	return nil
}

// randomBatch is a batch of random token ids in [1, vocab), one segment, no
// padding, with random labels.
func randomBatch(cfg model.Config, o benchOptions) train.MicroBatch {
	rng := rand.New(rand.NewPCG(o.seed, 7))
	n := o.batch * o.seq
	b := &model.Batch{Size: o.batch, Seq: o.seq, InputIDs: make([]int32, n), TokenTypeIDs: make([]int32, n), AttentionMask: make([]int32, n)}
	for i := range b.InputIDs {
		b.InputIDs[i] = int32(1 + rng.IntN(cfg.VocabSize-1))
		b.AttentionMask[i] = 1
	}
	mb := train.MicroBatch{Batch: b, Labels: make([]int32, o.batch)}
	for i := range mb.Labels {
		mb.Labels[i] = int32(rng.IntN(max(cfg.NumLabels, 1)))
	}
	if cfg.Regression() {
		mb.Targets = make([]float32, o.batch)
	}
	return mb
}

// timeMs runs f(0), ..., f(n-1) and returns each call's milliseconds,
// counted until wait returns (an accelerator's queued work done).
func timeMs(n int, wait func(), f func(i int) error) ([]float64, error) {
	ms := make([]float64, n)
	for i := range ms {
		t0 := time.Now()
		if err := f(i); err != nil {
			return nil, err
		}
		wait()
		ms[i] = time.Since(t0).Seconds() * 1000
	}
	return ms, nil
}

// print writes the result for people.
func (r benchResult) print(out io.Writer) {
	on, peak := fmt.Sprintf("%d threads, %s GEMMs, kernel %s", r.Threads, r.Precision, r.Kernel), gemmName(r.Precision)+" peak"
	if r.DeviceInfo != nil {
		on, peak = fmt.Sprintf("%s on %s, %s GEMMs", r.Device, r.Machine, r.Precision), "datasheet peak"
	}
	fmt.Fprintf(out, "%s: L%d H%d A%d I%d, batch %d × seq %d, dropout %g, mixout %g, %s\n",
		r.Model, r.Layers, r.Hidden, r.Heads, r.Intermediate, r.Batch, r.Seq, r.Dropout, r.Mixout, on)
	fmt.Fprintf(out, "  train step:   %8.1f ms/step  %7.1f examples/s  %6.1f GFLOP/s (%.0f%% of the %.1f GFLOP/s %s; %.1f GFLOP/step)\n",
		r.MsPerStep, r.ExamplesPerS, r.GFLOPS, 100*r.PeakShare, r.GemmPeakGFLOPS, peak, r.StepGFLOP)
	if r.ForwardMs > 0 {
		fmt.Fprintf(out, "  forward only: %8.1f ms/batch %7.1f examples/s  %6.1f GFLOP/s (%.0f%% of peak)\n",
			r.ForwardMs, r.ForwardExPerS, r.ForwardGFLOPS, 100*r.ForwardPeakShare)
	}
	fmt.Fprintf(out, "  memory: max RSS %.0f MiB; per step %.1f MiB allocated in %.0f allocations",
		r.MaxRSSMiB, r.AllocBytesPerStep/(1<<20), r.AllocsPerStep)
	if r.DeviceInfo != nil {
		fmt.Fprintf(out, "; peak device memory %.2f GiB", r.PeakMemGiB)
	}
	fmt.Fprintln(out)
	if r.DeviceInfo != nil {
		fmt.Fprintf(out, "  device: %v\n", *r.DeviceInfo)
	}
}
