package data

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// CustomTaskName is the name of a task read from the user's own files.
const CustomTaskName = "custom"

// Problem types of a custom dataset.
const (
	// ProblemClassification: one label per row from a fixed set.
	ProblemClassification = "classification"
	// ProblemRegression: a number per row.
	ProblemRegression = "regression"
	// ProblemAuto: regression when every training label is a number,
	// classification otherwise. Only on request: a number-labelled file is
	// never taken for regression unless asked.
	ProblemAuto = "auto"
)

// DefaultLabelColumn is the label column's name unless one is given, as in
// Hugging Face's run_glue.py.
const DefaultLabelColumn = "label"

// CustomSpec describes a dataset in the user's own files.
type CustomSpec struct {
	// Files maps split names ("train", "dev", "test") to files; "dev" may
	// also be given as "validation". Only the splits a command reads are
	// needed.
	Files map[string]string
	// Format is the files' format ("" = by extension; see FormatOf).
	Format string
	// TextColumns names one text column or a pair; empty means the first
	// one or two text columns of the first file other than the label, or
	// sentence1 and sentence2 when both exist (as run_glue.py guesses).
	TextColumns []string
	// LabelColumn is the label's column ("" = DefaultLabelColumn).
	LabelColumn string
	// Labels is the label set in class-id order; nil means the sorted
	// distinct labels of the train file (numerically when all are numbers).
	// Given labels are read as text (see labelOf: "1.0" names the class 1).
	Labels []string
	// LabelsAreKeys says Labels are class keys as a model saved them
	// (its id2label), taken as they are: a model finetuned on the JSON
	// strings "01" and "1" has two classes.
	LabelsAreKeys bool
	// Problem is ProblemClassification ("" too), ProblemRegression or
	// ProblemAuto.
	Problem string
}

// Custom is a resolved custom dataset, held by its Task.
type Custom struct {
	// Files, Format, TextColumns and LabelColumn as resolved from the
	// CustomSpec (TextColumns always set).
	Files       map[string]string
	Format      string
	TextColumns []string
	LabelColumn string
	// Choice says in words what was chosen and why: the problem type, the
	// label set and where it came from, the columns.
	Choice string
	// tables caches files already read (the train file is read to find
	// the labels, then again as the train split).
	tables map[string]*Table
}

