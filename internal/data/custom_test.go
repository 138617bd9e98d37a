package data

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/fixture"
)

// writeFiles writes name -> content into a temporary directory and returns
// name -> path.
func writeFiles(t *testing.T, files map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

func TestCustomTaskClassification(t *testing.T) {
	p := writeFiles(t, map[string]string{
		"train.csv": "id,review,label\n1,\"good, very good\",pos\n2,\"said \"\"bad\"\"\nthen left\",neg\n3,meh,neutral\n4,fine,pos\n",
		"dev.jsonl": "{\"review\": \"great\", \"label\": \"pos\", \"id\": 7}\n{\"review\": \"awful\", \"label\": \"neg\"}\n",
	})
	task, err := NewCustomTask(CustomSpec{Files: map[string]string{"train": p["train.csv"], "validation": p["dev.jsonl"]}})
	if err != nil {
		t.Fatal(err)
	}
	if task.Name != CustomTaskName || task.Regression || !slices.Equal(task.Labels, []string{"neg", "neutral", "pos"}) {
		t.Fatalf("task %s regression %v labels %q", task.Name, task.Regression, task.Labels)
	}
	if task.NumLabels() != 3 || task.PrimaryMetric != "accuracy" || !slices.Equal(task.Metrics, []string{"accuracy", "macro_f1"}) {
		t.Errorf("NumLabels %d primary %s metrics %v", task.NumLabels(), task.PrimaryMetric, task.Metrics)
	}
	// The id column is all numbers, so the text column is review.
	if !slices.Equal(task.Custom.TextColumns, []string{"review"}) {
		t.Errorf("text columns %q, want [review]", task.Custom.TextColumns)
	}
	for _, w := range []string{"classification", "3 labels", "sorted", "[neg, neutral, pos]", `"review"`, `label column "label"`} {
		if !strings.Contains(task.Custom.Choice, w) {
			t.Errorf("Choice %q lacks %q", task.Custom.Choice, w)
		}
	}
	train, rep, err := task.ReadSplit("", "train")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 4 || rep.Split != "train" {
		t.Errorf("report %+v", rep)
	}
	want := []Example{
		{Index: "0", Line: 2, TextA: "good, very good", Label: "pos", LabelID: 2, HasLabel: true},
		{Index: "1", Line: 3, TextA: "said \"bad\"\nthen left", Label: "neg", LabelID: 0, HasLabel: true},
		{Index: "2", Line: 5, TextA: "meh", Label: "neutral", LabelID: 1, HasLabel: true},
		{Index: "3", Line: 6, TextA: "fine", Label: "pos", LabelID: 2, HasLabel: true},
	}
	for i := range want {
		want[i].Score = math.NaN()
	}
	if !slices.EqualFunc(train, want, sameExample) {
		t.Errorf("train:\n got %+v\nwant %+v", train, want)
	}
	dev, _, err := task.ReadSplit("", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(dev) != 2 || dev[1].TextA != "awful" || dev[1].LabelID != 0 || dev[1].Line != 2 {
		t.Errorf("dev %+v", dev)
	}
	if _, _, err := task.ReadSplit("", "test"); err == nil || err.Error() != "custom data: no test file given" {
		t.Errorf("test split: %v", err)
	}
}

func sameExample(a, b Example) bool {
	return a.Index == b.Index && a.Line == b.Line && a.TextA == b.TextA && a.TextB == b.TextB && a.Label == b.Label &&
		a.LabelID == b.LabelID && a.HasLabel == b.HasLabel && (a.Score == b.Score || math.IsNaN(a.Score) && math.IsNaN(b.Score))
}

func TestCustomTaskColumns(t *testing.T) {
	p := writeFiles(t, map[string]string{
		"pair.tsv":  "premise\thypothesis\tlabel\tgenre\na\tb\t1\tx\nc\td\t0\ty\n",
		"s12.csv":   "guid,sentence2,label,sentence1\n1,b,0,a\n2,d,1,c\n",
		"named.csv": "q,ctx,verdict\nwhy,because,yes\nhow,so,no\n",
		"num.jsonl": "{\"text\": \"a\", \"label\": 2}\n{\"text\": \"b\", \"label\": 10}\n{\"text\": \"c\", \"label\": 2}\n",
	})
	for _, c := range []struct {
		name    string
		spec    CustomSpec
		text    []string
		labels  []string
		binary  bool
		example Example
	}{
		{"first two text columns", CustomSpec{Files: map[string]string{"train": p["pair.tsv"]}},
			[]string{"premise", "hypothesis"}, []string{"0", "1"}, true, Example{TextA: "a", TextB: "b", Label: "1", LabelID: 1}},
		{"sentence1 and sentence2 win", CustomSpec{Files: map[string]string{"train": p["s12.csv"]}},
			[]string{"sentence1", "sentence2"}, []string{"0", "1"}, true, Example{TextA: "a", TextB: "b", Label: "0", LabelID: 0}},
		{"named columns", CustomSpec{Files: map[string]string{"train": p["named.csv"]}, TextColumns: []string{"ctx"}, LabelColumn: "verdict"},
			[]string{"ctx"}, []string{"no", "yes"}, true, Example{TextA: "because", Label: "yes", LabelID: 1}},
		{"labels given set the order", CustomSpec{Files: map[string]string{"train": p["named.csv"]}, TextColumns: []string{"q", "ctx"}, LabelColumn: "verdict", Labels: []string{"yes", "no"}},
			[]string{"q", "ctx"}, []string{"yes", "no"}, true, Example{TextA: "why", TextB: "because", Label: "yes", LabelID: 0}},
		{"numeric labels sort as numbers", CustomSpec{Files: map[string]string{"train": p["num.jsonl"]}},
			[]string{"text"}, []string{"2", "10"}, true, Example{TextA: "a", Label: "2", LabelID: 0}},
	} {
		task, err := NewCustomTask(c.spec)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(task.Custom.TextColumns, c.text) || !slices.Equal(task.Labels, c.labels) {
			t.Errorf("%s: text %q labels %q, want %q %q", c.name, task.Custom.TextColumns, task.Labels, c.text, c.labels)
		}
		if got := slices.Contains(task.Metrics, "f1"); got != c.binary {
			t.Errorf("%s: metrics %v", c.name, task.Metrics)
		}
		ex, _, err := task.ReadSplit("", "train")
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got, want := ex[0], c.example
		if got.TextA != want.TextA || got.TextB != want.TextB || got.Label != want.Label || got.LabelID != want.LabelID {
			t.Errorf("%s: first example %+v, want %+v", c.name, got, want)
		}
	}
}

func TestCustomTaskRegression(t *testing.T) {
	p := writeFiles(t, map[string]string{
		"train.csv": "s1,s2,label\na,b,0.5\nc,d,-3\ne,f,1e2\n",
		"dev.csv":   "s1,s2,label\na,b,4.25\n",
		"bad.csv":   "s1,s2,label\na,b,high\nc,d,low\n",
	})
	files := map[string]string{"train": p["train.csv"], "dev": p["dev.csv"]}
	// Numbers alone never make a regression problem; a number label's
	// class is its value (1e2 is 100).
	cls, err := NewCustomTask(CustomSpec{Files: files})
	if err != nil || cls.Regression || !slices.Equal(cls.Labels, []string{"-3", "0.5", "100"}) {
		t.Fatalf("default problem: %v regression %v labels %q", err, cls.Regression, cls.Labels)
	}
	for _, problem := range []string{ProblemRegression, ProblemAuto} {
		task, err := NewCustomTask(CustomSpec{Files: files, Problem: problem})
		if err != nil {
			t.Fatal(err)
		}
		if !task.Regression || task.NumLabels() != 1 || task.PrimaryMetric != "combined_score" || !strings.HasPrefix(task.Custom.Choice, "regression ("+map[string]string{ProblemRegression: "asked", ProblemAuto: "problem auto"}[problem]) {
			t.Errorf("%s: regression %v, primary %s, choice %q", problem, task.Regression, task.PrimaryMetric, task.Custom.Choice)
		}
		ex, _, err := task.ReadSplit("", "train")
		if err != nil {
			t.Fatal(err)
		}
		var scores []float64
		for _, e := range ex {
			scores = append(scores, e.Score)
			if e.LabelID != -1 || !e.HasLabel {
				t.Errorf("%s: %+v", problem, e)
			}
		}
		if !slices.Equal(scores, []float64{0.5, -3, 100}) {
			t.Errorf("%s: scores %v", problem, scores)
		}
		if got := task.ScoreLabel(7.125); got != "7.125" {
			t.Errorf("ScoreLabel(7.125) = %q (custom scores are not clipped)", got)
		}
	}
	// auto with a non-number label is classification, and says why.
	auto, err := NewCustomTask(CustomSpec{Files: map[string]string{"train": p["bad.csv"]}, Problem: ProblemAuto})
	if err != nil {
		t.Fatal(err)
	}
	if auto.Regression || !strings.Contains(auto.Custom.Choice, "some label in") {
		t.Errorf("auto on text labels: regression %v, choice %q", auto.Regression, auto.Custom.Choice)
	}
	reg, _ := NewCustomTask(CustomSpec{Files: map[string]string{"train": p["train.csv"], "dev": p["bad.csv"]}, Problem: ProblemRegression})
	if _, _, err := reg.ReadSplit("", "dev"); err == nil || err.Error() != p["bad.csv"]+`:2: label "high" is not a number, and the problem is regression` {
		t.Errorf("non-numeric regression label: %v", err)
	}
}

func TestCustomTaskPredictOnly(t *testing.T) {
	p := writeFiles(t, map[string]string{
		"in.jsonl":  "{\"text\": \"a\"}\n{\"text\": \"b\", \"label\": null}\n",
		"lab.jsonl": "{\"text\": \"a\", \"label\": \"x\"}\n",
	})
	// A saved model's labels, no train file: the test file needs no label.
	task, err := NewCustomTask(CustomSpec{Files: map[string]string{"test": p["in.jsonl"]}, Labels: []string{"x", "y"}})
	if err != nil {
		t.Fatal(err)
	}
	ex, _, err := task.ReadFile(p["in.jsonl"], "test")
	if err != nil || len(ex) != 2 || ex[0].HasLabel || ex[1].HasLabel || ex[1].TextA != "b" {
		t.Fatalf("%v %+v", err, ex)
	}
	ex, _, err = task.ReadFile(p["lab.jsonl"], "test")
	if err != nil || !ex[0].HasLabel || ex[0].LabelID != 0 {
		t.Fatalf("labelled test file: %v %+v", err, ex)
	}
	if _, err := NewCustomTask(CustomSpec{Files: map[string]string{"test": p["in.jsonl"]}}); err == nil || !strings.Contains(err.Error(), "give the labels") {
		t.Errorf("no labels, no train file: %v", err)
	}
}

func TestCustomTaskErrors(t *testing.T) {
	p := writeFiles(t, map[string]string{
		"train.csv":    "text,label\na,x\nb,y\n",
		"dev.csv":      "text,label\nc,x\nd,z\n",
		"nolabel.csv":  "text,target\nc,x\n",
		"notext.csv":   "text,label\n\"a\",x\n",
		"one.csv":      "text,label\na,x\nb,x\n",
		"nulls.jsonl":  "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": null, \"label\": \"y\"}\n",
		"nolab.jsonl":  "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\"}\n",
		"nested.jsonl": "{\"text\": \"a\", \"label\": [1]}\n",
		"numbers.csv":  "a,label\n1,x\n",
		"empty.csv":    "",
	})
	for _, c := range []struct {
		name  string
		spec  CustomSpec
		split string // "" = the error comes from NewCustomTask
		err   string
	}{
		{"unseen dev label", CustomSpec{Files: map[string]string{"train": p["train.csv"], "dev": p["dev.csv"]}}, "dev",
			p["dev.csv"] + `:3: label "z" is not in the train file ` + p["train.csv"] + ` (x, y)`},
		{"missing label column in dev", CustomSpec{Files: map[string]string{"train": p["train.csv"], "dev": p["nolabel.csv"]}}, "dev",
			p["nolabel.csv"] + `: no column "label" (columns: "text", "target"); the validation file needs labels`},
		{"missing text column", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, TextColumns: []string{"sentence"}}, "train",
			p["train.csv"] + `: no column "sentence" (columns: "text", "label")`},
		{"missing label column in train", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, LabelColumn: "gold"}, "",
			p["train.csv"] + `: no column "gold" (columns: "text", "label")`},
		{"one label", CustomSpec{Files: map[string]string{"train": p["one.csv"]}}, "",
			"custom data: classification needs at least 2 labels, got 1 (x)"},
		{"null text", CustomSpec{Files: map[string]string{"train": p["nulls.jsonl"]}}, "train",
			p["nulls.jsonl"] + `:2: text column "text" is null; expected text`},
		{"missing label key", CustomSpec{Files: map[string]string{"train": p["nolab.jsonl"]}}, "",
			p["nolab.jsonl"] + `:2: label column "label" is null; expected a label`},
		{"nested label", CustomSpec{Files: map[string]string{"train": p["nested.jsonl"]}}, "",
			p["nested.jsonl"] + `:1: label column "label" is an object or array`},
		{"no text column", CustomSpec{Files: map[string]string{"train": p["numbers.csv"]}}, "",
			p["numbers.csv"] + `: no text column besides the label "label" (columns: "a", "label"); name the text columns`},
		{"empty file", CustomSpec{Files: map[string]string{"train": p["empty.csv"]}}, "", p["empty.csv"] + ": empty file"},
		{"three text columns", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, TextColumns: []string{"a", "b", "c"}}, "",
			"custom data: 3 text columns given (a,b,c); give one, or a pair"},
		{"text is label", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, TextColumns: []string{"label"}}, "",
			`custom data: column "label" is both a text column and the label column`},
		{"bad problem", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, Problem: "ranking"}, "",
			`custom data: problem type "ranking" is not classification, regression or auto`},
		{"labels for regression", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, Problem: "regression", Labels: []string{"a", "b"}}, "",
			"custom data: a label set (a,b) was given for a regression problem"},
		{"duplicate label", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, Labels: []string{"x", "x"}}, "",
			`custom data: label "x" is given twice`},
		{"train label outside given set", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, Labels: []string{"x", "w"}}, "train",
			p["train.csv"] + `:3: label "y" is not in the label set (x, w)`},
		{"no files", CustomSpec{}, "", "custom data: no file given"},
		{"bad split", CustomSpec{Files: map[string]string{"holdout": p["train.csv"]}}, "", `custom data: unknown split "holdout"`},
	} {
		task, err := NewCustomTask(c.spec)
		if c.split != "" {
			if err != nil {
				t.Errorf("%s: NewCustomTask: %v", c.name, err)
				continue
			}
			_, _, err = task.ReadSplit("", c.split)
		}
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s:\n got %q\nwant %q...", c.name, err, c.err)
		}
	}
}

