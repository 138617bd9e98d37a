package data

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTaskNames(t *testing.T) {
	want := []string{"cola", "sst-2", "mrpc", "sts-b", "qqp", "mnli", "qnli", "rte", "wnli", "ax"}
	if got := TaskNames(); !slices.Equal(got, want) {
		t.Fatalf("TaskNames() = %v, want %v", got, want)
	}
}

func TestLookupTask(t *testing.T) {
	for name, want := range map[string]string{
		"cola": "cola", "CoLA": "cola", "sst2": "sst-2", "SST-2": "sst-2", "sst_2": "sst-2",
		"stsb": "sts-b", "STS-B": "sts-b", "mnli": "mnli", "mnli-m": "mnli", "mnli_matched": "mnli",
		"mnli-mm": "mnli-mm", "MNLI_MISMATCHED": "mnli-mm", "ax": "ax", "diagnostic": "ax",
		"qqp": "qqp", "qnli": "qnli", "rte": "rte", " wnli ": "wnli", "mrpc": "mrpc",
	} {
		task, err := LookupTask(name)
		if err != nil {
			t.Errorf("LookupTask(%q): %v", name, err)
			continue
		}
		if task.Name != want {
			t.Errorf("LookupTask(%q).Name = %q, want %q", name, task.Name, want)
		}
	}
	_, err := LookupTask("squad")
	if err == nil {
		t.Fatal("LookupTask(squad): no error")
	}
	for _, n := range append(TaskNames(), "mnli-mm", `"squad"`) {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not mention %s", err, n)
		}
	}

	// The registry cannot be changed through a returned task.
	a, _ := LookupTask("rte")
	a.Labels[0] = "broken"
	a.Splits[0].File = "broken.tsv"
	b, _ := LookupTask("rte")
	if b.Labels[0] != "entailment" || b.Splits[0].File != "train.tsv" {
		t.Fatal("LookupTask returned a shared task")
	}
}

