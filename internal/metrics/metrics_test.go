package metrics

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/mixft/mixft/internal/fixture"
)

const tol = 1e-9

type metricsFixture struct {
	Classification []struct {
		Name   string                        `json:"name"`
		Preds  []int                         `json:"preds"`
		Labels []int                         `json:"labels"`
		Acc    float64                       `json:"accuracy"`
		F1     *float64                      `json:"f1_binary_pos1"`
		MCC    float64                       `json:"mcc"`
		GLUE   map[string]map[string]float64 `json:"glue"`
	} `json:"classification"`
	Regression []struct {
		Name          string                         `json:"name"`
		Preds         []float64                      `json:"preds"`
		Labels        []float64                      `json:"labels"`
		Pearson       *float64                       `json:"pearson"`
		Spearman      *float64                       `json:"spearman"`
		PearsonIsNaN  bool                           `json:"pearson_is_nan"`
		SpearmanIsNaN bool                           `json:"spearman_is_nan"`
		GLUE          map[string]map[string]*float64 `json:"glue"`
	} `json:"regression"`
}

func loadFixture(t *testing.T) *metricsFixture {
	t.Helper()
	fixturePath := fixture.Path(t, "fixtures/metrics/metrics.json")
	b, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	var f metricsFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("parse %s: %v", fixturePath, err)
	}
	if len(f.Classification) == 0 || len(f.Regression) == 0 {
		t.Fatalf("%s: no cases", fixturePath)
	}
	return &f
}

func near(got, want float64) bool { return math.Abs(got-want) <= tol }

func TestFixtureClassification(t *testing.T) {
	f := loadFixture(t)
	for _, c := range f.Classification {
		t.Run(c.Name, func(t *testing.T) {
			if got := Accuracy(c.Preds, c.Labels); !near(got, c.Acc) {
				t.Errorf("Accuracy = %.17g, want %.17g", got, c.Acc)
			}
			if c.F1 != nil {
				if got := F1(c.Preds, c.Labels, 1); !near(got, *c.F1) {
					t.Errorf("F1 = %.17g, want %.17g", got, *c.F1)
				}
			}
			if got := MatthewsCorr(c.Preds, c.Labels); !near(got, c.MCC) {
				t.Errorf("MatthewsCorr = %.17g, want %.17g", got, c.MCC)
			}
			if len(c.GLUE) == 0 {
				t.Fatal("no glue expectations")
			}
			for task, want := range c.GLUE {
				got, err := GLUE(task, c.Preds, c.Labels, nil, nil)
				if err != nil {
					t.Fatalf("GLUE(%s): %v", task, err)
				}
				if len(got) != len(want) {
					t.Errorf("GLUE(%s) keys = %v, want %v", task, got, want)
				}
				for k, w := range want {
					g, ok := got[k]
					if !ok || !near(g, w) {
						t.Errorf("GLUE(%s)[%s] = %.17g (present %v), want %.17g", task, k, g, ok, w)
					}
				}
			}
		})
	}
}

func checkMaybeNaN(t *testing.T, what string, got float64, want *float64, isNaN bool) {
	t.Helper()
	if isNaN || want == nil {
		if !math.IsNaN(got) {
			t.Errorf("%s = %.17g, want NaN", what, got)
		}
		return
	}
	if !near(got, *want) {
		t.Errorf("%s = %.17g, want %.17g", what, got, *want)
	}
}

func TestFixtureRegression(t *testing.T) {
	f := loadFixture(t)
	for _, c := range f.Regression {
		t.Run(c.Name, func(t *testing.T) {
			checkMaybeNaN(t, "Pearson", Pearson(c.Preds, c.Labels), c.Pearson, c.PearsonIsNaN)
			checkMaybeNaN(t, "Spearman", Spearman(c.Preds, c.Labels), c.Spearman, c.SpearmanIsNaN)
			for task, want := range c.GLUE {
				got, err := GLUE(task, nil, nil, c.Preds, c.Labels)
				if err != nil {
					t.Fatalf("GLUE(%s): %v", task, err)
				}
				if len(got) != len(want) {
					t.Errorf("GLUE(%s) keys = %v, want %v", task, got, want)
				}
				for k, w := range want {
					checkMaybeNaN(t, "GLUE "+task+" "+k, got[k], w, w == nil)
				}
			}
		})
	}
}

