//go:build cuda

package gpu

// TestBenchmarkSteps times whole BERT training steps on the GPU for
// scripts/gpu-check.sh. It runs only when MIXFT_GPU_BENCH names an output
// file (JSON lines, one per configuration); MIXFT_BENCH_MODELS (default
// "base,large"), MIXFT_BENCH_PRECISIONS (default "bf16,tf32,fp32"),
// MIXFT_BENCH_STEPS (default 20) and MIXFT_BENCH_WARMUP (default 3) shape
// it. Batch 32, sequence 128, as the acceptance.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mixft/mixft/internal/model"
	"github.com/mixft/mixft/internal/train"
)

type benchRow struct {
	Impl         string  `json:"impl"`
	Model        string  `json:"model"`
	Precision    string  `json:"precision"`
	Regularizer  string  `json:"regularizer"`
	Dropout      float64 `json:"dropout"`
	Mixout       float64 `json:"mixout"`
	Batch        int     `json:"batch"`
	Seq          int     `json:"seq"`
	Steps        int     `json:"steps"`
	MsPerStep    float64 `json:"ms_per_step"`
	MsMin        float64 `json:"ms_min"`
	ExamplesPerS float64 `json:"examples_per_s"`
	TFLOPS       float64 `json:"tflops"`
	MFU          float64 `json:"mfu"`
	PeakTFLOPS   float64 `json:"peak_tflops"`
	PeakMemGiB   float64 `json:"peak_mem_gib"`
	Device       string  `json:"device"`
	Driver       int     `json:"driver"`
	Cublas       string  `json:"cublas"`
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envList(name, def string) []string {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	return strings.Split(v, ",")
}

// stepFLOPs is a training step's FLOPs as `mixft bench` counts them:
// 6 × (encoder dense parameters × tokens + head parameters × examples) +
// attention 12·L·B·S²·H.
func stepFLOPs(cfg model.Config, batch, seq int) float64 {
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
	attn := 12 * float64(cfg.NumHiddenLayers) * float64(batch) * float64(seq) * float64(seq) * float64(cfg.HiddenSize)
	return 6*(enc*float64(batch*seq)+head*float64(batch)) + attn
}

// peakTFLOPS is the dense datasheet rate of the card's unit the precision
// uses (0 when the card is not in the table).
func peakTFLOPS(device string, p Precision) float64 {
	type rates struct{ fp32, tf32, bf16 float64 }
	table := []struct {
		key string
		r   rates
	}{
		{"H200", rates{66.9, 494.7, 989.4}},
		{"H100 PCIe", rates{51.2, 378, 756}},
		{"H100", rates{66.9, 494.7, 989.4}},
		{"A100", rates{19.5, 156, 312}},
	}
	for _, e := range table {
		if strings.Contains(device, e.key) {
			switch p {
			case TF32:
				return e.r.tf32
			case BF16:
				return e.r.bf16
			}
			return e.r.fp32
		}
	}
	return 0
}

func TestBenchmarkSteps(t *testing.T) {
	out := os.Getenv("MIXFT_GPU_BENCH")
	if out == "" {
		t.Skip("MIXFT_GPU_BENCH is not set")
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const batch, seq = 32, 128
	steps, warm := envInt("MIXFT_BENCH_STEPS", 20), envInt("MIXFT_BENCH_WARMUP", 3)
	for _, preset := range envList("MIXFT_BENCH_MODELS", "base,large") {
		cfg, err := model.Preset(preset)
		if err != nil {
			t.Fatal(err)
		}
		w := model.InitWeights(cfg, 1)
		for _, precName := range envList("MIXFT_BENCH_PRECISIONS", "bf16,tf32,fp32") {
			prec, err := ParsePrecision(precName)
			if err != nil {
				t.Fatal(err)
			}
			for _, reg := range []struct {
				name            string
				dropout, mixout float64
			}{{"dropout", 0.1, 0}, {"mixout", 0.1, 0.7}} {
				row := benchStep(t, cfg, w, preset, prec, reg.name, reg.dropout, reg.mixout, batch, seq, steps, warm)
				t.Logf("%-5s %-4s %-7s %8.2f ms/step %8.1f ex/s  MFU %.3f  peak %.1f GiB", row.Model, row.Precision,
					row.Regularizer, row.MsPerStep, row.ExamplesPerS, row.MFU, row.PeakMemGiB)
				if err := json.NewEncoder(f).Encode(row); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// benchStep builds a fresh backend and model and times training steps
// exactly as finetune runs them: mixout draw, forward with dropout, loss,
// backward, clipping and AdamW, zeroing the gradients.
func benchStep(t *testing.T, cfg model.Config, w model.Weights, preset string, prec Precision, reg string,
	dropout, mixout float64, batch, seq, steps, warm int) benchRow {
	be, err := New(0, prec)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	m, err := model.New(be, cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if mixout > 0 {
		for _, l := range m.Linears() {
			if l == &m.Classifier {
				continue
			}
			if err := m.SetMixout(l, w[l.Name+".weight"], model.MixoutOptions{P: mixout}); err != nil {
				t.Fatal(err)
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
	rng := rand.New(rand.NewPCG(1, 7))
	n := batch * seq
	b := &model.Batch{Size: batch, Seq: seq, InputIDs: make([]int32, n), TokenTypeIDs: make([]int32, n), AttentionMask: make([]int32, n)}
	for i := range b.InputIDs {
		b.InputIDs[i] = int32(1 + rng.IntN(cfg.VocabSize-1))
		b.AttentionMask[i] = 1
	}
	labels := make([]int32, batch)
	for i := range labels {
		labels[i] = int32(rng.IntN(cfg.NumLabels))
	}
	acts := m.NewActivations(batch, seq)
	p := float32(dropout)
	step := func(s int) {
		m.DrawMixout(1, uint64(s))
		m.ForwardTrain(b, acts, model.TrainStep{HiddenDropout: p, AttentionDropout: p, ClassifierDropout: p, Seed: 1, Step: uint64(s)})
		if _, err := m.Loss(acts, labels, nil, 1); err != nil {
			t.Fatal(err)
		}
		m.Backward(b, acts, grads)
		opt.Step(2e-5)
		opt.ZeroGrad()
	}
	for s := 0; s < warm; s++ {
		step(s)
	}
	be.Synchronize()
	times := make([]float64, steps)
	for s := range times {
		t0 := time.Now()
		step(warm + s)
		be.Synchronize()
		times[s] = float64(time.Since(t0).Microseconds()) / 1000
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	med := sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		med = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	info := be.Info()
	_, peak, _ := be.MemoryStats()
	flops := stepFLOPs(cfg, batch, seq)
	row := benchRow{Impl: "mixft", Model: "bert-" + preset, Precision: prec.String(), Regularizer: reg,
		Dropout: dropout, Mixout: mixout, Batch: batch, Seq: seq, Steps: steps, MsPerStep: med, MsMin: sorted[0],
		ExamplesPerS: float64(batch) / (med / 1000), TFLOPS: flops / (med / 1000) / 1e12,
		PeakTFLOPS: peakTFLOPS(info.Name, prec), PeakMemGiB: float64(peak) / (1 << 30),
		Device: info.Name, Driver: info.Driver, Cublas: fmt.Sprintf("%s (%d)", info.CublasPath, info.CublasVer)}
	if row.PeakTFLOPS > 0 {
		row.MFU = row.TFLOPS / row.PeakTFLOPS
	}
	acts.Free()
	grads.Free()
	return row
}