// NewCustomTask resolves spec into a task whose splits read the user's
// files. It reads the train file when it needs the label set, the text
// columns or (ProblemAuto) the problem type; without a train file it needs
// the labels (or regression) given, as from a saved model's id2label.
func NewCustomTask(spec CustomSpec) (*Task, error) {
	c := &Custom{Files: map[string]string{}, Format: spec.Format, LabelColumn: spec.LabelColumn, tables: map[string]*Table{}}
	for split, f := range spec.Files {
		if f == "" {
			continue
		}
		n := normSplit(split)
		if !slices.Contains([]string{"train", "dev", "test"}, n) {
			return nil, fmt.Errorf("custom data: unknown split %q (train, validation or test)", split)
		}
		c.Files[n] = f
	}
	if len(c.Files) == 0 {
		return nil, fmt.Errorf("custom data: no file given (a train, validation or test file)")
	}
	if c.LabelColumn == "" {
		c.LabelColumn = DefaultLabelColumn
	}
	if len(spec.TextColumns) > 2 {
		return nil, fmt.Errorf("custom data: %d text columns given (%s); give one, or a pair", len(spec.TextColumns), strings.Join(spec.TextColumns, ","))
	}
	for _, col := range spec.TextColumns {
		if col == c.LabelColumn {
			return nil, fmt.Errorf("custom data: column %q is both a text column and the label column", col)
		}
	}
	problem := cmp.Or(spec.Problem, ProblemClassification)
	if !slices.Contains([]string{ProblemClassification, ProblemRegression, ProblemAuto}, problem) {
		return nil, fmt.Errorf("custom data: problem type %q is not classification, regression or auto", spec.Problem)
	}
	if problem == ProblemRegression && len(spec.Labels) > 0 {
		return nil, fmt.Errorf("custom data: a label set (%s) was given for a regression problem", strings.Join(spec.Labels, ","))
	}
	for i, col := range spec.TextColumns {
		if strings.TrimSpace(col) == "" {
			return nil, fmt.Errorf("custom data: text columns %q: column %d of %d has no name", strings.Join(spec.TextColumns, ","), i+1, len(spec.TextColumns))
		}
	}
	given, err := givenLabels(spec.Labels, spec.LabelsAreKeys)
	if err != nil {
		return nil, err
	}

	// The file that decides the columns: train, else dev, else test.
	first := c.Files["train"]
	if first == "" {
		first = cmp.Or(c.Files["dev"], c.Files["test"])
	}
	c.TextColumns = slices.Clone(spec.TextColumns)
	if len(c.TextColumns) == 0 {
		tab, err := c.table(first)
		if err != nil {
			return nil, err
		}
		if c.TextColumns, err = guessTextColumns(tab, c.LabelColumn); err != nil {
			return nil, err
		}
	}

	task := &Task{Name: CustomTaskName, Custom: c}
	var how string
	switch {
	case problem == ProblemRegression:
		task.Regression, how = true, "regression (asked for)"
	case problem == ProblemAuto || len(spec.Labels) == 0:
		train := c.Files["train"]
		if train == "" {
			return nil, fmt.Errorf("custom data: the label set comes from the train file, and none was given; give the labels")
		}
		labels, numeric, err := c.trainLabels(train)
		if err != nil {
			return nil, err
		}
		switch {
		case problem == ProblemAuto && numeric && len(spec.Labels) == 0:
			task.Regression, how = true, fmt.Sprintf("regression (problem auto: every label in %s is a number)", train)
		case problem == ProblemAuto && len(spec.Labels) > 0:
			task.Labels, how = given, fmt.Sprintf("classification (problem auto: labels given) with %d labels", len(spec.Labels))
		default:
			task.Labels = labels
			why := "asked for"
			if problem == ProblemAuto {
				why = fmt.Sprintf("problem auto: some label in %s is not a number", train)
			}
			how = fmt.Sprintf("classification (%s) with %d labels from %s, sorted", why, len(labels), train)
		}
	default:
		task.Labels, how = given, fmt.Sprintf("classification with %d labels as given", len(spec.Labels))
	}
	if !task.Regression {
		if len(task.Labels) < 2 {
			return nil, fmt.Errorf("custom data: classification needs at least 2 labels, got %d (%s)", len(task.Labels), strings.Join(task.Labels, ","))
		}
		task.Metrics, task.PrimaryMetric = []string{"accuracy", "macro_f1"}, "accuracy"
		if len(task.Labels) == 2 {
			task.Metrics = append(task.Metrics, "f1")
		}
		how += " [" + strings.Join(task.Labels, ", ") + "]"
	} else {
		task.Metrics, task.PrimaryMetric = []string{"pearson", "spearmanr", "combined_score"}, "combined_score"
	}
	c.Choice = fmt.Sprintf("%s; text %s; label column %q", how, strings.Join(quoteAll(c.TextColumns), " + "), c.LabelColumn)
	for _, s := range []string{"train", "dev", "test"} {
		if f, ok := c.Files[s]; ok {
			task.Splits = append(task.Splits, Split{Name: s, File: f, IndexCol: NoColumn, TextACol: NoColumn, TextBCol: NoColumn, LabelCol: NoColumn})
		}
	}
	return task, nil
}

// table reads path once.
func (c *Custom) table(path string) (*Table, error) {
	if t, ok := c.tables[path]; ok {
		return t, nil
	}
	t, err := ReadTable(path, c.Format)
	if err != nil {
		return nil, err
	}
	c.tables[path] = t
	return t, nil
}

// guessTextColumns picks sentence1/sentence2 when both exist, else the
// first one or two text columns other than the label.
func guessTextColumns(t *Table, label string) ([]string, error) {
	if slices.Contains(t.Columns, "sentence1") && slices.Contains(t.Columns, "sentence2") && label != "sentence1" && label != "sentence2" {
		return []string{"sentence1", "sentence2"}, nil
	}
	var cols []string
	for i, name := range t.Columns {
		if name != label && len(cols) < 2 && t.TextColumn(i) {
			cols = append(cols, name)
		}
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("%s: no text column besides the label %q (columns: %s); name the text columns", t.Path, label, strings.Join(quoteAll(t.Columns), ", "))
	}
	return cols, nil
}

// trainLabels returns the class keys of the train file's labels (see
// labelOf), sorted as run_glue.py sorts them (numerically when they are
// numbers), and whether they are numbers. Labels of different kinds are an
// error naming the file, the line and both labels.
func (c *Custom) trainLabels(path string) ([]string, bool, error) {
	t, err := c.table(path)
	if err != nil {
		return nil, false, err
	}
	li, err := t.Column(c.LabelColumn)
	if err != nil {
		return nil, false, err
	}
	seen := map[string]bool{}
	var labels []string
	var kinds labelKinds
	for _, r := range t.Rows {
		text, err := labelCell(t, r, li, c.LabelColumn)
		if err != nil {
			return nil, false, err
		}
		v := labelOf(text, r.Kinds[li], typedFormat(t.Format))
		if err := kinds.check(t.Path, r.Line, text, v); err != nil {
			return nil, false, err
		}
		if !seen[v.key] {
			seen[v.key] = true
			labels = append(labels, v.key)
		}
	}
	sortLabels(labels, kinds.first.kind)
	return labels, kinds.first.kind == KindNumber, nil
}

