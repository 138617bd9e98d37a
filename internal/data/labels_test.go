package data

import (
	"slices"
	"strings"
	"testing"
)

// TestLabelOf: how a label cell's text becomes a class key and a kind.
func TestLabelOf(t *testing.T) {
	for _, c := range []struct {
		text  string
		kind  Kind
		typed bool
		want  labelValue
	}{
		{"1", KindString, false, labelValue{"1", KindNumber}},
		{"1.0", KindString, false, labelValue{"1", KindNumber}},
		{"01", KindString, false, labelValue{"1", KindNumber}},
		{"+1", KindString, false, labelValue{"1", KindNumber}},
		{" 1 ", KindString, false, labelValue{"1", KindNumber}},
		{"1e3", KindString, false, labelValue{"1000", KindNumber}},
		{"-0.0", KindString, false, labelValue{"0", KindNumber}},
		{".5", KindString, false, labelValue{"0.5", KindNumber}},
		{"2.50", KindString, false, labelValue{"2.5", KindNumber}},
		{"1e300", KindString, false, labelValue{"1e+300", KindNumber}},
		{"0x10", KindString, false, labelValue{"0x10", KindString}},
		{"1_000", KindString, false, labelValue{"1_000", KindString}},
		{"inf", KindString, false, labelValue{"inf", KindString}},
		{"NaN", KindString, false, labelValue{"NaN", KindString}},
		{"1e", KindString, false, labelValue{"1e", KindString}},
		{".", KindString, false, labelValue{".", KindString}},
		{"True", KindString, false, labelValue{"true", KindBool}},
		{"FALSE", KindString, false, labelValue{"false", KindBool}},
		{"yes", KindString, false, labelValue{"yes", KindString}},
		{"pos", KindString, false, labelValue{"pos", KindString}},
		// JSON: the file's own kinds.
		{"1.0", KindNumber, true, labelValue{"1", KindNumber}},
		{"1", KindNumber, true, labelValue{"1", KindNumber}},
		{"1", KindString, true, labelValue{"1", KindString}},
		{"01", KindString, true, labelValue{"01", KindString}},
		{"true", KindBool, true, labelValue{"true", KindBool}},
		{"True", KindString, true, labelValue{"True", KindString}},
	} {
		if got := labelOf(c.text, c.kind, c.typed); got != c.want {
			t.Errorf("labelOf(%q, %v, typed %v) = %+v, want %+v", c.text, c.kind, c.typed, got, c.want)
		}
	}
}

