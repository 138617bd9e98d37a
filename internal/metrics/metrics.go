// Package metrics computes the GLUE evaluation metrics in float64, matching
// scikit-learn (accuracy_score, f1_score, matthews_corrcoef) and SciPy
// (pearsonr, spearmanr) as transformers' glue_compute_metrics uses them.
//
// NaN handling: Pearson and Spearman return NaN when either input is
// constant (SciPy does the same and warns with ConstantInputWarning), when
// fewer than two points are given, when an input holds NaN, and when the
// lengths differ. GLUE passes such NaNs through in its map (STS-B's "corr"
// is then NaN too) rather than turning them into an error; the CLI's JSON
// writer prints NaN as null. Classification metrics never return NaN except
// Accuracy of zero examples or of inputs of different lengths. MCC with a
// zero denominator (constant predictions or labels) is 0, as in sklearn.
package metrics

import (
	"fmt"
	"math"
	"sort"
)

// Accuracy is the fraction of positions where preds equals labels (sklearn
// accuracy_score). NaN for empty input or different lengths.
func Accuracy(preds, labels []int) float64 {
	if len(preds) != len(labels) || len(preds) == 0 {
		return math.NaN()
	}
	correct := 0
	for i := range preds {
		if preds[i] == labels[i] {
			correct++
		}
	}
	return float64(correct) / float64(len(preds))
}

// F1 is sklearn's binary F1 for class pos: 2TP / (2TP + FP + FN), and 0
// when that denominator is 0 (no positive predicted nor true; sklearn's
// zero_division default then warns and gives 0). NaN for different lengths.
func F1(preds, labels []int, pos int) float64 {
	if len(preds) != len(labels) {
		return math.NaN()
	}
	var tp, fp, fn int
	for i := range preds {
		p, l := preds[i] == pos, labels[i] == pos
		switch {
		case p && l:
			tp++
		case p:
			fp++
		case l:
			fn++
		}
	}
	den := 2*tp + fp + fn
	if den == 0 {
		return 0
	}
	return float64(2*tp) / float64(den)
}

// MatthewsCorr is sklearn's matthews_corrcoef (the multiclass R_K formula,
// which equals the binary MCC for two classes). It is 0 when the
// denominator is 0, e.g. for constant predictions or constant labels, and
// for empty input. NaN for different lengths.
func MatthewsCorr(preds, labels []int) float64 {
	if len(preds) != len(labels) {
		return math.NaN()
	}
	// Per-class counts of true labels (t) and predictions (p), as the row
	// and column sums of sklearn's confusion matrix.
	tSum := map[int]float64{}
	pSum := map[int]float64{}
	var correct float64
	for i := range preds {
		tSum[labels[i]]++
		pSum[preds[i]]++
		if preds[i] == labels[i] {
			correct++
		}
	}
	n := float64(len(preds))
	var tp, pp, tt float64 // dot(t_sum, p_sum), dot(p_sum, p_sum), dot(t_sum, t_sum)
	for _, k := range sortedKeys(tSum, pSum) {
		tp += tSum[k] * pSum[k]
		pp += pSum[k] * pSum[k]
		tt += tSum[k] * tSum[k]
	}
	covYtYp := correct*n - tp
	covYpYp := n*n - pp
	covYtYt := n*n - tt
	if covYpYp*covYtYt == 0 {
		return 0
	}
	return covYtYp / math.Sqrt(covYtYt*covYpYp)
}

// sortedKeys returns the union of the maps' keys in increasing order, so
// that sums are taken in sklearn's (sorted label) order.
func sortedKeys(a, b map[int]float64) []int {
	keys := make([]int, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Ints(keys)
	return keys
}

// Pearson is the Pearson correlation coefficient (scipy.stats.pearsonr's
// statistic), clipped to [-1, 1]. NaN when x or y is constant (as SciPy),
// when len < 2, when the lengths differ, or when an input holds NaN. For
// two points it is exactly ±1, as in SciPy.
func Pearson(x, y []float64) float64 {
	n := len(x)
	if n != len(y) || n < 2 || isConstant(x) || isConstant(y) {
		return math.NaN()
	}
	if n == 2 {
		return sign(x[1]-x[0]) * sign(y[1]-y[0])
	}
	mx, my := mean(x), mean(y)
	var sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxx += dx * dx
		syy += dy * dy
	}
	nx, ny := math.Sqrt(sxx), math.Sqrt(syy)
	var r float64
	for i := range x {
		r += ((x[i] - mx) / nx) * ((y[i] - my) / ny)
	}
	return math.Max(-1, math.Min(1, r))
}