// labelCell returns row r's label, which must be a string, number or
// boolean.
func labelCell(t *Table, r Row, i int, name string) (string, error) {
	switch r.Kinds[i] {
	case KindNull, KindNested:
		return "", fmt.Errorf("%s:%d: label column %q is %s; expected a label", t.Path, r.Line, name, r.Kinds[i])
	}
	v := r.Values[i]
	if strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("%s:%d: label column %q is empty", t.Path, r.Line, name)
	}
	return v, nil
}

// readCustom reads the file of a split (see Task.ReadFile).
func (t *Task) readCustom(path, split string) ([]Example, *ReadReport, error) {
	c := t.Custom
	tab, err := c.table(path)
	if err != nil {
		return nil, nil, err
	}
	cols := make([]int, len(c.TextColumns))
	for i, name := range c.TextColumns {
		if cols[i], err = tab.Column(name); err != nil {
			return nil, nil, err
		}
	}
	li := slices.Index(tab.Columns, c.LabelColumn)
	if li < 0 && split != "test" {
		_, err := tab.Column(c.LabelColumn)
		return nil, nil, fmt.Errorf("%w; the %s file needs labels", err, splitWord(split))
	}
	rep := &ReadReport{Path: path, Task: t.Name, Split: split, FinalNewline: true}
	examples := make([]Example, 0, len(tab.Rows))
	var kinds labelKinds
	for n, r := range tab.Rows {
		ex := Example{Index: strconv.Itoa(n), Line: r.Line, LabelID: -1, Score: math.NaN()}
		for i, ci := range cols {
			if k := r.Kinds[ci]; k == KindNull || k == KindNested {
				return nil, nil, fmt.Errorf("%s:%d: text column %q is %s; expected text", path, r.Line, c.TextColumns[i], k)
			}
		}
		ex.TextA = r.Values[cols[0]]
		if len(cols) > 1 {
			ex.TextB = r.Values[cols[1]]
		}
		if li >= 0 && !(split == "test" && (r.Kinds[li] == KindNull || strings.TrimSpace(r.Values[li]) == "")) {
			raw, err := labelCell(tab, r, li, c.LabelColumn)
			if err != nil {
				return nil, nil, err
			}
			v := labelOf(raw, r.Kinds[li], typedFormat(tab.Format))
			if !t.Regression { // a regression label must be a number, see below
				if err := kinds.check(path, r.Line, raw, v); err != nil {
					return nil, nil, err
				}
			}
			ex.Label, ex.HasLabel = v.key, true
			if t.Regression {
				ex.Label = raw // a score, as written
				f, ok := parseNumber(raw)
				switch {
				case ok:
					ex.Score = f
				case split == "test":
					ex.HasLabel = false // optional: see below
				default:
					return nil, nil, fmt.Errorf("%s:%d: label %s is not a number, and the problem is regression", path, r.Line, quoteShort([]byte(raw)))
				}
			} else if ex.LabelID = t.LabelID(v.key); ex.LabelID < 0 {
				if split == "test" {
					// A test file's labels are optional and not scored: a
					// label the model does not know leaves the row
					// unlabelled rather than refusing the file.
					ex.HasLabel = false
				} else {
					where := "the label set"
					if f := c.Files["train"]; f != "" && f != path {
						where = "the train file " + f
					}
					return nil, nil, fmt.Errorf("%s:%d: label %s is not in %s (%s)", path, r.Line, labelShow(raw, v.kind), where, strings.Join(t.Labels, ", "))
				}
			}
		}
		examples = append(examples, ex)
	}
	rep.Rows = len(examples)
	return examples, rep, nil
}

func splitWord(split string) string {
	if split == "dev" {
		return "validation"
	}
	return split
}

// ScoreLabel formats a predicted regression score as predictions show it:
// for STS-B as GLUE submissions want it (FormatScore), for a custom
// dataset unclipped, in the shortest form that reads back exactly.
func (t *Task) ScoreLabel(x float64) string {
	if t.Custom != nil {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return FormatScore(x)
}

// ParseList splits a comma-separated list ("a, b") into its trimmed
// items; "" (or only spaces) gives nil. Empty items are kept ("a,,b" gives
// "a", "", "b") for the reader of the list to refuse with its own words.
func ParseList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	out := strings.Split(s, ",")
	for i, item := range out {
		out[i] = strings.TrimSpace(item)
	}
	return out
}
