// Package data reads the GLUE benchmark's TSV files.
//
// This file holds the GLUE task registry (which file, which columns, which
// labels, which metric) and the writer of GLUE leaderboard submission files.
// The reader itself lives in tsv.go.
package data

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mixft/mixft/internal/atomicfile"
)

// Column sentinels for Split's column fields.
const (
	// NoColumn marks a field the split does not have (no second text, no
	// label in a test split, no index column).
	NoColumn = -1
	// LastColumn means "the row's last column", as transformers' processors
	// read labels with line[-1] for STS-B, MNLI, QNLI, RTE and WNLI.
	LastColumn = -2
)

// Split describes one file of a task and its column layout. Column numbers
// are 0-based and follow transformers/data/processors/glue.py.
type Split struct {
	// Name is the canonical split name: "train", "dev", "dev-mm", "test" or
	// "test-mm".
	Name string
	// Aliases are other accepted names (after normalisation, see Task.Split).
	Aliases []string
	// File is the file name inside the task's folder (Task.Dir).
	File string
	// Header tells whether line 1 is a header row (skipped).
	Header bool
	// HeaderFirst is the expected first cell of the header row (compared
	// case-insensitively, after trimming spaces); "" means not checked.
	HeaderFirst string
	// IndexCol is the index/id column, or NoColumn to use the 0-based row
	// number as the example's index.
	IndexCol int
	// TextACol is the first text column.
	TextACol int
	// TextBCol is the second text column, or NoColumn for single-sentence tasks.
	TextBCol int
	// LabelCol is the label column, LastColumn, or NoColumn (unlabelled test split).
	LabelCol int
	// MinCols is the smallest number of tab-separated columns a row must have.
	MinCols int
	// SubmissionName is the GLUE leaderboard file for a test split ("" for
	// train/dev splits).
	SubmissionName string
}

// Labelled reports whether the split's rows carry a label.
func (s *Split) Labelled() bool { return s.LabelCol != NoColumn }

// Task describes one GLUE task: where its files are, which columns hold the
// texts and label, the label set (in Hugging Face transformers' processor
// order, which fixes class ids), and its metrics.
type Task struct {
	// Name is the canonical lower-case name: cola, sst-2, mrpc, sts-b, qqp,
	// mnli, mnli-mm, qnli, rte, wnli or ax.
	Name string
	// Dir is the task's folder under the GLUE data directory, as
	// download_glue_data.py names it (CoLA, SST-2, ..., diagnostic for AX).
	Dir string
	// Labels is the label set in transformers' get_labels() order; a label's
	// position is its class id. Nil for the regression task STS-B.
	Labels []string
	// DatasetLabels are the names Hugging Face datasets gives Labels (same
	// order), where they differ from them: the id2label of checkpoints
	// finetuned with run_glue on those datasets (MRPC not_equivalent,
	// equivalent). Nil when the datasets use the task's own label words.
	DatasetLabels []string
	// Regression is true for STS-B (float score labels in [0, 5]).
	Regression bool
	// Metrics are the metric names transformers' glue_compute_metrics
	// returns for the task (see package metrics).
	Metrics []string
	// PrimaryMetric is the metric used to compare checkpoints: the single
	// metric, or the combined one (acc_and_f1 for MRPC/QQP, corr for STS-B),
	// which equals run_glue.py's combined_score.
	PrimaryMetric string
	// SubmissionName is the leaderboard file for the task's default test
	// split ("test"); see SubmissionFile for MNLI's mismatched test set.
	SubmissionName string
	// SkipShortRows makes the reader skip (and count) rows with too few
	// columns instead of failing; only QQP, as transformers' QqpProcessor does.
	SkipShortRows bool
	// Splits lists the task's files.
	Splits []Split
	// Custom is set for a dataset in the user's own files (see
	// NewCustomTask); its splits then name the files, and their column
	// fields are unused.
	Custom *Custom
	// MaxLineBytes is the longest line its files may have; 0 means
	// DefaultMaxLineBytes. LookupTask returns a copy, so a caller may set it.
	MaxLineBytes int
}