// Spearman is Spearman's rank correlation (scipy.stats.spearmanr's
// statistic): the Pearson correlation of the ranks, ties getting their
// average rank. NaN when x or y is constant (as SciPy), when len < 2, when
// the lengths differ, or when an input holds NaN.
func Spearman(x, y []float64) float64 {
	n := len(x)
	if n != len(y) || n < 2 || isConstant(x) || isConstant(y) {
		return math.NaN()
	}
	return Pearson(rank(x), rank(y))
}

// rank returns 1-based average ranks (scipy.stats.rankdata method="average").
func rank(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && x[idx[j]] == x[idx[i]] {
			j++
		}
		// positions i..j-1 (0-based) share ranks i+1..j: average (i+1+j)/2.
		avg := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			r[idx[k]] = avg
		}
		i = j
	}
	return r
}

// isConstant reports whether all values equal the first one; a NaN makes
// the input count as constant (so correlations are NaN, as SciPy's NaN
// propagation gives).
func isConstant(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) {
			return true
		}
	}
	for _, v := range x[1:] {
		if v != x[0] {
			return false
		}
	}
	return true
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// taskKinds maps GLUE task names (canonical and common aliases) to the
// metric set transformers' glue_compute_metrics uses.
var taskKinds = map[string]string{
	"cola":    "mcc",
	"sst-2":   "acc",
	"mrpc":    "acc_f1",
	"sts-b":   "corr",
	"qqp":     "acc_f1",
	"mnli":    "acc",
	"mnli-mm": "acc",
	"qnli":    "acc",
	"rte":     "acc",
	"wnli":    "acc",
	"ax":      "acc",
	"hans":    "acc",
}

// GLUE computes the task's metrics with the names transformers'
// glue_compute_metrics uses:
//
//	cola                                       {"mcc"}
//	sst-2, mnli, mnli-mm, qnli, rte, wnli, ax  {"acc"}
//	mrpc, qqp                                  {"acc", "f1", "acc_and_f1"}  (f1 of class 1; acc_and_f1 = (acc+f1)/2)
//	sts-b                                      {"pearson", "spearmanr", "corr"}  (corr = (pearson+spearmanr)/2)
//
// Classification tasks use preds and labels (class ids) and ignore scores
// and targets; STS-B uses scores (predictions) and targets (gold scores) and
// ignores preds and labels. task is a canonical name, as data.Task.Name
// spells it (data.LookupTask resolves other spellings). Errors: unknown task,
// inputs of different lengths, or no examples. NaN results (STS-B with a
// constant input) are returned in the map, not as an error.
func GLUE(task string, preds []int, labels []int, scores, targets []float64) (map[string]float64, error) {
	name := task
	kind, ok := taskKinds[name]
	if !ok {
		return nil, fmt.Errorf("metrics: unknown GLUE task %q", task)
	}
	if kind == "corr" {
		if len(scores) != len(targets) {
			return nil, fmt.Errorf("metrics: task %s: %d predicted scores but %d targets", name, len(scores), len(targets))
		}
		if len(scores) == 0 {
			return nil, fmt.Errorf("metrics: task %s: no examples", name)
		}
		p, s := Pearson(scores, targets), Spearman(scores, targets)
		return map[string]float64{"pearson": p, "spearmanr": s, "corr": (p + s) / 2}, nil
	}
	if len(preds) != len(labels) {
		return nil, fmt.Errorf("metrics: task %s: %d predictions but %d labels", name, len(preds), len(labels))
	}
	if len(preds) == 0 {
		return nil, fmt.Errorf("metrics: task %s: no examples", name)
	}
	switch kind {
	case "mcc":
		return map[string]float64{"mcc": MatthewsCorr(preds, labels)}, nil
	case "acc_f1":
		acc, f1 := Accuracy(preds, labels), F1(preds, labels, 1)
		return map[string]float64{"acc": acc, "f1": f1, "acc_and_f1": (acc + f1) / 2}, nil
	default:
		return map[string]float64{"acc": Accuracy(preds, labels)}, nil
	}
}