// A custom task is read through the same Example type as GLUE, and a
// looked-up GLUE task is unaffected.
func TestCustomTaskCloneAndGLUE(t *testing.T) {
	rte, _ := LookupTask("rte")
	if rte.Custom != nil {
		t.Fatal("GLUE task with custom data")
	}
	if got := rte.ScoreLabel(7); got != "5.000" {
		t.Errorf("GLUE ScoreLabel(7) = %q, want the clipped 5.000", got)
	}
}

// GLUE's own TSV files, read as custom data with their header's column
// names, give the examples the GLUE reader gives.
func TestCustomTaskReadsGLUEFiles(t *testing.T) {
	for _, c := range []struct {
		task, file string
		spec       CustomSpec
	}{
		{"rte", "RTE/dev.tsv", CustomSpec{}},
		{"sts-b", "STS-B/dev.tsv", CustomSpec{TextColumns: []string{"sentence1", "sentence2"}, LabelColumn: "score", Problem: ProblemRegression}},
	} {
		path := fixture.Path(t, "glue", c.file)
		glue, err := LookupTask(c.task)
		if err != nil {
			t.Fatal(err)
		}
		want, _, err := glue.ReadFile(path, "dev")
		if err != nil {
			t.Fatal(err)
		}
		spec := c.spec
		spec.Files = map[string]string{"train": path}
		task, err := NewCustomTask(spec)
		if err != nil {
			t.Fatal(err)
		}
		if !task.Regression && !slices.Equal(task.Labels, glue.Labels) {
			t.Errorf("%s: labels %q, GLUE's %q", c.task, task.Labels, glue.Labels)
		}
		got, _, err := task.ReadSplit("", "train")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d examples, GLUE reader %d", c.task, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			w.Index = g.Index // RTE's index column is not read
			if task.Regression {
				w.Label = g.Label // STS-B's raw score text
			}
			if !sameExample(g, w) {
				t.Fatalf("%s row %d:\n got %+v\nwant %+v", c.task, i, g, w)
			}
		}
	}
}
