package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/tboard"
)

var ownWords = []string{"good", "bad", "film", "the", "plot", "was", "very", "not", "great", "boring", "actors", "fun"}

// ownRows makes n rows of (text, second text, class) with texts that hold
// commas, quotes and newlines.
func ownRows(n int) [][3]string {
	var rows [][3]string
	for i := range n {
		a := fmt.Sprintf("%s, %s \"%s\"", ownWords[i%len(ownWords)], ownWords[(i*5+1)%len(ownWords)], ownWords[(i*7+2)%len(ownWords)])
		if i%3 == 0 {
			a += "\nsecond line, still the same review"
		}
		b := ownWords[(i*3)%len(ownWords)]
		rows = append(rows, [3]string{a, b, fmt.Sprint(i % 3)})
	}
	return rows
}

func writeCSV(t *testing.T, path string, header []string, rows [][]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write(header)
	w.WriteAll(rows)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readPredictions reads predict's JSON lines.
func readPredictions(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func ownFinetune(t *testing.T, task string, args ...string) (string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "run")
	base := []string{"finetune", "--model", toyModel(t, task), "--output-dir", out, "--max-steps", "4", "--eval-steps", "2",
		"--batch-size", "4", "--max-seq-length", "32", "--seed", "1"}
	code, stdout, stderr := mixft(t, append(base, args...)...)
	if code != 0 {
		t.Fatalf("finetune: exit %d: %s", code, stderr)
	}
	return out, stdout
}

func evalJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, stdout, stderr := mixft(t, append([]string{"eval", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("eval --json: %v: %s", err, stdout)
	}
	return m
}

// Classification on a CSV whose fields hold commas, quotes and newlines:
// finetune (with TensorBoard), eval and predict end to end, and eval's
// metrics equal what the predictions give.
func TestOwnDataCSVClassification(t *testing.T) {
	needShared(t)
	dir := t.TempDir()
	labels := []string{"neg", "pos"}
	var train, dev [][]string
	for i, r := range ownRows(24) {
		row := []string{fmt.Sprint(100 + i), r[0], labels[i%2]}
		if i < 16 {
			train = append(train, row)
		} else {
			dev = append(dev, row)
		}
	}
	trainPath, devPath := filepath.Join(dir, "train.csv"), filepath.Join(dir, "dev.csv")
	writeCSV(t, trainPath, []string{"id", "review", "label"}, train)
	writeCSV(t, devPath, []string{"id", "review", "label"}, dev)

	testPath := filepath.Join(dir, "test.jsonl")
	os.WriteFile(testPath, []byte("{\"review\": \"good, fun film\"}\n{\"review\": \"boring \\\"plot\\\"\\nnot great\"}\n"), 0o644)
	run, stdout := ownFinetune(t, "rte", "--train-file", trainPath, "--validation-file", devPath, "--test-file", testPath, "--report-to", "tensorboard", "--mixout", "0.7")
	for _, w := range []string{`data: classification (asked for) with 2 labels from ` + trainPath + `, sorted [neg, pos]; text "review"; label column "label"`,
		"finished train.csv with mixout 0.7: 4 steps", "regularization: mixout(w_pre, 0.7) + wdecay(0, 0.01), dropout: hidden 0, attention 0, classifier 0.1"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("finetune stdout lacks %q:\n%s", w, stdout)
		}
	}
	if strings.Contains(stdout, "custom") {
		t.Errorf("finetune stdout names the placeholder strategy or task custom:\n%s", stdout)
	}
	var cfg struct {
		ID2Label    map[string]string `json:"id2label"`
		ProblemType string            `json:"problem_type"`
	}
	raw, _ := os.ReadFile(filepath.Join(run, "best", "config.json"))
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg.ID2Label["0"] != "neg" || cfg.ID2Label["1"] != "pos" || cfg.ProblemType != "single_label_classification" {
		t.Errorf("best/config.json: %v id2label %v problem_type %q", err, cfg.ID2Label, cfg.ProblemType)
	}
	for _, f := range []string{"curves.svg", "curves.png"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Errorf("run directory: %v", err)
		}
	}
	events, _ := filepath.Glob(filepath.Join(run, "tensorboard", "events.out.tfevents.*"))
	if len(events) != 1 {
		t.Fatalf("tensorboard event files %v", events)
	}
	b, _ := os.ReadFile(events[0])
	if n := countRecords(t, b); n != 1+4+2 { // file_version, 4 steps, 2 evaluations
		t.Errorf("%d event records, want 7", n)
	}
	for tag, n := range map[string]int{"train/loss": 4, "train/learning_rate": 4, "train/grad_norm": 4, "eval/accuracy": 2, "eval/macro_f1": 2, "eval/f1": 2, "eval/loss": 2} {
		if got := strings.Count(string(b), "\n"+string(rune(len(tag)))+tag+"\x15"); got != n {
			t.Errorf("tag %s in %d events, want %d", tag, got, n)
		}
	}

	// test_file: the final model's predictions, as predict gives them.
	finalPreds := readPredictions(t, filepath.Join(run, "test_predictions.jsonl"))
	again := filepath.Join(dir, "test-preds.jsonl")
	if code, _, stderr := mixft(t, "predict", "--model", filepath.Join(run, "last"), "--input", testPath, "--output", again); code != 0 {
		t.Fatalf("predict: %s", stderr)
	}
	if againPreds := readPredictions(t, again); len(finalPreds) != 2 || len(againPreds) != 2 {
		t.Errorf("test predictions %v, predict %v", finalPreds, againPreds)
	} else {
		for i := range finalPreds {
			a, b := finalPreds[i]["logits"].([]any), againPreds[i]["logits"].([]any)
			if finalPreds[i]["prediction"] != againPreds[i]["prediction"] || math.Abs(a[0].(float64)-b[0].(float64)) > 1e-5 {
				t.Errorf("row %d: finetune's %v, predict's %v", i, finalPreds[i], againPreds[i])
			}
		}
	}

	// Only the model and the data: labels and problem come from the checkpoint.
	m := evalJSON(t, "--model", filepath.Join(run, "best"), "--validation-file", devPath)
	preds := filepath.Join(dir, "preds.jsonl")
	if code, _, stderr := mixft(t, "predict", "--model", filepath.Join(run, "best"), "--input", devPath, "--output", preds); code != 0 {
		t.Fatalf("predict: %s", stderr)
	}
	p := readPredictions(t, preds)
	if len(p) != len(dev) {
		t.Fatalf("%d predictions for %d rows", len(p), len(dev))
	}
	// Accuracy and macro-F1 computed here from predict's output.
	var correct int
	tp, fp, fn := map[string]int{}, map[string]int{}, map[string]int{}
	for i, r := range p {
		got, want := r["prediction"].(string), dev[i][2]
		if got == want {
			correct++
			tp[got]++
		} else {
			fp[got]++
			fn[want]++
		}
	}
	var f1s []float64
	for _, c := range labels {
		if tp[c]+fp[c]+fn[c] > 0 {
			f1s = append(f1s, 2*float64(tp[c])/float64(2*tp[c]+fp[c]+fn[c]))
		}
	}
	macro := 0.0
	for _, f := range f1s {
		macro += f
	}
	macro /= float64(len(f1s))
	pos := 0.0
	if d := 2*tp["pos"] + fp["pos"] + fn["pos"]; d > 0 {
		pos = 2 * float64(tp["pos"]) / float64(d)
	}
	want := map[string]float64{"accuracy": float64(correct) / float64(len(dev)), "macro_f1": macro, "f1": pos}
	for k, v := range want {
		if got, ok := m[k].(float64); !ok || math.Abs(got-v) > 1e-12 {
			t.Errorf("eval %s = %v, predictions give %v", k, m[k], v)
		}
	}
	if m["task"] != "custom" || m["num_examples"] != float64(len(dev)) {
		t.Errorf("eval --json %v", m)
	}
}