// evaluateNames maps glue_compute_metrics names to Hugging Face evaluate's
// glue metric names; "" drops a derived metric (run_glue.py's
// combined_score replaces it).
var evaluateNames = map[string]string{
	"acc":        "accuracy",
	"mcc":        "matthews_correlation",
	"f1":         "f1",
	"pearson":    "pearson",
	"spearmanr":  "spearmanr",
	"acc_and_f1": "",
	"corr":       "",
}

// HFEvaluateNames renames GLUE's metrics (as returned by GLUE) to the keys
// of Hugging Face evaluate's "glue" metric: mcc -> matthews_correlation,
// acc -> accuracy, f1, pearson and spearmanr unchanged. The derived
// acc_and_f1 and corr are dropped and, when more than one metric remains
// (MRPC, QQP, STS-B), "combined_score" is added as their mean, as
// transformers' examples/pytorch/text-classification/run_glue.py reports it
// (it equals acc_and_f1 or corr). Unknown keys are kept as they are.
func HFEvaluateNames(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m)+1)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a fixed summation order
	var sum float64
	count := 0
	for _, k := range keys {
		v := m[k]
		hf, known := evaluateNames[k]
		switch {
		case !known:
			out[k] = v
		case hf != "":
			out[hf] = v
			sum += v
			count++
		}
	}
	if count > 1 {
		out["combined_score"] = sum / float64(count)
	}
	return out
}

// MacroF1 is sklearn's f1_score(average="macro"): the unweighted mean of
// the per-class F1 over the classes that occur in labels or preds (sklearn's
// unique_labels), each 0 when it has no true nor predicted member. NaN for
// empty input or different lengths.
func MacroF1(preds, labels []int) float64 {
	if len(preds) != len(labels) || len(preds) == 0 {
		return math.NaN()
	}
	present := map[int]float64{}
	for i := range preds {
		present[preds[i]], present[labels[i]] = 1, 1
	}
	classes := sortedKeys(present, nil)
	var sum float64
	for _, c := range classes {
		sum += F1(preds, labels, c)
	}
	return sum / float64(len(classes))
}

// Classification scores a custom classification dataset: "accuracy" and
// "macro_f1", and with two classes also "f1", the F1 of class 1 (the second
// label of the sorted label set, sklearn's pos_label=1). Keys are Hugging
// Face evaluate's spellings. Errors: different lengths, no examples.
func Classification(preds, labels []int, numClasses int) (map[string]float64, error) {
	if len(preds) != len(labels) {
		return nil, fmt.Errorf("metrics: %d predictions but %d labels", len(preds), len(labels))
	}
	if len(preds) == 0 {
		return nil, fmt.Errorf("metrics: no examples")
	}
	m := map[string]float64{"accuracy": Accuracy(preds, labels), "macro_f1": MacroF1(preds, labels)}
	if numClasses == 2 {
		m["f1"] = F1(preds, labels, 1)
	}
	return m, nil
}

// Regression scores a custom regression dataset as GLUE scores STS-B, with
// evaluate's keys: "pearson", "spearmanr" and "combined_score", their mean.
// Errors: different lengths, no examples.
func Regression(scores, targets []float64) (map[string]float64, error) {
	if len(scores) != len(targets) {
		return nil, fmt.Errorf("metrics: %d predicted scores but %d targets", len(scores), len(targets))
	}
	if len(scores) == 0 {
		return nil, fmt.Errorf("metrics: no examples")
	}
	p, s := Pearson(scores, targets), Spearman(scores, targets)
	return map[string]float64{"pearson": p, "spearmanr": s, "combined_score": (p + s) / 2}, nil
}