func TestSmallCases(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name string
		got  float64
		want float64
	}{
		{"acc empty", Accuracy(nil, nil), nan},
		{"acc length mismatch", Accuracy([]int{1}, []int{1, 0}), nan},
		{"f1 no positives anywhere", F1([]int{0, 0}, []int{0, 0}, 1), 0},
		{"f1 pos=0", F1([]int{0, 1, 0}, []int{0, 0, 1}, 0), 2.0 / 4.0},
		{"mcc empty", MatthewsCorr(nil, nil), 0},
		{"mcc constant preds", MatthewsCorr([]int{1, 1, 1}, []int{0, 1, 0}), 0},
		{"mcc perfect 3 classes", MatthewsCorr([]int{0, 1, 2, 2}, []int{0, 1, 2, 2}), 1},
		{"mcc negative labels", MatthewsCorr([]int{-1, 1, -1, 1}, []int{-1, 1, -1, 1}), 1},
		{"pearson n=1", Pearson([]float64{1}, []float64{2}), nan},
		{"pearson constant", Pearson([]float64{1, 1, 1}, []float64{1, 2, 3}), nan},
		{"pearson NaN input", Pearson([]float64{1, nan, 3}, []float64{1, 2, 3}), nan},
		{"pearson n=2", Pearson([]float64{1, 2}, []float64{3, 1}), -1},
		{"pearson linear", Pearson([]float64{1, 2, 3, 4}, []float64{-2, -4, -6, -8}), -1},
		{"spearman NaN input", Spearman([]float64{1, 2, 3}, []float64{1, nan, 3}), nan},
		{"spearman monotone", Spearman([]float64{1, 2, 3, 4}, []float64{1, 8, 27, 64}), 1},
		// ranks x: 1, 2.5, 2.5, 4; y: 1, 2, 3, 4 -> r = 4.5 / sqrt(4.5*5)
		{"spearman ties", Spearman([]float64{1, 2, 2, 3}, []float64{1, 2, 3, 4}), 4.5 / math.Sqrt(4.5*5)},
	}
	for _, c := range cases {
		if math.IsNaN(c.want) {
			if !math.IsNaN(c.got) {
				t.Errorf("%s = %v, want NaN", c.name, c.got)
			}
			continue
		}
		if !near(c.got, c.want) {
			t.Errorf("%s = %.17g, want %.17g", c.name, c.got, c.want)
		}
	}
}

func TestGLUEErrorsAndNames(t *testing.T) {
	if _, err := GLUE("nope", []int{1}, []int{1}, nil, nil); err == nil {
		t.Error("unknown task: no error")
	}
	if _, err := GLUE("rte", []int{1}, []int{1, 0}, nil, nil); err == nil {
		t.Error("length mismatch: no error")
	}
	if _, err := GLUE("cola", nil, nil, nil, nil); err == nil {
		t.Error("empty: no error")
	}
	if _, err := GLUE("sts-b", nil, nil, []float64{1, 2}, []float64{1}); err == nil {
		t.Error("sts-b length mismatch: no error")
	}
	for task, keys := range map[string][]string{
		"cola": {"mcc"}, "sst-2": {"acc"}, "mnli": {"acc"}, "mnli-mm": {"acc"}, "ax": {"acc"},
		"qqp": {"acc", "acc_and_f1", "f1"}, "sts-b": {"corr", "pearson", "spearmanr"},
	} {
		m, err := GLUE(task, []int{0, 1, 1}, []int{0, 1, 0}, []float64{1, 2, 3}, []float64{1, 3, 2})
		if err != nil {
			t.Fatalf("GLUE(%s): %v", task, err)
		}
		got := make([]string, 0, len(m))
		for k := range m {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, keys) {
			t.Errorf("GLUE(%s) keys = %v, want %v", task, got, keys)
		}
	}
}