// DefaultMaxLineBytes is the longest line of a GLUE file the reader accepts
// (the longest in GLUE, in MNLI, is under 3 KB).
const DefaultMaxLineBytes = 1 << 20

// NumLabels is the number of classes (1 for the regression task, as
// transformers' num_labels for STS-B).
func (t *Task) NumLabels() int {
	if t.Regression {
		return 1
	}
	return len(t.Labels)
}

// LabelID returns the class id of label, or -1 if it is not in t.Labels.
func (t *Task) LabelID(label string) int {
	return slices.Index(t.Labels, label)
}

// HeadClasses maps the labels of a classifier head (a checkpoint's
// id2label, in output order) to the task's class ids. Generic names
// (LABEL_0, LABEL_1, ...) go by position, as transformers' run_glue does;
// other names must be the task's labels or their DatasetLabels, in any
// order. Otherwise the head was trained on another task: the error names
// both label sets. A custom task's labels are the user's own: a head naming
// exactly them goes by name, any other by position (no error).
func (t *Task) HeadClasses(id2label []string) ([]int, error) {
	classes := make([]int, len(id2label))
	for i := range classes {
		classes[i] = i
	}
	if t.Regression || generic(id2label) {
		return classes, nil
	}
	if t.Custom != nil {
		if byName := t.customHeadByName(id2label); byName != nil {
			return byName, nil
		}
		return classes, nil
	}
	find := func(names []string, name string) int {
		return slices.IndexFunc(names, func(l string) bool { return strings.EqualFold(l, name) })
	}
	seen := map[int]bool{}
	for i, name := range id2label {
		c := find(t.Labels, name)
		if c < 0 {
			c = find(t.DatasetLabels, name)
		}
		if c < 0 || seen[c] || len(id2label) != len(t.Labels) {
			return nil, &HeadLabelsError{Task: t.Name, Have: id2label, Want: t.Labels, DatasetNames: t.DatasetLabels}
		}
		seen[c] = true
		classes[i] = c
	}
	return classes, nil
}

// customHeadByName maps a head's labels to a custom task's classes by
// name: as they are, else as class keys (a head's "1.0" names the class
// 1); nil unless the head names every label of the task once.
func (t *Task) customHeadByName(id2label []string) []int {
	if len(id2label) != len(t.Labels) {
		return nil
	}
	byName := make([]int, len(id2label))
	for i, name := range id2label {
		if byName[i] = t.LabelID(name); byName[i] < 0 {
			byName[i] = t.LabelID(labelOf(name, KindString, false).key)
		}
		if byName[i] < 0 || slices.Index(byName[:i], byName[i]) >= 0 {
			return nil
		}
	}
	return byName
}

// HeadWarning says, in one line, when HeadClasses maps a head to the
// user's own labels by position although the head names other labels (a
// checkpoint finetuned on other data, or with --labels that differ from
// its id2label): output i becomes label i, which is right only if the
// order is the same. It is "" when the head names the task's labels, has
// the generic names LABEL_0, LABEL_1, ..., or the task is not the user's
// own classification.
func (t *Task) HeadWarning(id2label []string) string {
	if t.Custom == nil || t.Regression || len(id2label) == 0 || generic(id2label) || t.customHeadByName(id2label) != nil {
		return ""
	}
	pairs := make([]string, min(len(id2label), len(t.Labels)))
	for i := range pairs {
		pairs[i] = id2label[i] + " -> " + t.Labels[i]
	}
	return fmt.Sprintf("the model's labels [%s] are not the data's labels [%s]; they are matched by position (%s)",
		strings.Join(id2label, ", "), strings.Join(t.Labels, ", "), strings.Join(pairs, ", "))
}

// HeadLabelsError is HeadClasses' error: a classifier head whose labels
// are another task's.
type HeadLabelsError struct {
	Task string
	// Have are the head's labels; Want the task's, DatasetNames their
	// Hugging Face datasets names (nil when the same).
	Have, Want, DatasetNames []string
}

