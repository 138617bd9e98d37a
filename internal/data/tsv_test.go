package data

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mixft/mixft/internal/fixture"
)

// glueDir is the shared copy of the official GLUE files (see its README.md).
var glueDir = filepath.Join(fixture.Root(), "glue")

// requireGLUE returns the path of glue/rel, ending the test as
// internal/fixture says when it is missing.
func requireGLUE(t *testing.T, rel string) string {
	t.Helper()
	return fixture.Path(t, "glue", rel)
}

func mustTask(t *testing.T, name string) *Task {
	t.Helper()
	task, err := LookupTask(name)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// TestRealFiles checks row counts and label distributions from
// shared/glue/README.md.
func TestRealFiles(t *testing.T) {
	requireGLUE(t, "README.md")
	cases := []struct {
		task, split string
		rows        int
		labels      map[string]int // nil: unlabelled (or regression)
		meanScore   float64        // STS-B only
	}{
		{"rte", "train", 2490, map[string]int{"entailment": 1249, "not_entailment": 1241}, 0},
		{"rte", "dev", 277, map[string]int{"entailment": 146, "not_entailment": 131}, 0},
		{"rte", "test", 3000, nil, 0},
		{"mrpc", "train", 3668, map[string]int{"1": 2474, "0": 1194}, 0},
		{"mrpc", "dev", 408, map[string]int{"1": 279, "0": 129}, 0},
		{"mrpc", "test", 1725, nil, 0},
		{"cola", "train", 8551, map[string]int{"1": 6023, "0": 2528}, 0},
		{"cola", "dev", 1043, map[string]int{"1": 721, "0": 322}, 0},
		{"cola", "test", 1063, nil, 0},
		{"sts-b", "train", 5749, nil, 2.7010},
		{"sts-b", "dev", 1500, nil, 2.3639},
		{"sts-b", "test", 1379, nil, 0},
		{"sst-2", "train", 67349, map[string]int{"1": 37569, "0": 29780}, 0},
		{"sst-2", "dev", 872, map[string]int{"1": 444, "0": 428}, 0},
		{"sst-2", "test", 1821, nil, 0},
		{"wnli", "train", 635, map[string]int{"0": 323, "1": 312}, 0},
		{"wnli", "dev", 71, map[string]int{"0": 40, "1": 31}, 0},
		{"wnli", "test", 146, nil, 0},
		{"qnli", "dev", 5463, map[string]int{"entailment": 2702, "not_entailment": 2761}, 0},
		{"qnli", "test", 5463, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.task+"/"+c.split, func(t *testing.T) {
			task := mustTask(t, c.task)
			exs, rep, err := task.ReadSplit(glueDir, c.split)
			if err != nil {
				t.Fatal(err)
			}
			if len(exs) != c.rows || rep.Rows != c.rows || rep.Skipped != 0 {
				t.Fatalf("rows = %d (report %d, skipped %d), want %d", len(exs), rep.Rows, rep.Skipped, c.rows)
			}
			isTest := c.split == "test"
			counts := map[string]int{}
			var sum float64
			seen := map[string]bool{}
			for i, ex := range exs {
				if ex.HasLabel == isTest {
					t.Fatalf("row %d: HasLabel = %v", i, ex.HasLabel)
				}
				if ex.TextA == "" {
					t.Errorf("line %d: empty text_a", ex.Line)
				}
				if seen[ex.Index] {
					t.Errorf("line %d: duplicate index %q", ex.Line, ex.Index)
				}
				seen[ex.Index] = true
				if !isTest && task.Regression {
					sum += ex.Score
					if ex.LabelID != -1 {
						t.Errorf("line %d: regression LabelID %d", ex.Line, ex.LabelID)
					}
				} else if !isTest {
					counts[ex.Label]++
					if task.Labels[ex.LabelID] != ex.Label {
						t.Errorf("line %d: LabelID %d for %q", ex.Line, ex.LabelID, ex.Label)
					}
				}
				if isTest && (ex.LabelID != -1 || !math.IsNaN(ex.Score) || ex.Label != "") {
					t.Errorf("line %d: unlabelled row has label %q/%d/%v", ex.Line, ex.Label, ex.LabelID, ex.Score)
				}
				if !task.Regression && !math.IsNaN(ex.Score) {
					t.Errorf("line %d: classification Score %v, want NaN", ex.Line, ex.Score)
				}
				wantLine := i + 2
				if c.task == "cola" && !isTest {
					wantLine = i + 1 // no header
				}
				if ex.Line != wantLine {
					t.Fatalf("row %d: Line %d, want %d", i, ex.Line, wantLine)
				}
			}
			if c.labels != nil && !mapsEqual(counts, c.labels) {
				t.Errorf("label counts %v, want %v", counts, c.labels)
			}
			if c.meanScore != 0 {
				if mean := sum / float64(len(exs)); math.Abs(mean-c.meanScore) > 5e-5 {
					t.Errorf("mean score %.5f, want %.4f", mean, c.meanScore)
				}
			}
			if rep.CRLFLines != 0 {
				t.Errorf("CRLF lines: %d", rep.CRLFLines)
			}
			wantFinalNL := !(c.task == "cola" && c.split == "dev")
			if rep.FinalNewline != wantFinalNL {
				t.Errorf("FinalNewline = %v", rep.FinalNewline)
			}
			wantBOM := c.task == "mrpc" && !isTest
			if rep.BOM != wantBOM {
				t.Errorf("BOM = %v", rep.BOM)
			}
			// Files without an index column number their rows from 0;
			// test files keep their own index (0..n-1 in these releases).
			for i, ex := range exs {
				if ex.Index != strconv.Itoa(i) {
					t.Errorf("row %d: Index %q", i, ex.Index)
					break
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRealTrickyRows(t *testing.T) {
	requireGLUE(t, "README.md")

	// RTE train index 2164: text_a starts with an unmatched quote; a CSV
	// reader with quoting would merge rows.
	rte := mustTask(t, "rte")
	exs, _, err := rte.ReadSplit(glueDir, "train")
	if err != nil {
		t.Fatal(err)
	}
	ex := exs[2164]
	if ex.Index != "2164" || !strings.HasPrefix(ex.TextA, `"That film wasn't too successful`) ||
		ex.TextB != `The film "WarGames" was shot in 1983.` || ex.Label != "not_entailment" || ex.LabelID != 1 {
		t.Errorf("RTE train 2164 = %+v", ex)
	}

	// QNLI dev index 694: text_b starts with `" `.
	qnli := mustTask(t, "qnli")
	exs, _, err = qnli.ReadSplit(glueDir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if ex := exs[694]; ex.Index != "694" || !strings.HasPrefix(ex.TextB, `" Luis Walter Alvarez,`) || ex.Label != "not_entailment" {
		t.Errorf("QNLI dev 694 = %+v", ex)
	}

	// SST-2: every train/dev sentence ends with a space, kept as-is.
	sst := mustTask(t, "sst-2")
	exs, _, err = sst.ReadSplit(glueDir, "train")
	if err != nil {
		t.Fatal(err)
	}
	if ex := exs[0]; ex.TextA != "hide new secretions from the parental units " || ex.Label != "0" || ex.Index != "0" || ex.Line != 2 {
		t.Errorf("SST-2 train row 0 = %+v", ex)
	}
	for _, ex := range exs {
		if !strings.HasSuffix(ex.TextA, " ") || ex.TextB != "" {
			t.Fatalf("SST-2 line %d: %q lost its trailing space", ex.Line, ex.TextA)
		}
	}
	exs, _, err = sst.ReadSplit(glueDir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if ex := exs[0]; ex.Index != "0" || ex.TextA != "uneasy mishmash of styles and genres ." {
		t.Errorf("SST-2 test row 0 = %+v", ex)
	}

	// MRPC: the BOM is not part of the header, label column 0.
	mrpc := mustTask(t, "mrpc")
	exs, rep, err := mrpc.ReadSplit(glueDir, "train")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.BOM {
		t.Error("MRPC train: BOM not reported")
	}
	if ex := exs[0]; ex.Label != "1" || ex.LabelID != 1 || ex.Index != "0" ||
		ex.TextA != `Amrozi accused his brother , whom he called " the witness " , of deliberately distorting his evidence .` ||
		ex.TextB != `Referring to him as only " the witness " , Amrozi accused his brother of deliberately distorting his evidence .` {
		t.Errorf("MRPC train row 0 = %+v", ex)
	}
	exs, _, err = mrpc.ReadSplit(glueDir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if ex := exs[0]; ex.Index != "0" || !strings.HasPrefix(ex.TextA, "PCCW 's chief operating officer") {
		t.Errorf("MRPC test row 0 = %+v", ex)
	}

	// STS-B: float labels, text columns 7 and 8.
	sts := mustTask(t, "sts-b")
	exs, _, err = sts.ReadSplit(glueDir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if ex := exs[0]; ex.Score != 5 || ex.Label != "5.000" || ex.TextA != "A man with a hard hat is dancing." || ex.TextB != "A man wearing a hard hat is dancing." || ex.Index != "0" {
		t.Errorf("STS-B dev row 0 = %+v", ex)
	}
	lo, hi := 5.0, 0.0
	for _, ex := range exs {
		lo, hi = min(lo, ex.Score), max(hi, ex.Score)
	}
	if lo != 0 || hi != 5 {
		t.Errorf("STS-B dev score range [%v, %v]", lo, hi)
	}

	// CoLA: headerless train/dev (text col 3, label col 1), header in test.
	cola := mustTask(t, "cola")
	exs, _, err = cola.ReadSplit(glueDir, "train")
	if err != nil {
		t.Fatal(err)
	}
	if ex := exs[0]; ex.Line != 1 || ex.Label != "1" || ex.TextA != "Our friends won't buy this analysis, let alone the next one we propose." {
		t.Errorf("CoLA train row 0 = %+v", ex)
	}
	// Line 1514 is the one unacceptable sentence without a "*" mark.
	if ex := exs[1513]; ex.Line != 1514 || ex.Label != "0" || ex.TextA != "That he ever went there alone is certain." {
		t.Errorf("CoLA train line 1514 = %+v", ex)
	}
	exs, _, err = cola.ReadSplit(glueDir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if ex := exs[0]; ex.Index != "0" || ex.TextA != "Bill whistled past the house." || ex.Line != 2 {
		t.Errorf("CoLA test row 0 = %+v", ex)
	}
}

// TestColaDevIsInPlusOutOfDomain: dev.tsv = in_domain_dev.tsv followed by
// out_of_domain_dev.tsv (both read with the dev layout).
func TestColaDevIsInPlusOutOfDomain(t *testing.T) {
	requireGLUE(t, "CoLA/original/raw/in_domain_dev.tsv")
	cola := mustTask(t, "cola")
	dev, devRep, err := cola.ReadSplit(glueDir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	in, _, err := cola.ReadFile(filepath.Join(glueDir, "CoLA/original/raw/in_domain_dev.tsv"), "dev")
	if err != nil {
		t.Fatal(err)
	}
	out, outRep, err := cola.ReadFile(filepath.Join(glueDir, "CoLA/original/raw/out_of_domain_dev.tsv"), "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 527 || len(out) != 516 || len(dev) != 1043 {
		t.Fatalf("in %d + out %d, dev %d", len(in), len(out), len(dev))
	}
	if devRep.FinalNewline || outRep.FinalNewline {
		t.Error("CoLA dev / out_of_domain_dev: final newline reported")
	}
	last := dev[len(dev)-1]
	if last.Line != 1043 || !strings.HasSuffix(last.TextA, " about himself.") {
		t.Errorf("CoLA dev last row = %+v", last)
	}
	both := append(slices.Clone(in), out...)
	for i := range dev {
		a, b := dev[i], both[i]
		if a.TextA != b.TextA || a.Label != b.Label {
			t.Fatalf("row %d: dev %+v, in+out %+v", i, a, b)
		}
	}
}

// writeTemp writes content to a file in a temp dir and returns its path.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSyntheticOK(t *testing.T) {
	type row struct{ index, a, b, label string }
	cases := []struct {
		name, task, split, content string
		want                       []row
		skipped                    []int
		bom                        bool
		crlf                       int
		finalNL                    bool
	}{
		{
			name: "rte basic", task: "rte", split: "train",
			content: "index\tsentence1\tsentence2\tlabel\n7\tA.\tB.\tentailment\n8\t\"Quote.\tC \"x\".\tnot_entailment\n",
			want:    []row{{"7", "A.", "B.", "entailment"}, {"8", `"Quote.`, `C "x".`, "not_entailment"}},
			finalNL: true,
		},
		{
			name: "crlf and no final newline", task: "rte", split: "dev",
			content: "index\tsentence1\tsentence2\tlabel\r\n0\ta\tb\tentailment\r\n1\tc\td\tnot_entailment",
			want:    []row{{"0", "a", "b", "entailment"}, {"1", "c", "d", "not_entailment"}},
			crlf:    2,
		},
		{
			name: "bom header mrpc", task: "mrpc", split: "dev",
			content: "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1\t2\tx y\tz\n1\t3\t4\tp\tq\n",
			want:    []row{{"0", "x y", "z", "0"}, {"1", "p", "q", "1"}},
			bom:     true, finalNL: true,
		},
		{
			name: "cola headerless", task: "cola", split: "train",
			content: "gj04\t1\t\tGood.\ngj04\t0\t*\tBad good.",
			want:    []row{{"0", "Good.", "", "1"}, {"1", "Bad good.", "", "0"}},
		},
		{
			name: "sst-2 trailing spaces kept", task: "sst-2", split: "dev",
			content: "sentence\tlabel\n  two spaces  \t1\n",
			want:    []row{{"0", "  two spaces  ", "", "1"}},
			finalNL: true,
		},
		{
			name: "header only", task: "rte", split: "test",
			content: "index\tsentence1\tsentence2\n", finalNL: true,
		},
		{
			name: "qqp short rows skipped and counted", task: "qqp", split: "train",
			content: "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n" +
				"0\t1\t2\tq1\tq2\t0\n" +
				"1\t3\t4\tq3 broken\n" + // line 3: too few columns
				"\n" + // line 4: empty
				"2\t5\t6\tq5\tq6\t1\n",
			want:    []row{{"0", "q1", "q2", "0"}, {"2", "q5", "q6", "1"}},
			skipped: []int{3, 4}, finalNL: true,
		},
		{
			name: "qqp test", task: "qqp", split: "test",
			content: "id\tquestion1\tquestion2\n0\ta?\tb?\n1\tonly one\n",
			want:    []row{{"0", "a?", "b?", ""}},
			skipped: []int{3}, finalNL: true,
		},
		{
			name: "mnli train label is last column", task: "mnli", split: "train",
			content: "index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\tlabel1\tgold_label\n" +
				"0\t1\t2\tgov\t(a)\t(b)\t(a)\t(b)\tP.\tH.\tneutral\tneutral\n",
			want:    []row{{"0", "P.", "H.", "neutral"}},
			finalNL: true,
		},
		{
			name: "ax", task: "ax", split: "test",
			content: "index\tsentence1\tsentence2\n0\tThe cat sat.\tThe cat did not sit.\n",
			want:    []row{{"0", "The cat sat.", "The cat did not sit.", ""}},
			finalNL: true,
		},
		{
			name: "sts-b integer and decimal scores", task: "sts-b", split: "train",
			content: "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n" +
				"0\tg\tf\ty\t0\tn\tn\tA.\tB.\t5\n1\tg\tf\ty\t0\tn\tn\tC.\tD.\t0.250\n",
			want:    []row{{"0", "A.", "B.", "5"}, {"1", "C.", "D.", "0.250"}},
			finalNL: true,
		},
		{
			name: "utf8 text", task: "wnli", split: "train",
			content: "index\tsentence1\tsentence2\tlabel\n0\tCafé — naïve\t日本\t1\n",
			want:    []row{{"0", "Café — naïve", "日本", "1"}},
			finalNL: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			task := mustTask(t, c.task)
			path := writeTemp(t, "f.tsv", c.content)
			exs, rep, err := task.ReadFile(path, c.split)
			if err != nil {
				t.Fatal(err)
			}
			if len(exs) != len(c.want) || rep.Rows != len(c.want) {
				t.Fatalf("got %d rows (report %d): %+v", len(exs), rep.Rows, exs)
			}
			for i, w := range c.want {
				ex := exs[i]
				if ex.Index != w.index || ex.TextA != w.a || ex.TextB != w.b || ex.Label != w.label {
					t.Errorf("row %d = %+v, want %+v", i, ex, w)
				}
				if ex.HasLabel != (w.label != "") {
					t.Errorf("row %d: HasLabel %v", i, ex.HasLabel)
				}
			}
			if rep.Skipped != len(c.skipped) || !slices.Equal(rep.SkippedLines, c.skipped) {
				t.Errorf("skipped %d %v, want %v", rep.Skipped, rep.SkippedLines, c.skipped)
			}
			if rep.BOM != c.bom || rep.CRLFLines != c.crlf || rep.FinalNewline != c.finalNL {
				t.Errorf("report %+v", rep)
			}
			if rep.Path != path || rep.Task != task.Name {
				t.Errorf("report path/task %q %q", rep.Path, rep.Task)
			}
		})
	}
}

func TestSyntheticScores(t *testing.T) {
	sts := mustTask(t, "sts-b")
	hdr := "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
	exs, _, err := sts.Parse("x.tsv", []byte(hdr+"0\tg\tf\ty\t0\tn\tn\tA.\tB.\t3.800\n"), "train")
	if err != nil || len(exs) != 1 || exs[0].Score != 3.8 || exs[0].LabelID != -1 || !exs[0].HasLabel {
		t.Fatalf("%+v %v", exs, err)
	}
	exs, _, err = sts.Parse("x.tsv", []byte("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\n0\tg\tf\ty\t0\tn\tn\tA.\tB.\n"), "test")
	if err != nil || len(exs) != 1 || !math.IsNaN(exs[0].Score) || exs[0].HasLabel {
		t.Fatalf("%+v %v", exs, err)
	}
}

func TestSyntheticErrors(t *testing.T) {
	rteHdr := "index\tsentence1\tsentence2\tlabel\n"
	stsHdr := "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
	stsRow := func(score string) string { return "0\tg\tf\ty\t0\tn\tn\tA.\tB.\t" + score + "\n" }
	cases := []struct {
		name, task, split, content string
		want                       string // substring after "PATH"
	}{
		{"too few columns", "rte", "train", rteHdr + "0\ta\tb\tentailment\n1\ta\tentailment\n", ":3: expected at least 4 tab-separated columns, got 3"},
		{"empty line in the middle", "rte", "train", rteHdr + "0\ta\tb\tentailment\n\n1\ta\tb\tentailment\n", ":3: empty line"},
		{"two trailing newlines", "rte", "train", rteHdr + "0\ta\tb\tentailment\n\n", ":3: empty line"},
		{"wrong label", "rte", "train", rteHdr + "0\ta\tb\tneutral\n", `:2: label "neutral" is not one of [entailment not_entailment] for task rte`},
		{"label case matters", "rte", "dev", rteHdr + "0\ta\tb\tEntailment\n", `:2: label "Entailment" is not one of`},
		{"label with space", "sst-2", "train", "sentence\tlabel\nx \t1 \n", `:2: label "1 " is not one of [0 1] for task sst-2`},
		{"label keeps inner CR", "sst-2", "train", "sentence\tlabel\nx \t1\r\r\n", `:2: label "1\r" is not one of`},
		{"cola given a header", "cola", "dev", "source\tlabel\tmark\tsentence\ngj04\t1\t\tOk.\n", `:1: label "label" is not one of [0 1] for task cola`},
		{"mrpc label", "mrpc", "train", "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n2\t1\t2\ta\tb\n", `:2: label "2" is not one of [0 1] for task mrpc`},
		{"sts-b score too high", "sts-b", "train", stsHdr + stsRow("5.5"), `:2: score "5.5" is not a number in [0, 5]`},
		{"sts-b negative", "sts-b", "train", stsHdr + stsRow("-0.1"), `:2: score "-0.1" is not a number`},
		{"sts-b NaN", "sts-b", "dev", stsHdr + stsRow("NaN"), `:2: score "NaN"`},
		{"sts-b Inf", "sts-b", "dev", stsHdr + stsRow("inf"), `:2: score "inf"`},
		{"sts-b text", "sts-b", "dev", stsHdr + stsRow("high"), `:2: score "high"`},
		{"sts-b empty", "sts-b", "dev", stsHdr + stsRow(""), `:2: score ""`},
		{"invalid utf8", "rte", "train", rteHdr + "0\ta\tb\tentailment\n1\tbad \xff byte\tb\tentailment\n", ":3: invalid UTF-8 at byte 7 of the line"},
		{"invalid utf8 in header", "rte", "train", "index\xc3\tsentence1\tsentence2\tlabel\n", ":1: invalid UTF-8 at byte 6"},
		{"empty file", "rte", "train", "", ": empty file"},
		{"only a BOM", "mrpc", "train", "\ufeff", ": empty file"},
		{"missing header", "rte", "dev", "0\ta\tb\tentailment\n", `:1: expected a header line starting with "index", got "0\ta\tb\tentailment"`},
		{"test file read as train", "rte", "train", "index\tsentence1\tsentence2\n0\ta\tb\n", ":1: header has 3 tab-separated columns, expected at least 4"},
		{"wrong task header", "sst-2", "train", rteHdr + "0\ta\tb\tentailment\n", `:1: expected a header line starting with "sentence"`},
		{"mnli short row", "mnli", "dev", "index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\tlabel1\tgold_label\n0\t1\t2\tg\ta\tb\tc\td\tP\tH\n", ":2: expected at least 11 tab-separated columns, got 10"},
		{"mnli gold label -", "mnli", "dev", "index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\tlabel1\tgold_label\n0\t1\t2\tg\ta\tb\tc\td\tP\tH\tneutral\t-\n", `:2: label "-" is not one of [contradiction entailment neutral] for task mnli`},
		{"qqp bad label is still an error", "qqp", "dev", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n0\t1\t2\ta\tb\tyes\n", `:2: label "yes"`},
		{"long label is cut", "rte", "train", rteHdr + "0\ta\tb\t" + strings.Repeat("é", 100) + "\n", `"... is not one of`},
		{"more columns than the header", "qnli", "dev", "index\tquestion\tsentence\tlabel\n3\tq\ts\textra\tentailment\n", ":2: 5 tab-separated columns, more than the 4 of the qnli dev layout"},
		{"a million tabs", "rte", "train", rteHdr + "0\ta\tb" + strings.Repeat("\t", 1_000_000) + "entailment\n", ":2: 1000003 tab-separated columns, more than the 4 of the rte train layout"},
		{"headerless row too wide", "cola", "train", "gj04\t1\t\tGood.\tmore\n", ":1: 5 tab-separated columns, more than the 4 of the cola train layout"},
		{"line over 1 MiB", "rte", "train", rteHdr + "0\t" + strings.Repeat("a", 1<<20) + "\tb\tentailment\n", ":2: line of 1048591 bytes, longer than the 1048576"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			task := mustTask(t, c.task)
			path := writeTemp(t, "in.tsv", c.content)
			exs, _, err := task.ReadFile(path, c.split)
			if err == nil {
				t.Fatalf("no error; rows %+v", exs)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path) || strings.ContainsAny(msg, "\n") {
				t.Errorf("error %q must be one line starting with %s", msg, path)
			}
			if want := strings.ReplaceAll(c.want, "\t", `\t`); !strings.Contains(msg, strings.ReplaceAll(want, "\r", `\r`)) {
				t.Errorf("error %q does not contain %q", msg, c.want)
			}
			if exs != nil {
				t.Error("examples returned with an error")
			}
		})
	}

	// The line limit is the task's to set.
	rte := mustTask(t, "rte")
	rte.MaxLineBytes = 31 // the header's length
	short := writeTemp(t, "in.tsv", rteHdr+"0\t"+strings.Repeat("a", 20)+"\tb\tentailment\n")
	if _, _, err := rte.ReadFile(short, "train"); err == nil || !strings.Contains(err.Error(), ":2: line of 35 bytes, longer than the 31") {
		t.Errorf("MaxLineBytes 31: %v", err)
	}
	rte.MaxLineBytes = 0
	// A named pipe is refused without waiting for a writer.
	fifo := filepath.Join(t.TempDir(), "train.tsv")
	if err := syscall.Mkfifo(fifo, 0o644); err == nil {
		if _, _, err := rte.ReadFile(fifo, "train"); err == nil || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("FIFO: %v", err)
		}
	}

	// Missing file and unknown split.
	missing := filepath.Join(t.TempDir(), "RTE", "train.tsv")
	if _, _, err := rte.ReadFile(missing, "train"); err == nil || !strings.HasPrefix(err.Error(), missing) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := rte.ReadSplit(t.TempDir(), "dev-mm"); err == nil || !strings.Contains(err.Error(), "no split") {
		t.Errorf("unknown split: %v", err)
	}
	if _, _, err := rte.ReadFile("some/path.tsv", "dev-mm"); err == nil || !strings.HasPrefix(err.Error(), "some/path.tsv: ") {
		t.Errorf("unknown split via ReadFile: %v", err)
	}
}

// TestSubmissionRoundTrip writes an RTE test submission from the real test
// file and checks it has one row per example.
func TestSubmissionRoundTrip(t *testing.T) {
	requireGLUE(t, "RTE/test.tsv")
	rte := mustTask(t, "rte")
	exs, _, err := rte.ReadSplit(glueDir, "test")
	if err != nil {
		t.Fatal(err)
	}
	idx, preds := make([]string, len(exs)), make([]string, len(exs))
	for i, ex := range exs {
		idx[i], preds[i] = ex.Index, rte.Labels[i%2]
	}
	sub, _ := rte.SubmissionFile("test")
	path := filepath.Join(t.TempDir(), sub)
	if err := WriteSubmission(path, rte, idx, preds); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(exs)+1 || lines[0] != "index\tprediction" || lines[1] != "0\tentailment" || lines[2] != "1\tnot_entailment" {
		t.Errorf("submission has %d lines, starts %q", len(lines), lines[:3])
	}
}
