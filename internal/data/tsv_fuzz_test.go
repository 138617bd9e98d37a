package data

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzTargets are the task/split layouts the fuzzer reads every input
// with: headerless (CoLA dev), BOM header (MRPC train), last-column labels
// (RTE train), regression (STS-B dev), skip-and-count (QQP train and test)
// and an unlabelled test split (SST-2).
var fuzzTargets = []struct{ task, split string }{
	{"cola", "dev"},
	{"mrpc", "train"},
	{"rte", "train"},
	{"sts-b", "dev"},
	{"qqp", "train"},
	{"qqp", "test"},
	{"sst-2", "test"},
	{"mnli", "dev-mm"},
}

// FuzzReadTSV feeds arbitrary bytes to the reader for several layouts. It
// must not panic; errors must be one line starting with the path; on
// success rows + skipped must equal the number of data lines, and every
// example must be well formed.
func FuzzReadTSV(f *testing.F) {
	seeds := []string{
		"",
		"\n",
		"\ufeff",
		"index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n",
		"index\tsentence1\tsentence2\tlabel\r\n0\t\"a\tb\tnot_entailment",
		"gj04\t1\t\tGood.\ngj04\t0\t*\tBad.",
		"\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\ta\tb\n",
		"id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n0\t1\t2\ta\tb\t0\n1\t2\n\n",
		"id\tquestion1\tquestion2\n0\ta\tb\n1\n",
		"index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\t0\tn\tn\tA.\tB.\t3.8\n",
		"index\tsentence\n0\tx \n1\ty\xff\n",
		"index\tpromptID\tpairID\tgenre\ta\tb\tc\td\tsentence1\tsentence2\tlabel1\tgold_label\n0\t1\t2\tg\ta\tb\tc\td\tP\tH\tneutral\tneutral\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	// The first lines of a few real files, when present.
	for _, rel := range []string{"RTE/train.tsv", "MRPC/dev.tsv", "CoLA/dev.tsv", "STS-B/dev.tsv"} {
		if b, err := os.ReadFile(filepath.Join(glueDir, rel)); err == nil {
			f.Add(b[:min(len(b), 2000)])
		}
	}

	tasks := make([]*Task, len(fuzzTargets))
	for i, ft := range fuzzTargets {
		task, err := LookupTask(ft.task)
		if err != nil {
			f.Fatal(err)
		}
		tasks[i] = task
	}
	const path = "fuzz/dir/input.tsv"

	f.Fuzz(func(t *testing.T, data []byte) {
		for i, ft := range fuzzTargets {
			task := tasks[i]
			exs, rep, err := task.Parse(path, data, ft.split)
			if err != nil {
				msg := err.Error()
				if !strings.HasPrefix(msg, path+":") || strings.ContainsAny(msg, "\n") {
					t.Fatalf("%s/%s: bad error %q", ft.task, ft.split, msg)
				}
				if exs != nil {
					t.Fatalf("%s/%s: examples returned with an error", ft.task, ft.split)
				}
				continue
			}
			checkParse(t, task, ft.split, data, exs, rep)
		}
	})
}

func checkParse(t *testing.T, task *Task, split string, data []byte, exs []Example, rep *ReadReport) {
	t.Helper()
	s, _ := task.Split(split)
	// Count the data lines independently of the reader.
	body := bytes.TrimPrefix(data, utf8BOM)
	lines := bytes.Split(body, []byte{'\n'})
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	dataLines := len(lines)
	if s.Header {
		dataLines--
	}
	if rep == nil || rep.Rows != len(exs) || rep.Skipped != len(rep.SkippedLines) || rep.Rows+rep.Skipped != dataLines {
		t.Fatalf("%s/%s: rows %d, report %+v, want rows+skipped = %d", task.Name, split, len(exs), rep, dataLines)
	}
	if rep.Skipped > 0 && !task.SkipShortRows {
		t.Fatalf("%s/%s: skipped rows", task.Name, split)
	}
	// Example and skipped lines together are exactly the data lines, in order.
	first := 1
	if s.Header {
		first = 2
	}
	next, ei, si := first, 0, 0
	for ei < len(exs) || si < len(rep.SkippedLines) {
		switch {
		case ei < len(exs) && exs[ei].Line == next:
			ei++
		case si < len(rep.SkippedLines) && rep.SkippedLines[si] == next:
			si++
		default:
			t.Fatalf("%s/%s: line %d neither an example nor skipped", task.Name, split, next)
		}
		next++
	}
	for _, ex := range exs {
		for _, txt := range []string{ex.Index, ex.TextA, ex.TextB, ex.Label} {
			if strings.ContainsAny(txt, "\t\n") || !utf8.ValidString(txt) {
				t.Fatalf("%s/%s line %d: bad field %q", task.Name, split, ex.Line, txt)
			}
		}
		if ex.HasLabel != s.Labelled() {
			t.Fatalf("%s/%s line %d: HasLabel %v", task.Name, split, ex.Line, ex.HasLabel)
		}
		switch {
		case !ex.HasLabel:
			if ex.LabelID != -1 || !math.IsNaN(ex.Score) || ex.Label != "" {
				t.Fatalf("%s/%s line %d: unlabelled example with a label: %+v", task.Name, split, ex.Line, ex)
			}
		case task.Regression:
			if !(ex.Score >= 0 && ex.Score <= 5) || ex.LabelID != -1 {
				t.Fatalf("%s/%s line %d: score %v", task.Name, split, ex.Line, ex.Score)
			}
		default:
			if ex.LabelID < 0 || ex.LabelID >= len(task.Labels) || task.Labels[ex.LabelID] != ex.Label {
				t.Fatalf("%s/%s line %d: label %q id %d", task.Name, split, ex.Line, ex.Label, ex.LabelID)
			}
		}
	}
}