func (e *HeadLabelsError) Error() string {
	want := fmt.Sprintf("%v", e.Want)
	if e.DatasetNames != nil {
		want += fmt.Sprintf(" (or %v)", e.DatasetNames)
	}
	return fmt.Sprintf("the model's labels %v are not task %s's %s: it was trained on another task", e.Have, e.Task, want)
}

// generic reports whether every name is transformers' default LABEL_<k>.
func generic(names []string) bool {
	for _, n := range names {
		k, ok := strings.CutPrefix(n, "LABEL_")
		if _, err := strconv.Atoi(k); !ok || err != nil {
			return false
		}
	}
	return true
}

// SplitNames returns the canonical split names of the task.
func (t *Task) SplitNames() []string {
	names := make([]string, len(t.Splits))
	for i := range t.Splits {
		names[i] = t.Splits[i].Name
	}
	return names
}

// normSplit lower-cases a split name, turns "_" into "-" and maps the
// Hugging Face datasets spellings onto GLUE's.
func normSplit(name string) string {
	s := strings.ToLower(strings.TrimSpace(name))
	s = strings.ReplaceAll(s, "_", "-")
	if rest, ok := strings.CutPrefix(s, "validation"); ok {
		s = "dev" + rest
	}
	switch s {
	case "dev-matched", "dev-m":
		return "dev"
	case "dev-mismatched":
		return "dev-mm"
	case "test-matched", "test-m":
		return "test"
	case "test-mismatched":
		return "test-mm"
	}
	return s
}

// Split returns the split called name. Names are matched case-insensitively
// with "_" and "-" equivalent; "validation" is accepted for "dev", and
// "dev_matched"/"dev_mismatched"/"test_matched"/"test_mismatched" for MNLI's
// files.
func (t *Task) Split(name string) (*Split, error) {
	n := normSplit(name)
	for i := range t.Splits {
		s := &t.Splits[i]
		if s.Name == n || slices.Contains(s.Aliases, n) {
			return s, nil
		}
	}
	if t.Custom != nil && slices.Contains([]string{"train", "dev", "test"}, n) {
		return nil, fmt.Errorf("custom data: no %s file given", splitWord(n))
	}
	return nil, fmt.Errorf("task %s has no split %q (known: %s)", t.Name, name, strings.Join(t.SplitNames(), ", "))
}

// SplitPath returns the file of a split. dataDir is the task's own folder
// (glue_data/RTE, holding train.tsv, dev.tsv, test.tsv); when the file is
// not there but dataDir/<task dir>/<file> exists, dataDir is taken to be the
// GLUE root (glue_data) and that path is returned. It does not otherwise
// check that the file exists.
func (t *Task) SplitPath(dataDir, split string) (string, error) {
	s, err := t.Split(split)
	if err != nil {
		return "", err
	}
	if t.Custom != nil {
		return s.File, nil
	}
	direct := filepath.Join(dataDir, s.File)
	if _, err := os.Stat(direct); err != nil {
		nested := filepath.Join(dataDir, t.Dir, s.File)
		if _, err := os.Stat(nested); err == nil {
			return nested, nil
		}
	}
	return direct, nil
}

// SubmissionFile returns the leaderboard file name for a test split
// (e.g. MNLI-m.tsv for mnli "test", MNLI-mm.tsv for mnli "test-mm").
func (t *Task) SubmissionFile(split string) (string, error) {
	s, err := t.Split(split)
	if err != nil {
		return "", err
	}
	if s.SubmissionName == "" {
		return "", fmt.Errorf("task %s: split %s is not a test split; only test predictions are submitted", t.Name, s.Name)
	}
	return s.SubmissionName, nil
}

// clone returns a deep copy so that callers cannot modify the registry.
func (t *Task) clone() *Task {
	c := *t
	c.Labels = slices.Clone(t.Labels)
	c.DatasetLabels = slices.Clone(t.DatasetLabels)
	c.Metrics = slices.Clone(t.Metrics)
	c.Splits = slices.Clone(t.Splits)
	for i := range c.Splits {
		c.Splits[i].Aliases = slices.Clone(c.Splits[i].Aliases)
	}
	return &c
}

var (
	binaryLabels = []string{"0", "1"}
	nliLabels    = []string{"entailment", "not_entailment"}
	mnliLabels   = []string{"contradiction", "entailment", "neutral"}
)