// countRecords counts TFRecords, checking their CRCs with the package's own
// known-answer-tested function (tboard's tests decode them independently).
func countRecords(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for len(b) >= 16 {
		l := int(uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24)
		if tboard.MaskedCRC(b[:8]) != uint32(b[8])|uint32(b[9])<<8|uint32(b[10])<<16|uint32(b[11])<<24 {
			t.Fatalf("record %d: length CRC mismatch", n)
		}
		b = b[16+l:]
		n++
	}
	return n
}

// A JSON Lines file with three string labels and a pair of text columns.
func TestOwnDataJSONLPair(t *testing.T) {
	needShared(t)
	dir := t.TempDir()
	names := []string{"contradiction", "entailment", "neutral"}
	write := func(path string, rows [][3]string) {
		var sb strings.Builder
		for _, r := range rows {
			b, _ := json.Marshal(struct {
				Premise    string `json:"premise"`
				Hypothesis string `json:"hypothesis"`
				Gold       string `json:"gold"`
			}{r[0], r[1], names[r[2][0]-'0']})
			sb.Write(append(b, '\n'))
		}
		os.WriteFile(path, []byte(sb.String()), 0o644)
	}
	rows := ownRows(21)
	trainPath, devPath := filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "dev.jsonl")
	write(trainPath, rows[:15])
	write(devPath, rows[15:])
	run, stdout := ownFinetune(t, "mnli", "--train-file", trainPath, "--validation-file", devPath, "--label-column", "gold")
	if !strings.Contains(stdout, `3 labels`) || !strings.Contains(stdout, `text "premise" + "hypothesis"`) {
		t.Errorf("finetune stdout:\n%s", stdout)
	}
	m := evalJSON(t, "--model", filepath.Join(run, "last"), "--validation-file", devPath, "--label-column", "gold")
	if _, ok := m["f1"]; ok || m["accuracy"] == nil || m["macro_f1"] == nil {
		t.Errorf("three-class metrics %v", m)
	}
	preds := filepath.Join(dir, "preds.jsonl")
	if code, _, stderr := mixft(t, "predict", "--model", filepath.Join(run, "last"), "--input", devPath, "--output", preds); code != 0 {
		t.Fatalf("predict: %s", stderr)
	}
	correct := 0
	for i, p := range readPredictions(t, preds) {
		if p["prediction"] == names[rows[15+i][2][0]-'0'] {
			correct++
		}
		if len(p["logits"].([]any)) != 3 {
			t.Fatalf("logits %v", p["logits"])
		}
	}
	if got := float64(correct) / 6; math.Abs(got-m["accuracy"].(float64)) > 1e-12 {
		t.Errorf("eval accuracy %v, predictions give %v", m["accuracy"], got)
	}
}