func TestTaskTable(t *testing.T) {
	type want struct {
		labels     []string
		regression bool
		metrics    []string
		primary    string
		sub        string
		dir        string
	}
	bin := []string{"0", "1"}
	nli := []string{"entailment", "not_entailment"}
	mnli := []string{"contradiction", "entailment", "neutral"}
	for name, w := range map[string]want{
		"cola":    {bin, false, []string{"mcc"}, "mcc", "CoLA.tsv", "CoLA"},
		"sst-2":   {bin, false, []string{"acc"}, "acc", "SST-2.tsv", "SST-2"},
		"mrpc":    {bin, false, []string{"acc", "f1", "acc_and_f1"}, "acc_and_f1", "MRPC.tsv", "MRPC"},
		"sts-b":   {nil, true, []string{"pearson", "spearmanr", "corr"}, "corr", "STS-B.tsv", "STS-B"},
		"qqp":     {bin, false, []string{"acc", "f1", "acc_and_f1"}, "acc_and_f1", "QQP.tsv", "QQP"},
		"mnli":    {mnli, false, []string{"acc"}, "acc", "MNLI-m.tsv", "MNLI"},
		"mnli-mm": {mnli, false, []string{"acc"}, "acc", "MNLI-mm.tsv", "MNLI"},
		"qnli":    {nli, false, []string{"acc"}, "acc", "QNLI.tsv", "QNLI"},
		"rte":     {nli, false, []string{"acc"}, "acc", "RTE.tsv", "RTE"},
		"wnli":    {bin, false, []string{"acc"}, "acc", "WNLI.tsv", "WNLI"},
		"ax":      {mnli, false, []string{"acc"}, "acc", "AX.tsv", "diagnostic"},
	} {
		task, err := LookupTask(name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(task.Labels, w.labels) || task.Regression != w.regression ||
			!slices.Equal(task.Metrics, w.metrics) || task.PrimaryMetric != w.primary ||
			task.SubmissionName != w.sub || task.Dir != w.dir {
			t.Errorf("%s: got %+v", name, task)
		}
		if (name == "qqp") != task.SkipShortRows {
			t.Errorf("%s: SkipShortRows = %v", name, task.SkipShortRows)
		}
		wantN := len(w.labels)
		if w.regression {
			wantN = 1
		}
		if task.NumLabels() != wantN {
			t.Errorf("%s: NumLabels = %d", name, task.NumLabels())
		}
		if sub, err := task.SubmissionFile("test"); err != nil || sub != w.sub {
			t.Errorf("%s: SubmissionFile(test) = %q, %v", name, sub, err)
		}
		// Layout invariants the reader relies on.
		for _, s := range task.Splits {
			cols := []int{s.TextACol, s.TextBCol, s.IndexCol, s.LabelCol}
			for _, c := range cols {
				if c >= s.MinCols || c < LastColumn {
					t.Errorf("%s/%s: column %d outside MinCols %d", name, s.Name, c, s.MinCols)
				}
			}
			if s.TextACol < 0 {
				t.Errorf("%s/%s: no text column", name, s.Name)
			}
			if s.LabelCol == LastColumn && s.MinCols <= max(s.TextACol, s.TextBCol, s.IndexCol)+1 {
				t.Errorf("%s/%s: last-column label may overlap a text column", name, s.Name)
			}
			isTest := strings.HasPrefix(s.Name, "test")
			if isTest == s.Labelled() || isTest != (s.SubmissionName != "") || (isTest && s.IndexCol < 0) {
				t.Errorf("%s/%s: test split must be unlabelled, have an index column and a submission name", name, s.Name)
			}
		}
	}
}

func TestSplitPath(t *testing.T) {
	cases := []struct{ task, split, want string }{
		{"rte", "train", "d/train.tsv"},
		{"rte", "validation", "d/dev.tsv"},
		{"rte", "TEST", "d/test.tsv"},
		{"cola", "dev", "d/dev.tsv"},
		{"mnli", "dev", "d/dev_matched.tsv"},
		{"mnli", "dev_matched", "d/dev_matched.tsv"},
		{"mnli", "dev-mm", "d/dev_mismatched.tsv"},
		{"mnli", "dev_mismatched", "d/dev_mismatched.tsv"},
		{"mnli", "validation_mismatched", "d/dev_mismatched.tsv"},
		{"mnli", "test", "d/test_matched.tsv"},
		{"mnli", "test-mm", "d/test_mismatched.tsv"},
		{"mnli", "test_mismatched", "d/test_mismatched.tsv"},
		{"mnli-mm", "dev", "d/dev_mismatched.tsv"},
		{"mnli-mm", "test", "d/test_mismatched.tsv"},
		{"mnli-mm", "train", "d/train.tsv"},
		{"ax", "test", "d/diagnostic.tsv"},
		{"sts-b", "dev", "d/dev.tsv"},
		{"qqp", "test", "d/test.tsv"},
	}
	for _, c := range cases {
		task, _ := LookupTask(c.task)
		got, err := task.SplitPath("d", c.split)
		if err != nil || got != filepath.FromSlash(c.want) {
			t.Errorf("%s.SplitPath(d, %s) = %q, %v; want %q", c.task, c.split, got, err, c.want)
		}
	}
	// A GLUE root is recognised when the task folder under it has the file.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "RTE"), 0o755)
	os.WriteFile(filepath.Join(root, "RTE", "dev.tsv"), []byte("index\tsentence1\tsentence2\tlabel\n"), 0o644)
	rte, _ := LookupTask("rte")
	if got, _ := rte.SplitPath(root, "dev"); got != filepath.Join(root, "RTE", "dev.tsv") {
		t.Errorf("GLUE root: SplitPath = %q", got)
	}
	if got, _ := rte.SplitPath(filepath.Join(root, "RTE"), "dev"); got != filepath.Join(root, "RTE", "dev.tsv") {
		t.Errorf("task folder: SplitPath = %q", got)
	}
	ax, _ := LookupTask("ax")
	if _, err := ax.SplitPath("d", "train"); err == nil || !strings.Contains(err.Error(), "test") {
		t.Errorf("ax train: err = %v", err)
	}
	mnli, _ := LookupTask("mnli")
	if sub, _ := mnli.SubmissionFile("test-mm"); sub != "MNLI-mm.tsv" {
		t.Errorf("mnli test-mm submission = %q", sub)
	}
	if _, err := mnli.SubmissionFile("dev"); err == nil {
		t.Error("SubmissionFile(dev): no error")
	}
}

func TestFormatScore(t *testing.T) {
	for x, want := range map[float64]string{
		0: "0.000", -0.3: "0.000", math.Copysign(0, -1): "0.000", -0.0004: "0.000",
		2.34567: "2.346", 4.9996: "5.000", 5: "5.000", 7.2: "5.000",
		math.Inf(1): "5.000", math.Inf(-1): "0.000", math.NaN(): "NaN",
	} {
		if got := FormatScore(x); got != want {
			t.Errorf("FormatScore(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestWriteSubmission(t *testing.T) {
	dir := t.TempDir()
	rte, _ := LookupTask("rte")
	path := filepath.Join(dir, "RTE.tsv")
	if err := os.WriteFile(path, []byte("old contents\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteSubmission(path, rte, []string{"0", "1", "2"}, []string{"entailment", "not_entailment", "entailment"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "index\tprediction\n0\tentailment\n1\tnot_entailment\n2\tentailment\n"; string(b) != want {
		t.Errorf("file = %q, want %q", b, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v", fi.Mode())
	}

	sts, _ := LookupTask("sts-b")
	spath := filepath.Join(dir, "STS-B.tsv")
	if err := WriteSubmission(spath, sts, []string{"0", "1"}, []string{FormatScore(3.14159), FormatScore(-1)}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(spath); string(b) != "index\tprediction\n0\t3.142\n1\t0.000\n" {
		t.Errorf("sts-b file = %q", b)
	}

	// Errors leave the existing file untouched and no temp files behind.
	bad := []struct {
		name    string
		task    *Task
		indices []string
		preds   []string
	}{
		{"length mismatch", rte, []string{"0"}, []string{"entailment", "entailment"}},
		{"unknown label", rte, []string{"0"}, []string{"neutral"}},
		{"class id instead of label", rte, []string{"0"}, []string{"1"}},
		{"empty index", rte, []string{""}, []string{"entailment"}},
		{"tab in index", rte, []string{"1\t2"}, []string{"entailment"}},
		{"NaN score", sts, []string{"0"}, []string{FormatScore(math.NaN())}},
		{"non-number score", sts, []string{"0"}, []string{"high"}},
		{"nil task", nil, []string{"0"}, []string{"x"}},
	}
	for _, c := range bad {
		err := WriteSubmission(path, c.task, c.indices, c.preds)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), path) {
			t.Errorf("%s: error %q does not start with the path", c.name, err)
		}
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Error("failed write changed the file")
	}
	// eval --output-dir submission/: a missing folder is created.
	if err := WriteSubmission(filepath.Join(dir, "missing-dir", "x.tsv"), rte, nil, nil); err != nil {
		t.Errorf("missing directory: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

// TestHeadClasses: a checkpoint's id2label maps to the task's classes by
// position (LABEL_k), by the task's label words, or by the names Hugging
// Face datasets gives GLUE labels; another task's labels are an error.
func TestHeadClasses(t *testing.T) {
	for _, c := range []struct {
		task  string
		head  []string
		want  []int
		error string
	}{
		{"rte", []string{"LABEL_0", "LABEL_1"}, []int{0, 1}, ""},
		{"rte", []string{"not_entailment", "entailment"}, []int{1, 0}, ""},
		{"mrpc", []string{"not_equivalent", "equivalent"}, []int{0, 1}, ""},
		{"mrpc", []string{"equivalent", "not_equivalent"}, []int{1, 0}, ""},
		{"cola", []string{"unacceptable", "acceptable"}, []int{0, 1}, ""},
		{"sst-2", []string{"negative", "positive"}, []int{0, 1}, ""},
		{"qqp", []string{"not_duplicate", "duplicate"}, []int{0, 1}, ""},
		{"wnli", []string{"not_entailment", "entailment"}, []int{0, 1}, ""},
		{"mnli", []string{"entailment", "neutral", "contradiction"}, []int{1, 2, 0}, ""},
		{"qnli", []string{"entailment", "not_entailment"}, []int{0, 1}, ""},
		{"sts-b", []string{"LABEL_0"}, []int{0}, ""},
		{"mrpc", []string{"entailment", "not_entailment"}, nil, "the model's labels [entailment not_entailment] are not task mrpc's [0 1] (or [not_equivalent equivalent])"},
		{"rte", []string{"not_equivalent", "equivalent"}, nil, "are not task rte's [entailment not_entailment]: it was trained on another task"},
		{"rte", []string{"entailment", "entailment"}, nil, "are not task rte's"},
		{"mnli", []string{"entailment", "not_entailment", "neutral"}, nil, "are not task mnli's"},
	} {
		task, err := LookupTask(c.task)
		if err != nil {
			t.Fatal(err)
		}
		got, err := task.HeadClasses(c.head)
		if c.error != "" {
			var he *HeadLabelsError
			if !errors.As(err, &he) || !strings.Contains(err.Error(), c.error) {
				t.Errorf("%s %v: %v, want an error with %q", c.task, c.head, err, c.error)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s %v: %v %v, want %v", c.task, c.head, got, err, c.want)
		}
	}
	// A custom task's labels are the user's: its own names go by name,
	// others (a GLUE head finetuned further on new data) by position.
	custom := &Task{Name: CustomTaskName, Labels: []string{"neg", "pos"}, Custom: &Custom{}}
	for _, c := range []struct {
		head []string
		want []int
	}{
		{[]string{"pos", "neg"}, []int{1, 0}},
		{[]string{"entailment", "not_entailment"}, []int{0, 1}},
		{[]string{"neg", "neg"}, []int{0, 1}},
	} {
		got, err := custom.HeadClasses(c.head)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("custom %v: %v %v, want %v", c.head, got, err, c.want)
		}
	}
}