// pairSplits builds the splits of the index/sentence1/sentence2/label tasks
// (QNLI, RTE, WNLI).
func pairSplits(sub string) []Split {
	return []Split{
		{Name: "train", File: "train.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 1, TextBCol: 2, LabelCol: LastColumn, MinCols: 4},
		{Name: "dev", File: "dev.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 1, TextBCol: 2, LabelCol: LastColumn, MinCols: 4},
		{Name: "test", File: "test.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 1, TextBCol: 2, LabelCol: NoColumn, MinCols: 3, SubmissionName: sub},
	}
}

func mnliSplits(devName, devFile, testName, testFile, testSub string, devAliases, testAliases []string) []Split {
	return []Split{
		{Name: "train", File: "train.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 8, TextBCol: 9, LabelCol: LastColumn, MinCols: 11},
		{Name: devName, Aliases: devAliases, File: devFile, Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 8, TextBCol: 9, LabelCol: LastColumn, MinCols: 11},
		{Name: testName, Aliases: testAliases, File: testFile, Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 8, TextBCol: 9, LabelCol: NoColumn, MinCols: 10, SubmissionName: testSub},
	}
}

// tasks is the registry, in GLUE's order. mnli-mm is kept apart from the
// ten benchmark tasks (see TaskNames).
var tasks = []*Task{
	{
		Name: "cola", Dir: "CoLA", Labels: binaryLabels, DatasetLabels: []string{"unacceptable", "acceptable"},
		Metrics: []string{"mcc"}, PrimaryMetric: "mcc", SubmissionName: "CoLA.tsv",
		Splits: []Split{
			{Name: "train", File: "train.tsv", Header: false, IndexCol: NoColumn, TextACol: 3, TextBCol: NoColumn, LabelCol: 1, MinCols: 4},
			{Name: "dev", File: "dev.tsv", Header: false, IndexCol: NoColumn, TextACol: 3, TextBCol: NoColumn, LabelCol: 1, MinCols: 4},
			{Name: "test", File: "test.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 1, TextBCol: NoColumn, LabelCol: NoColumn, MinCols: 2, SubmissionName: "CoLA.tsv"},
		},
	},
	{
		Name: "sst-2", Dir: "SST-2", Labels: binaryLabels, DatasetLabels: []string{"negative", "positive"},
		Metrics: []string{"acc"}, PrimaryMetric: "acc", SubmissionName: "SST-2.tsv",
		Splits: []Split{
			{Name: "train", File: "train.tsv", Header: true, HeaderFirst: "sentence", IndexCol: NoColumn, TextACol: 0, TextBCol: NoColumn, LabelCol: 1, MinCols: 2},
			{Name: "dev", File: "dev.tsv", Header: true, HeaderFirst: "sentence", IndexCol: NoColumn, TextACol: 0, TextBCol: NoColumn, LabelCol: 1, MinCols: 2},
			{Name: "test", File: "test.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 1, TextBCol: NoColumn, LabelCol: NoColumn, MinCols: 2, SubmissionName: "SST-2.tsv"},
		},
	},
	{
		Name: "mrpc", Dir: "MRPC", Labels: binaryLabels, DatasetLabels: []string{"not_equivalent", "equivalent"},
		Metrics: []string{"acc", "f1", "acc_and_f1"}, PrimaryMetric: "acc_and_f1", SubmissionName: "MRPC.tsv",
		Splits: []Split{
			{Name: "train", File: "train.tsv", Header: true, HeaderFirst: "quality", IndexCol: NoColumn, TextACol: 3, TextBCol: 4, LabelCol: 0, MinCols: 5},
			{Name: "dev", File: "dev.tsv", Header: true, HeaderFirst: "quality", IndexCol: NoColumn, TextACol: 3, TextBCol: 4, LabelCol: 0, MinCols: 5},
			{Name: "test", File: "test.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 3, TextBCol: 4, LabelCol: NoColumn, MinCols: 5, SubmissionName: "MRPC.tsv"},
		},
	},
	{
		Name: "sts-b", Dir: "STS-B", Labels: nil, Regression: true,
		Metrics: []string{"pearson", "spearmanr", "corr"}, PrimaryMetric: "corr", SubmissionName: "STS-B.tsv",
		Splits: []Split{
			{Name: "train", File: "train.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 7, TextBCol: 8, LabelCol: LastColumn, MinCols: 10},
			{Name: "dev", File: "dev.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 7, TextBCol: 8, LabelCol: LastColumn, MinCols: 10},
			{Name: "test", File: "test.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 7, TextBCol: 8, LabelCol: NoColumn, MinCols: 9, SubmissionName: "STS-B.tsv"},
		},
	},
	{
		Name: "qqp", Dir: "QQP", Labels: binaryLabels, DatasetLabels: []string{"not_duplicate", "duplicate"}, SkipShortRows: true,
		Metrics: []string{"acc", "f1", "acc_and_f1"}, PrimaryMetric: "acc_and_f1", SubmissionName: "QQP.tsv",
		Splits: []Split{
			{Name: "train", File: "train.tsv", Header: true, HeaderFirst: "id", IndexCol: 0, TextACol: 3, TextBCol: 4, LabelCol: 5, MinCols: 6},
			{Name: "dev", File: "dev.tsv", Header: true, HeaderFirst: "id", IndexCol: 0, TextACol: 3, TextBCol: 4, LabelCol: 5, MinCols: 6},
			{Name: "test", File: "test.tsv", Header: true, HeaderFirst: "id", IndexCol: 0, TextACol: 1, TextBCol: 2, LabelCol: NoColumn, MinCols: 3, SubmissionName: "QQP.tsv"},
		},
	},
	{
		Name: "mnli", Dir: "MNLI", Labels: mnliLabels,
		Metrics: []string{"acc"}, PrimaryMetric: "acc", SubmissionName: "MNLI-m.tsv",
		Splits: append(mnliSplits("dev", "dev_matched.tsv", "test", "test_matched.tsv", "MNLI-m.tsv", nil, nil),
			Split{Name: "dev-mm", File: "dev_mismatched.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 8, TextBCol: 9, LabelCol: LastColumn, MinCols: 11},
			Split{Name: "test-mm", File: "test_mismatched.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 8, TextBCol: 9, LabelCol: NoColumn, MinCols: 10, SubmissionName: "MNLI-mm.tsv"},
		),
	},
	{
		Name: "qnli", Dir: "QNLI", Labels: nliLabels,
		Metrics: []string{"acc"}, PrimaryMetric: "acc", SubmissionName: "QNLI.tsv",
		Splits: pairSplits("QNLI.tsv"),
	},
	{
		Name: "rte", Dir: "RTE", Labels: nliLabels,
		Metrics: []string{"acc"}, PrimaryMetric: "acc", SubmissionName: "RTE.tsv",
		Splits: pairSplits("RTE.tsv"),
	},
	{
		Name: "wnli", Dir: "WNLI", Labels: binaryLabels, DatasetLabels: []string{"not_entailment", "entailment"},
		Metrics: []string{"acc"}, PrimaryMetric: "acc", SubmissionName: "WNLI.tsv",
		Splits: pairSplits("WNLI.tsv"),
	},
	{
		// AX (the diagnostic set) is test-only and is predicted with an MNLI
		// model, so it shares MNLI's labels and class ids.
		Name: "ax", Dir: "diagnostic", Labels: mnliLabels,
		Metrics: []string{"acc"}, PrimaryMetric: "acc", SubmissionName: "AX.tsv",
		Splits: []Split{
			{Name: "test", Aliases: []string{"diagnostic"}, File: "diagnostic.tsv", Header: true, HeaderFirst: "index", IndexCol: 0, TextACol: 1, TextBCol: 2, LabelCol: NoColumn, MinCols: 3, SubmissionName: "AX.tsv"},
		},
	},
}

// mnliMM is transformers' task "mnli-mm": MNLI whose default dev and test
// splits are the mismatched ones.
var mnliMM = &Task{
	Name: "mnli-mm", Dir: "MNLI", Labels: mnliLabels,
	Metrics: []string{"acc"}, PrimaryMetric: "acc", SubmissionName: "MNLI-mm.tsv",
	Splits: mnliSplits("dev", "dev_mismatched.tsv", "test", "test_mismatched.tsv", "MNLI-mm.tsv",
		[]string{"dev-mm"}, []string{"test-mm"}),
}

// taskAliases maps other spellings (after lower-casing and turning "_" into
// "-") to canonical names.
var taskAliases = map[string]string{
	"sst2":            "sst-2",
	"stsb":            "sts-b",
	"mnli-m":          "mnli",
	"mnli-matched":    "mnli",
	"mnli-mismatched": "mnli-mm",
	"diagnostic":      "ax",
}

// TaskNames returns the canonical names of the ten GLUE tasks, in GLUE's
// order: cola sst-2 mrpc sts-b qqp mnli qnli rte wnli ax. LookupTask also
// accepts "mnli-mm" (see LookupTask).
func TaskNames() []string {
	names := make([]string, len(tasks))
	for i, t := range tasks {
		names[i] = t.Name
	}
	return names
}

// LookupTask returns a copy of the task called name. Matching is
// case-insensitive, "_" equals "-", and the aliases sst2, stsb, mnli-m,
// mnli-matched, mnli-mismatched and diagnostic are accepted. "mnli-mm" (as
// in transformers) is MNLI with dev = dev_mismatched.tsv and test =
// test_mismatched.tsv. An unknown name gives an error listing the known ones.
func LookupTask(name string) (*Task, error) {
	n := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-")
	if a, ok := taskAliases[n]; ok {
		n = a
	}
	if n == mnliMM.Name {
		return mnliMM.clone(), nil
	}
	for _, t := range tasks {
		if t.Name == n {
			return t.clone(), nil
		}
	}
	return nil, fmt.Errorf("unknown GLUE task %q (known: %s; also mnli-mm)", name, strings.Join(TaskNames(), ", "))
}

// FormatScore formats an STS-B prediction for a submission file: clipped
// to [0, 5] and printed with 3 decimals, as transformers' run_glue.py
// writes regression predictions ("%3.3f"). NaN gives "NaN", which
// WriteSubmission rejects.
func FormatScore(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case x <= 0: // also turns -0 into 0
		x = 0
	case x > 5:
		x = 5
	}
	return strconv.FormatFloat(x, 'f', 3, 64)
}

// WriteSubmission writes a GLUE leaderboard file: the header
// "index\tprediction" and one "INDEX\tPREDICTION" row per example, in the
// order given. For classification tasks every prediction must be one of
// t.Labels (label strings, not class ids); for STS-B every prediction must
// be a finite number (use FormatScore). Indices must be non-empty. The file
// is written by atomicfile.Write (a reader never sees a partial regular
// file; missing folders are created).
func WriteSubmission(path string, t *Task, indices []string, preds []string) error {
	if t == nil {
		return fmt.Errorf("%s: nil task", path)
	}
	if len(indices) != len(preds) {
		return fmt.Errorf("%s: %d indices but %d predictions", path, len(indices), len(preds))
	}
	for i := range preds {
		idx, p := indices[i], preds[i]
		if idx == "" || strings.ContainsAny(idx, "\t\r\n") {
			return fmt.Errorf("%s: row %d: index %q is empty or contains a tab or newline", path, i, idx)
		}
		if t.Regression {
			f, perr := strconv.ParseFloat(p, 64)
			if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("%s: row %d (index %s): prediction %q is not a finite number", path, i, idx, p)
			}
		} else if t.LabelID(p) < 0 {
			return fmt.Errorf("%s: row %d (index %s): prediction %q is not one of %v for task %s", path, i, idx, p, t.Labels, t.Name)
		}
	}

	return atomicfile.Write(path, 0o644, func(f io.Writer) error {
		w := bufio.NewWriter(f)
		w.WriteString("index\tprediction\n")
		for i := range preds {
			w.WriteString(indices[i])
			w.WriteByte('\t')
			w.WriteString(preds[i])
			w.WriteByte('\n')
		}
		return w.Flush()
	})
}