// Regression only when asked; Pearson and Spearman match the predictions.
func TestOwnDataCSVRegression(t *testing.T) {
	needShared(t)
	dir := t.TempDir()
	var train, dev [][]string
	for i, r := range ownRows(20) {
		row := []string{r[0], r[1], fmt.Sprintf("%.2f", float64(i%7)*0.75)}
		if i < 14 {
			train = append(train, row)
		} else {
			dev = append(dev, row)
		}
	}
	trainPath, devPath := filepath.Join(dir, "train.csv"), filepath.Join(dir, "dev.csv")
	writeCSV(t, trainPath, []string{"a", "b", "score"}, train)
	writeCSV(t, devPath, []string{"a", "b", "score"}, dev)
	run, stdout := ownFinetune(t, "sts-b", "--train-file", trainPath, "--validation-file", devPath, "--label-column", "score", "--problem", "regression")
	if !strings.Contains(stdout, "data: regression (asked for)") {
		t.Errorf("finetune stdout:\n%s", stdout)
	}
	m := evalJSON(t, "--model", filepath.Join(run, "last"), "--validation-file", devPath, "--label-column", "score")
	preds := filepath.Join(dir, "preds.jsonl")
	if code, _, stderr := mixft(t, "predict", "--model", filepath.Join(run, "last"), "--input", devPath, "--output", preds); code != 0 {
		t.Fatalf("predict: %s", stderr)
	}
	var x, y []float64
	for i, p := range readPredictions(t, preds) {
		x = append(x, p["prediction"].(float64))
		var v float64
		fmt.Sscan(dev[i][2], &v)
		y = append(y, v)
	}
	if got, want := m["pearson"].(float64), pearson(x, y); math.Abs(got-want) > 1e-6 {
		t.Errorf("eval pearson %v, predictions give %v", got, want)
	}
	if got, want := m["spearmanr"].(float64), pearson(ranks(x), ranks(y)); math.Abs(got-want) > 1e-6 {
		t.Errorf("eval spearmanr %v, predictions give %v", got, want)
	}
}

func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx, my = mx+x[i], my+y[i]
	}
	mx, my = mx/float64(len(x)), my/float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

// ranks gives average ranks to ties.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && v[idx[j]] == v[idx[i]] {
			j++
		}
		for k := i; k < j; k++ {
			r[idx[k]] = float64(i+j+1) / 2
		}
		i = j
	}
	return r
}

