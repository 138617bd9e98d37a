package train

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/model"
)

// bf16StepTolerance is the relative tolerance of a bf16 step's loss and of
// each gradient tensor (in the 2-norm) against the fp32 step: the CUDA
// backend's bf16 tolerance (internal/gpu stepTolerance), so that CPU and GPU
// bf16 runs are held to one number. Where it comes from: one GEMM with
// inputs rounded to bfloat16 (u = 2^-8) has a relative error near
// u·√(2/3) ≈ 3e-3 (TestGemmBF16Contract measures it); the errors of the
// independent GEMMs on a gradient's path add like a random walk, and the
// deepest path of the fixture's 2-layer model (6 GEMMs a layer forward, 12
// backward, pooler and classifier) holds about 40 of them: √40·3e-3 ≈ 2e-2.
const bf16StepTolerance = 3e-2

// precisionStep is a Step on checkpoint A of the fixtures with its GEMMs at
// prec, and the trajectory's 16 training examples as one batch.
func precisionStep(t *testing.T, prec cpu.Precision, cfg config.Run) (*Step, []MicroBatch) {
	t.Helper()
	ck, err := model.Load(filepath.Join(fixtures, "checkpoints/A"), model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New(2)
	be.SetPrecision(prec)
	m, err := model.New(be, ck.Config, ck.Weights)
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewStep(m, ck.Weights, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := readTrajectory(t, "A")
	return st, []MicroBatch{{Batch: tr.Train.batch(), Labels: tr.Train.Labels}}
}

// TestBF16StepMatchesFP32: the loss and every gradient of one training step
// with bf16 GEMMs against the fp32 step, with dropout and with mixout (the
// same masks: Philox streams do not depend on the precision), within
// bf16StepTolerance; and visibly not equal, so the bf16 path ran.
func TestBF16StepMatchesFP32(t *testing.T) {
	needFixtures(t)
	for _, strategy := range []string{"dropout", "mixout"} {
		t.Run(strategy, func(t *testing.T) {
			cfg := config.Default()
			cfg.Strategy = strategy
			if err := cfg.ApplyStrategy(func(string) bool { return false }); err != nil {
				t.Fatal(err)
			}
			cfg.Seed = 3
			var loss [2]float64
			var grads [2]map[string][]float32
			for i, prec := range []cpu.Precision{cpu.FP32, cpu.BF16} {
				st, mbs := precisionStep(t, prec, cfg)
				l, err := st.Accumulate(mbs, 0)
				if err != nil {
					t.Fatal(err)
				}
				loss[i], grads[i] = l, map[string][]float32{}
				for _, p := range st.Opt.Params {
					g := make([]float32, p.Spec.Size())
					st.Model.Backend.Download(g, p.G)
					grads[i][p.Spec.Name] = g
				}
			}
			if d := math.Abs(loss[1] - loss[0]); !(d <= bf16StepTolerance*math.Abs(loss[0])) {
				t.Fatalf("loss: bf16 %.7g, fp32 %.7g", loss[1], loss[0])
			}
			var total float64
			for _, g := range grads[0] {
				total += sumSq(g, nil)
			}
			total = math.Sqrt(total)
			worst, worstName := 0.0, ""
			for name, want := range grads[0] {
				got := grads[1][name]
				d, n := math.Sqrt(sumSq(got, want)), math.Sqrt(sumSq(want, nil))
				// A gradient that is 0 in exact arithmetic (the key bias:
				// dS's rows sum to 0) keeps what the rounding of the terms
				// that cancel leaves, at most u = 2^-8 of their size, itself
				// below the global norm.
				if n < 1e-3*total {
					if d > 0x1p-8*total {
						t.Errorf("%s: difference %.3g, fp32 norm %.3g, global norm %.3g", name, d, n, total)
					}
					continue
				}
				if rel := d / n; rel > worst {
					worst, worstName = rel, name
				}
			}
			t.Logf("loss bf16 %.7f fp32 %.7f; worst gradient %s: relative difference %.3g", loss[1], loss[0], worstName, worst)
			if worst > bf16StepTolerance {
				t.Fatalf("gradient of %s differs by %.3g relative > %g", worstName, worst, bf16StepTolerance)
			}
			if worst < 1e-4 {
				t.Fatalf("bf16 gradients equal fp32's within %.3g: the GEMMs did not run in bf16", worst)
			}
		})
	}
}

// sumSq is Σ(a−b)² (b nil: Σa²) in float64.
func sumSq(a, b []float32) float64 {
	var s float64
	for i, x := range a {
		d := float64(x)
		if b != nil {
			d -= float64(b[i])
		}
		s += d * d
	}
	return s
}

// lossCurve runs steps full-batch training steps of checkpoint A on the
// trajectory's examples (dropout 0.1, AdamW at lr 1e-4) and returns the
// losses.
func lossCurve(t *testing.T, prec cpu.Precision, seed uint64, steps int) []float64 {
	t.Helper()
	cfg := config.Default()
	cfg.Seed, cfg.Dropout = seed, 0.1
	st, mbs := precisionStep(t, prec, cfg)
	losses := make([]float64, steps)
	for s := range losses {
		l, _, err := st.Run(mbs, uint64(s), 1e-4)
		if err != nil {
			t.Fatal(err)
		}
		losses[s] = l
	}
	return losses
}

// windowMeans averages the curve over consecutive windows of w steps.
func windowMeans(c []float64, w int) []float64 {
	var out []float64
	for i := 0; i+w <= len(c); i += w {
		var s float64
		for _, v := range c[i : i+w] {
			s += v
		}
		out = append(out, s/float64(w))
	}
	return out
}

// TestBF16LossCurveTracksFP32: 200 steps of a tiny finetune in bf16 follow
// the fp32 loss curve with the same seed more closely than fp32 follows
// itself under another seed (other dropout masks): the tolerance is the
// seed noise, measured in the same test. Curves are compared as means over
// windows of 20 steps; the loss must also have fallen (the runs learn).
func TestBF16LossCurveTracksFP32(t *testing.T) {
	needFixtures(t)
	if testing.Short() {
		t.Skip("600 training steps; not in -short")
	}
	const steps, w = 200, 20
	fp32 := windowMeans(lossCurve(t, cpu.FP32, 1, steps), w)
	bf16 := windowMeans(lossCurve(t, cpu.BF16, 1, steps), w)
	other := windowMeans(lossCurve(t, cpu.FP32, 2, steps), w)
	var devBF16, devSeed float64
	for i := range fp32 {
		devBF16 = max(devBF16, math.Abs(bf16[i]-fp32[i]))
		devSeed = max(devSeed, math.Abs(other[i]-fp32[i]))
	}
	t.Logf("window means fp32 %s", fmtCurve(fp32))
	t.Logf("window means bf16 %s", fmtCurve(bf16))
	t.Logf("window means fp32, seed 2 %s", fmtCurve(other))
	t.Logf("largest window difference: bf16 vs fp32 %.4f; seed 2 vs seed 1 (fp32) %.4f", devBF16, devSeed)
	if !(fp32[len(fp32)-1] < 0.5*fp32[0]) || !(bf16[len(bf16)-1] < 0.5*bf16[0]) {
		t.Fatalf("the loss did not halve: fp32 %.4f -> %.4f, bf16 %.4f -> %.4f", fp32[0], fp32[len(fp32)-1], bf16[0], bf16[len(bf16)-1])
	}
	if !(devBF16 <= devSeed) {
		t.Fatalf("bf16 leaves the fp32 curve by %.4f, more than another seed does (%.4f)", devBF16, devSeed)
	}
}

func fmtCurve(c []float64) string {
	s := ""
	for _, v := range c {
		s += fmt.Sprintf(" %.4f", v)
	}
	return s
}