func TestHFEvaluateNames(t *testing.T) {
	m, _ := GLUE("mrpc", []int{0, 1, 1, 1}, []int{0, 1, 0, 1}, nil, nil)
	hf := HFEvaluateNames(m)
	want := map[string]float64{"accuracy": 0.75, "f1": 0.8, "combined_score": 0.775}
	if len(hf) != len(want) {
		t.Fatalf("got %v, want %v", hf, want)
	}
	for k, w := range want {
		if !near(hf[k], w) {
			t.Errorf("%s = %v, want %v", k, hf[k], w)
		}
	}
	if !near(hf["combined_score"], m["acc_and_f1"]) {
		t.Errorf("combined_score %v != acc_and_f1 %v", hf["combined_score"], m["acc_and_f1"])
	}

	cola := HFEvaluateNames(map[string]float64{"mcc": 0.5})
	if len(cola) != 1 || cola["matthews_correlation"] != 0.5 {
		t.Errorf("cola: %v", cola)
	}
	rte := HFEvaluateNames(map[string]float64{"acc": 0.7})
	if len(rte) != 1 || rte["accuracy"] != 0.7 {
		t.Errorf("rte: %v", rte)
	}
	sts, _ := GLUE("sts-b", nil, nil, []float64{1, 2, 3, 5}, []float64{1, 3, 2, 4})
	hs := HFEvaluateNames(sts)
	if len(hs) != 3 || !near(hs["combined_score"], sts["corr"]) || hs["pearson"] != sts["pearson"] || hs["spearmanr"] != sts["spearmanr"] {
		t.Errorf("sts-b: %v from %v", hs, sts)
	}
	nanSts, _ := GLUE("sts-b", nil, nil, []float64{1, 1, 1}, []float64{1, 3, 2})
	if hn := HFEvaluateNames(nanSts); !math.IsNaN(hn["combined_score"]) {
		t.Errorf("NaN sts-b combined_score = %v, want NaN", hn["combined_score"])
	}
}

func randInts(r *rand.Rand, n, k int) []int {
	x := make([]int, n)
	for i := range x {
		x[i] = r.IntN(k)
	}
	return x
}

func randFloats(r *rand.Rand, n, distinct int) []float64 {
	x := make([]float64, n)
	for i := range x {
		if distinct > 0 {
			x[i] = float64(r.IntN(distinct)) / 2 // many ties
		} else {
			x[i] = r.NormFloat64()
		}
	}
	return x
}

func TestProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 500; iter++ {
		n := 2 + r.IntN(60)
		k := 2 + r.IntN(3)
		p, l := randInts(r, n, k), randInts(r, n, k)

		// MCC is symmetric, in [-1, 1], invariant under relabelling the classes.
		m := MatthewsCorr(p, l)
		if !near(m, MatthewsCorr(l, p)) {
			t.Fatalf("MCC not symmetric: %v vs %v", m, MatthewsCorr(l, p))
		}
		if m < -1-tol || m > 1+tol {
			t.Fatalf("MCC out of range: %v", m)
		}
		perm := r.Perm(k)
		pp, lp := make([]int, n), make([]int, n)
		for i := range p {
			pp[i], lp[i] = perm[p[i]]+10, perm[l[i]]+10
		}
		if !near(m, MatthewsCorr(pp, lp)) {
			t.Fatalf("MCC changed under relabelling: %v vs %v", m, MatthewsCorr(pp, lp))
		}
		if got := MatthewsCorr(l, l); !isConstInt(l) && !near(got, 1) {
			t.Fatalf("MCC(l, l) = %v", got)
		}
		// Binary: MCC equals the phi formula.
		bp, bl := randInts(r, n, 2), randInts(r, n, 2)
		if got, want := MatthewsCorr(bp, bl), phi(bp, bl); !near(got, want) {
			t.Fatalf("binary MCC %v, phi %v", got, want)
		}
		// Accuracy and F1 in [0, 1]; F1 is symmetric in preds and labels.
		if a := Accuracy(p, l); a < 0 || a > 1 {
			t.Fatalf("acc %v", a)
		}
		if f := F1(p, l, 1); f < 0 || f > 1 || !near(f, F1(l, p, 1)) {
			t.Fatalf("F1 %v vs %v", f, F1(l, p, 1))
		}

		// Correlations.
		distinct := 0
		if iter%2 == 0 {
			distinct = 4 + r.IntN(6)
		}
		x, y := randFloats(r, n+1, distinct), randFloats(r, n+1, distinct)
		pr, sr := Pearson(x, y), Spearman(x, y)
		if isConstFloat(x) || isConstFloat(y) {
			if !math.IsNaN(pr) || !math.IsNaN(sr) {
				t.Fatalf("constant input: pearson %v spearman %v", pr, sr)
			}
			continue
		}
		if !near(pr, Pearson(y, x)) || !near(sr, Spearman(y, x)) {
			t.Fatal("correlation not symmetric")
		}
		if pr < -1 || pr > 1 || sr < -1-tol || sr > 1+tol {
			t.Fatalf("out of range: %v %v", pr, sr)
		}
		// Spearman is invariant under strictly increasing transforms, and
		// flips sign under strictly decreasing ones.
		ex, ny := make([]float64, len(x)), make([]float64, len(y))
		for i := range x {
			ex[i] = math.Exp(x[i]) + 3
			ny[i] = -y[i] * y[i] * y[i]
		}
		if !near(Spearman(ex, y), sr) {
			t.Fatalf("Spearman changed under exp: %v vs %v", Spearman(ex, y), sr)
		}
		if !near(Spearman(x, ny), -sr) {
			t.Fatalf("Spearman under decreasing map: %v vs %v", Spearman(x, ny), -sr)
		}
		// Pearson is invariant under positive affine maps.
		ax := make([]float64, len(x))
		for i := range x {
			ax[i] = 2.5*x[i] - 7
		}
		if !near(Pearson(ax, y), pr) {
			t.Fatalf("Pearson changed under affine map: %v vs %v", Pearson(ax, y), pr)
		}
	}
}