// Each mistake in the user's data ends in one line naming the file and
// the line or column, with exit status 1.
func TestOwnDataErrors(t *testing.T) {
	needShared(t)
	dir := t.TempDir()
	files := map[string]string{
		"train.csv":    "text,label\ngood,pos\nbad,neg\n",
		"unseen.csv":   "text,label\ngood,pos\nfine,meh\n",
		"fields.csv":   "text,label\ngood,pos\ngood, really,pos\n",
		"nolabel.csv":  "sentence,label\ngood,pos\n",
		"empty.csv":    "",
		"utf8.csv":     "text,label\ngood\xff,pos\n",
		"array.jsonl":  "{\"text\": \"good\", \"label\": \"pos\"}\n[\"bad\", \"neg\"]\n",
		"regress.csv":  "text,label\ngood,1.5\nbad,high\n",
		"regtrain.csv": "text,label\ngood,1.5\nbad,0.5\n",
		"kinds.csv":    "text,label\ngood,1\nbad,0\nugly,true\n",
	}
	for name, content := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	model := toyModel(t, "rte")
	ft := func(train, dev string, extra ...string) []string {
		return append([]string{"finetune", "--model", model, "--output-dir", filepath.Join(t.TempDir(), "run"), "--max-steps", "1",
			"--train-file", p(train), "--validation-file", p(dev)}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unseen label", ft("train.csv", "unseen.csv"), p("unseen.csv") + `:3: label "meh" is not in the train file ` + p("train.csv") + " (neg, pos)"},
		{"field count", ft("fields.csv", "train.csv"), p("fields.csv") + ":3: row has 3 comma-separated fields, the header has 2"},
		{"missing column", ft("train.csv", "nolabel.csv"), p("nolabel.csv") + `: no column "text" (columns: "sentence", "label")`},
		{"empty file", ft("empty.csv", "train.csv"), p("empty.csv") + ": empty file"},
		{"invalid utf-8", ft("utf8.csv", "train.csv"), p("utf8.csv") + ":2:5: invalid UTF-8"},
		{"json line not an object", ft("array.jsonl", "train.csv"), p("array.jsonl") + ":2: expected a JSON object, got an array"},
		{"non-numeric regression label", ft("regtrain.csv", "regress.csv", "--problem", "regression"), p("regress.csv") + `:3: label "high" is not a number, and the problem is regression`},
		{"labels of two kinds", ft("kinds.csv", "train.csv"), p("kinds.csv") + `:4: label true is a boolean, but the label on line 2, 1, is a number`},
		{"empty label name", ft("train.csv", "train.csv", "--labels", "pos,,neg"), `custom data: labels "pos,,neg": label 2 of 3 is empty; give every label a name`},
		{"label named twice", ft("train.csv", "train.csv", "--labels", "pos,neg,pos"), `custom data: label "pos" is given twice`},
		{"GLUE task with own data", ft("train.csv", "train.csv", "--task", "rte"), `flag --task: task: "rte" is not empty or custom: train_file gives your own data`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := mixft(t, tc.args...)
			if code != 1 || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want one line with %q", stderr, tc.want)
			}
		})
	}
}

// Labels as the user means them: a model finetuned on neg/pos, finetuned
// again on data labelled 0/1, warns once that the head is matched by
// position, naming both sets; predict takes a file whose optional label
// column holds a label the model does not know.
func TestOwnDataLabelsByPosition(t *testing.T) {
	needShared(t)
	dir := t.TempDir()
	var first, second [][]string
	for i, r := range ownRows(16) {
		first = append(first, []string{r[0], []string{"neg", "pos"}[i%2]})
		second = append(second, []string{r[0], []string{"0", "1.0"}[i%2]})
	}
	firstPath, secondPath := filepath.Join(dir, "first.csv"), filepath.Join(dir, "second.csv")
	writeCSV(t, firstPath, []string{"review", "label"}, first)
	writeCSV(t, secondPath, []string{"review", "label"}, second)
	run, _ := ownFinetune(t, "rte", "--train-file", firstPath, "--validation-file", firstPath)

	out := filepath.Join(dir, "again")
	code, stdout, stderr := mixft(t, "finetune", "--model", filepath.Join(run, "best"), "--output-dir", out, "--max-steps", "1",
		"--batch-size", "4", "--max-seq-length", "32", "--train-file", secondPath, "--validation-file", secondPath)
	if code != 0 {
		t.Fatalf("finetune from the neg/pos model: exit %d: %s", code, stderr)
	}
	warn := "the model's labels [neg, pos] are not the data's labels [0, 1]; they are matched by position (neg -> 0, pos -> 1)"
	if n := strings.Count(stderr+stdout, warn); n != 1 {
		t.Errorf("the position warning appears %d times, want once:\n%s%s", n, stdout, stderr)
	}

	unknown := filepath.Join(dir, "unknown.csv")
	writeCSV(t, unknown, []string{"review", "label"}, [][]string{{"good film", "pos"}, {"bad plot", "maybe"}, {"fun", ""}})
	preds := filepath.Join(dir, "preds.jsonl")
	if code, _, stderr := mixft(t, "predict", "--model", filepath.Join(run, "best"), "--input", unknown, "--output", preds); code != 0 {
		t.Fatalf("predict on a file with an unknown label: exit %d: %s", code, stderr)
	}
	if p := readPredictions(t, preds); len(p) != 3 {
		t.Errorf("%d predictions for 3 rows", len(p))
	}
	// --labels other than the model's: predict matches them by position
	// and says so, once.
	code, _, stderr = mixft(t, "predict", "--model", filepath.Join(run, "best"), "--input", unknown, "--labels", "bad,good", "--output", preds)
	warn = "the model's labels [neg, pos] are not the data's labels [bad, good]; they are matched by position (neg -> bad, pos -> good)"
	if code != 0 || strings.Count(stderr, warn) != 1 {
		t.Errorf("predict --labels bad,good: exit %d, stderr %q lacks the warning %q once", code, stderr, warn)
	}
}