// TestCustomLabelsAsMeant: 1, 1.0 and 01 are one class in a CSV file, 1
// and 1.0 in JSON; every split is read with the same keys.
func TestCustomLabelsAsMeant(t *testing.T) {
	p := writeFiles(t, map[string]string{
		"train.csv":   "text,label\na,1\nb,1.0\nc,01\nd,0\ne,+0\nf,2\n",
		"dev.jsonl":   "{\"text\": \"g\", \"label\": 1.0}\n{\"text\": \"h\", \"label\": 0}\n{\"text\": \"i\", \"label\": 2e0}\n",
		"train.jsonl": "{\"text\": \"a\", \"label\": true}\n{\"text\": \"b\", \"label\": false}\n",
		"dev.csv":     "text,label\nc,True\nd,false\n",
	})
	task, err := NewCustomTask(CustomSpec{Files: map[string]string{"train": p["train.csv"], "dev": p["dev.jsonl"]}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(task.Labels, []string{"0", "1", "2"}) {
		t.Fatalf("labels %q, want [0 1 2]", task.Labels)
	}
	for split, want := range map[string][]int{"train": {1, 1, 1, 0, 0, 2}, "dev": {1, 0, 2}} {
		ex, _, err := task.ReadSplit("", split)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, e := range ex {
			got = append(got, e.LabelID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s class ids %v, want %v", split, got, want)
		}
	}
	// --labels given as text match the numbers of the file.
	given, err := NewCustomTask(CustomSpec{Files: map[string]string{"train": p["train.csv"]}, Labels: []string{"2.0", "1", "0"}})
	if err != nil {
		t.Fatal(err)
	}
	ex, _, err := given.ReadSplit("", "train")
	if err != nil || !slices.Equal(given.Labels, []string{"2", "1", "0"}) || ex[0].LabelID != 1 || ex[5].LabelID != 0 {
		t.Errorf("given labels %q: %v, first row %+v", given.Labels, err, ex[0])
	}
	// Booleans: JSON true/false and CSV True/false are one class each.
	b, err := NewCustomTask(CustomSpec{Files: map[string]string{"train": p["train.jsonl"], "dev": p["dev.csv"]}})
	if err != nil {
		t.Fatal(err)
	}
	dev, _, err := b.ReadSplit("", "dev")
	if err != nil || !slices.Equal(b.Labels, []string{"false", "true"}) || dev[0].LabelID != 1 || dev[1].LabelID != 0 {
		t.Errorf("booleans: labels %q, %v, dev %+v", b.Labels, err, dev)
	}
}

// TestCustomLabelErrors: mixed kinds in a file, an empty or repeated name
// in the label set, each refused in one line naming what is wrong.
func TestCustomLabelErrors(t *testing.T) {
	p := writeFiles(t, map[string]string{
		"bool.csv":     "text,label\na,1\nb,0\nc,true\n",
		"mixed.csv":    "text,label\na,pos\nb,neg\nc,3\n",
		"mixed.jsonl":  "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": \"1\"}\n",
		"train.csv":    "text,label\na,pos\nb,neg\n",
		"devmix.jsonl": "{\"text\": \"a\", \"label\": \"pos\"}\n{\"text\": \"b\", \"label\": false}\n",
	})
	for _, c := range []struct {
		name  string
		spec  CustomSpec
		split string // "" = the error comes from NewCustomTask
		err   string
	}{
		{"number then boolean", CustomSpec{Files: map[string]string{"train": p["bool.csv"]}}, "",
			p["bool.csv"] + `:4: label true is a boolean, but the label on line 2, 1, is a number`},
		{"strings then a number", CustomSpec{Files: map[string]string{"train": p["mixed.csv"]}}, "",
			p["mixed.csv"] + `:4: label 3 is a number, but the label on line 2, "pos", is a string`},
		{"JSON number and string", CustomSpec{Files: map[string]string{"train": p["mixed.jsonl"]}}, "",
			p["mixed.jsonl"] + `:2: label "1" is a string, but the label on line 1, 1, is a number`},
		{"mixed kinds in dev", CustomSpec{Files: map[string]string{"train": p["train.csv"], "dev": p["devmix.jsonl"]}}, "dev",
			p["devmix.jsonl"] + `:2: label false is a boolean, but the label on line 1, "pos", is a string`},
		{"mixed kinds in test", CustomSpec{Files: map[string]string{"train": p["train.csv"], "test": p["devmix.jsonl"]}}, "test",
			p["devmix.jsonl"] + `:2: label false is a boolean`},
		{"empty label name", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, Labels: ParseList("pos,,neg")}, "",
			`custom data: labels "pos,,neg": label 2 of 3 is empty; give every label a name`},
		{"trailing comma", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, Labels: ParseList("pos,neg,")}, "",
			`custom data: labels "pos,neg,": label 3 of 3 is empty`},
		{"repeated name", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, Labels: ParseList("pos, neg, pos")}, "",
			`custom data: label "pos" is given twice`},
		{"one class twice", CustomSpec{Files: map[string]string{"train": p["bool.csv"]}, Labels: ParseList("1,0,1.0")}, "",
			`custom data: labels "1,0,1.0": "1" and "1.0" are one class (1)`},
		{"given labels of two kinds", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, Labels: ParseList("pos,1")}, "",
			`custom data: labels "pos,1": 1 is a number, "pos" is a string; give labels of one kind`},
		{"empty text column name", CustomSpec{Files: map[string]string{"train": p["train.csv"]}, TextColumns: ParseList("text,")}, "",
			`custom data: text columns "text,": column 2 of 2 has no name`},
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

// TestCustomTestSplitUnknownLabel: a test file's label column is optional;
// a label outside the model's set leaves the row unlabelled (predict
// writes its prediction), where a dev file is refused.
func TestCustomTestSplitUnknownLabel(t *testing.T) {
	p := writeFiles(t, map[string]string{
		"test.csv": "text,label\na,pos\nb,maybe\nc,neg\n",
	})
	task, err := NewCustomTask(CustomSpec{Files: map[string]string{"test": p["test.csv"]}, Labels: []string{"neg", "pos"}})
	if err != nil {
		t.Fatal(err)
	}
	ex, _, err := task.ReadSplit("", "test")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	var has []bool
	for _, e := range ex {
		ids, has = append(ids, e.LabelID), append(has, e.HasLabel)
	}
	if !slices.Equal(ids, []int{1, -1, 0}) || !slices.Equal(has, []bool{true, false, true}) {
		t.Errorf("test rows: ids %v labelled %v, want [1 -1 0] [true false true]", ids, has)
	}
	dev, err := NewCustomTask(CustomSpec{Files: map[string]string{"dev": p["test.csv"]}, Labels: []string{"neg", "pos"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := dev.ReadSplit("", "dev"); err == nil || !strings.Contains(err.Error(), `:3: label "maybe" is not in the label set (neg, pos)`) {
		t.Errorf("dev file with an unknown label: %v", err)
	}
}

// TestHeadWarning: a head whose names are not the data's is matched by
// position, and says so naming both sets; matching names, LABEL_k and
// GLUE tasks say nothing.
func TestHeadWarning(t *testing.T) {
	task := &Task{Name: CustomTaskName, Custom: &Custom{}, Labels: []string{"0", "1"}}
	for _, c := range []struct {
		head []string
		want string
	}{
		{[]string{"0", "1"}, ""},
		{[]string{"1.0", "0"}, ""}, // by name, keys compared
		{[]string{"LABEL_0", "LABEL_1"}, ""},
		{[]string{"neg", "pos"}, "the model's labels [neg, pos] are not the data's labels [0, 1]; they are matched by position (neg -> 0, pos -> 1)"},
		{[]string{"0", "0"}, "the model's labels [0, 0] are not the data's labels [0, 1]; they are matched by position (0 -> 0, 0 -> 1)"},
	} {
		if got := task.HeadWarning(c.head); got != c.want {
			t.Errorf("HeadWarning(%q) = %q, want %q", c.head, got, c.want)
		}
		classes, err := task.HeadClasses(c.head)
		wantClasses := []int{0, 1}
		if c.head[0] == "1.0" {
			wantClasses = []int{1, 0}
		}
		if err != nil || !slices.Equal(classes, wantClasses) {
			t.Errorf("HeadClasses(%q) = %v, %v; want %v", c.head, classes, err, wantClasses)
		}
	}
	rte, _ := LookupTask("rte")
	if w := rte.HeadWarning([]string{"not_entailment", "entailment"}); w != "" {
		t.Errorf("GLUE task: %q", w)
	}
}

// TestCustomLabelsFromModel: a model's id2label holds class keys, taken
// as they are: a model finetuned on the JSON strings "01" and "1" has two
// classes, which predict reads back, and its head matches by name.
func TestCustomLabelsFromModel(t *testing.T) {
	p := writeFiles(t, map[string]string{
		"train.jsonl": "{\"text\": \"a\", \"label\": \"01\"}\n{\"text\": \"b\", \"label\": \"1\"}\n",
	})
	train, err := NewCustomTask(CustomSpec{Files: map[string]string{"train": p["train.jsonl"]}})
	if err != nil || !slices.Equal(train.Labels, []string{"01", "1"}) {
		t.Fatalf("JSON string labels: %v %q", err, train.Labels)
	}
	pred, err := NewCustomTask(CustomSpec{Files: map[string]string{"test": p["train.jsonl"]}, Labels: train.Labels, LabelsAreKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	ex, _, err := pred.ReadSplit("", "test")
	if err != nil || ex[0].LabelID != 0 || ex[1].LabelID != 1 {
		t.Errorf("read back: %v %+v", err, ex)
	}
	if w := pred.HeadWarning(train.Labels); w != "" {
		t.Errorf("the model's own labels: %q", w)
	}
	// Typed by the user, the same names are one class.
	if _, err := NewCustomTask(CustomSpec{Files: map[string]string{"test": p["train.jsonl"]}, Labels: train.Labels}); err == nil || !strings.Contains(err.Error(), `"01" and "1" are one class`) {
		t.Errorf("--labels 01,1: %v", err)
	}
}