func phi(p, l []int) float64 {
	var tp, tn, fp, fn float64
	for i := range p {
		switch {
		case p[i] == 1 && l[i] == 1:
			tp++
		case p[i] == 0 && l[i] == 0:
			tn++
		case p[i] == 1:
			fp++
		default:
			fn++
		}
	}
	den := (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
	if den == 0 {
		return 0
	}
	return (tp*tn - fp*fn) / math.Sqrt(den)
}

func isConstInt(x []int) bool {
	for _, v := range x {
		if v != x[0] {
			return false
		}
	}
	return true
}

func isConstFloat(x []float64) bool {
	for _, v := range x {
		if v != x[0] {
			return false
		}
	}
	return true
}

func TestMacroF1(t *testing.T) {
	for _, c := range []struct {
		preds, labels []int
		want          float64
	}{
		// sklearn's f1_score docstring example: 0.26666666666666666.
		{[]int{0, 2, 1, 0, 0, 1}, []int{0, 1, 2, 0, 1, 2}, 0.8 / 3},
		// Classes present only in the predictions count (F1 0).
		{[]int{0, 1}, []int{0, 0}, (2.0 / 3) / 2},
		{[]int{1, 1, 0}, []int{1, 1, 0}, 1},
	} {
		if got := MacroF1(c.preds, c.labels); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("MacroF1(%v, %v) = %v, want %v", c.preds, c.labels, got, c.want)
		}
	}
	if !math.IsNaN(MacroF1(nil, nil)) || !math.IsNaN(MacroF1([]int{1}, []int{1, 0})) {
		t.Error("MacroF1 of empty or mismatched input is not NaN")
	}
}

func TestClassificationAndRegression(t *testing.T) {
	m, err := Classification([]int{1, 1, 0, 0}, []int{1, 0, 0, 0}, 2)
	if err != nil {
		t.Fatal(err)
	}
	// acc 3/4; F1(1) = 2/(2+1) ; F1(0) = 4/(4+1); macro their mean.
	want := map[string]float64{"accuracy": 0.75, "f1": 2.0 / 3, "macro_f1": (2.0/3 + 0.8) / 2}
	for k, v := range want {
		if math.Abs(m[k]-v) > 1e-15 {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("binary metrics %v", m)
	}
	m3, _ := Classification([]int{0, 1, 2}, []int{0, 1, 1}, 3)
	if _, ok := m3["f1"]; ok || len(m3) != 2 {
		t.Errorf("three classes: %v (no f1 of a positive class)", m3)
	}
	if _, err := Classification(nil, nil, 2); err == nil {
		t.Error("no examples: no error")
	}
	if _, err := Classification([]int{1}, nil, 2); err == nil {
		t.Error("mismatched lengths: no error")
	}
	r, err := Regression([]float64{1, 2, 3, 4}, []float64{1, 3, 2, 4})
	if err != nil {
		t.Fatal(err)
	}
	if r["pearson"] != Pearson([]float64{1, 2, 3, 4}, []float64{1, 3, 2, 4}) || math.Abs(r["spearmanr"]-0.8) > 1e-15 || r["combined_score"] != (r["pearson"]+r["spearmanr"])/2 {
		t.Errorf("regression metrics %v", r)
	}
	if _, err := Regression(nil, nil); err == nil {
		t.Error("no examples: no error")
	}
}
