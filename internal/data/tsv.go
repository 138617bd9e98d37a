package data

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mixft/mixft/internal/fsutil"
)

// Example is one row of a GLUE file.
type Example struct {
	// Index is the file's index/id column, or the 0-based row number (not
	// counting the header) for files without one (CoLA, SST-2 and MRPC
	// train/dev). Test splits always use the file's index column, which
	// submissions need.
	Index string
	// Line is the 1-based line of the row in the file (the header is line 1).
	Line int
	// TextA and TextB are the texts, byte-for-byte as in the file (SST-2's
	// trailing spaces are kept). TextB is "" for single-sentence tasks.
	TextA, TextB string
	// Label is the raw label field ("" when unlabelled).
	Label string
	// LabelID is the class id (position of Label in Task.Labels); -1 when
	// unlabelled and for the regression task.
	LabelID int
	// Score is the STS-B similarity score; NaN when unlabelled and for
	// classification tasks.
	Score float64
	// HasLabel is true when the row carries a label (train/dev splits).
	HasLabel bool
}

// ReadReport says what the reader saw in one file.
type ReadReport struct {
	Path  string
	Task  string // canonical task name
	Split string // canonical split name
	// Rows is the number of examples returned.
	Rows int
	// Skipped counts rows with too few columns that were skipped (QQP
	// only); SkippedLines holds their 1-based line numbers.
	Skipped      int
	SkippedLines []int
	// BOM is true when the file started with a UTF-8 byte order mark (MRPC
	// train/dev do); it is not part of the first cell.
	BOM bool
	// CRLFLines counts lines that ended in "\r\n" (the "\r" is dropped).
	CRLFLines int
	// FinalNewline is false when the last line has no "\n" (CoLA dev).
	FinalNewline bool
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ReadSplit reads the split file SplitPath finds; see ReadFile. For a
// custom task dataDir is unused and a split without a file is an error.
func (t *Task) ReadSplit(dataDir, split string) ([]Example, *ReadReport, error) {
	path, err := t.SplitPath(dataDir, split)
	if err != nil {
		return nil, nil, err
	}
	return t.ReadFile(path, split)
}

// ReadFile reads the file at path with the column layout of the task's
// split (the file name itself is not checked, so renamed copies and
// subsets such as CoLA's in_domain_dev.tsv can be read as "dev").
// See Parse for the format rules; a custom task reads its own formats
// (see ReadTable) with its columns. Errors start with the path; on error
// the examples and the report are nil.
func (t *Task) ReadFile(path string, split string) ([]Example, *ReadReport, error) {
	s, err := t.Split(split)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if t.Custom != nil {
		return t.readCustom(path, s.Name)
	}
	b, err := fsutil.ReadFile(path, fsutil.MaxData)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, nil, fmt.Errorf("%s: cannot read: %w", path, pe.Err)
		}
		return nil, nil, err // fsutil's error names the path
	}
	return t.Parse(path, b, split)
}

// Parse reads the bytes of one GLUE TSV file; path is used in the report
// and in error messages only.
//
// Rules: a leading UTF-8 BOM is dropped; lines end at "\n" and one "\r"
// before it is dropped; the last line may lack "\n"; the empty string after
// a final "\n" is not a row, but an empty line anywhere else is a malformed
// row. Rows are split on "\t" only, with no quote handling (fields may
// start with an unmatched `"`, as in RTE and QNLI), and fields are kept
// byte-for-byte. When the split has a header, line 1 is skipped after a
// loose check of its first cell and column count, and no row may have more
// columns than it (headerless files: than the split needs).
//
// Errors are single-line, "PATH:LINE: ..." (or "PATH: ..." when not about
// one line): a line longer than MaxLineBytes; invalid UTF-8; a row with
// fewer columns than the split needs (QQP instead skips and counts such
// rows, as transformers' QqpProcessor does) or more than its layout has; a
// label outside the task's label set; an STS-B score that is not a finite
// number in [0, 5]; an empty file. Parse never panics.
func (t *Task) Parse(path string, data []byte, split string) ([]Example, *ReadReport, error) {
	s, err := t.Split(split)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	rep := &ReadReport{Path: path, Task: t.Name, Split: s.Name, FinalNewline: true}
	if bytes.HasPrefix(data, utf8BOM) {
		rep.BOM = true
		data = data[len(utf8BOM):]
	}
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%s: empty file", path)
	}
	rep.FinalNewline = data[len(data)-1] == '\n'

	examples := make([]Example, 0, bytes.Count(data, []byte{'\n'})+1)
	var seps []int // positions of the tabs of the current line
	lineNo := 0
	maxLine := t.MaxLineBytes
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	maxCols := s.MinCols // a header, when there is one, says how many
	for pos := 0; pos < len(data); {
		var line []byte
		if nl := bytes.IndexByte(data[pos:], '\n'); nl >= 0 {
			line = data[pos : pos+nl]
			pos += nl + 1
		} else {
			line = data[pos:]
			pos = len(data)
		}
		lineNo++
		if len(line) > maxLine {
			return nil, nil, fmt.Errorf("%s:%d: line of %d bytes, longer than the %d a GLUE row may have", path, lineNo, len(line), maxLine)
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
			rep.CRLFLines++
		}
		if !utf8.Valid(line) {
			return nil, nil, fmt.Errorf("%s:%d: invalid UTF-8 at byte %d of the line", path, lineNo, invalidUTF8At(line)+1)
		}

		seps = seps[:0]
		for i, c := range line {
			if c == '\t' {
				seps = append(seps, i)
			}
		}
		ncols := len(seps) + 1
		field := func(i int) []byte {
			start, end := 0, len(line)
			if i > 0 {
				start = seps[i-1] + 1
			}
			if i < len(seps) {
				end = seps[i]
			}
			return line[start:end]
		}

		if s.Header && lineNo == 1 {
			if s.HeaderFirst != "" {
				first := strings.TrimSpace(string(field(0)))
				if !strings.EqualFold(first, s.HeaderFirst) {
					return nil, nil, fmt.Errorf("%s:1: expected a header line starting with %q, got %s (wrong task or split? %s %s)",
						path, s.HeaderFirst, quoteShort(line), t.Name, s.Name)
				}
			}
			if ncols < s.MinCols {
				return nil, nil, fmt.Errorf("%s:1: header has %d tab-separated columns, expected at least %d (wrong task or split? %s %s)",
					path, ncols, s.MinCols, t.Name, s.Name)
			}
			maxCols = ncols
			continue
		}
		if ncols > maxCols {
			return nil, nil, fmt.Errorf("%s:%d: %d tab-separated columns, more than the %d of the %s %s layout", path, lineNo, ncols, maxCols, t.Name, s.Name)
		}

		if ncols < s.MinCols {
			if t.SkipShortRows {
				rep.Skipped++
				rep.SkippedLines = append(rep.SkippedLines, lineNo)
				continue
			}
			if len(line) == 0 {
				return nil, nil, fmt.Errorf("%s:%d: empty line (expected at least %d tab-separated columns)", path, lineNo, s.MinCols)
			}
			return nil, nil, fmt.Errorf("%s:%d: expected at least %d tab-separated columns, got %d", path, lineNo, s.MinCols, ncols)
		}

		ex := Example{Line: lineNo, LabelID: -1, Score: math.NaN()}
		if s.IndexCol >= 0 {
			ex.Index = string(field(s.IndexCol))
		} else {
			ex.Index = strconv.Itoa(len(examples))
		}
		ex.TextA = string(field(s.TextACol))
		if s.TextBCol >= 0 {
			ex.TextB = string(field(s.TextBCol))
		}
		if s.Labelled() {
			col := s.LabelCol
			if col == LastColumn {
				col = ncols - 1
			}
			raw := field(col)
			if t.Regression {
				f, perr := strconv.ParseFloat(string(raw), 64)
				if perr != nil || math.IsNaN(f) || f < 0 || f > 5 {
					return nil, nil, fmt.Errorf("%s:%d: score %s is not a number in [0, 5] for task %s", path, lineNo, quoteShort(raw), t.Name)
				}
				ex.Score = f
			} else {
				id := t.LabelID(string(raw))
				if id < 0 {
					return nil, nil, fmt.Errorf("%s:%d: label %s is not one of %v for task %s", path, lineNo, quoteShort(raw), t.Labels, t.Name)
				}
				ex.LabelID = id
				ex.Label = t.Labels[id] // shares the registry's string
			}
			if ex.Label == "" {
				ex.Label = string(raw)
			}
			ex.HasLabel = true
		}
		examples = append(examples, ex)
	}
	rep.Rows = len(examples)
	return examples, rep, nil
}

// invalidUTF8At returns the offset of the first invalid UTF-8 sequence.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// quoteShort quotes a field for an error message, cut to 60 bytes so that
// messages stay short; %q keeps them on one line.
func quoteShort(b []byte) string {
	const max = 60
	if len(b) <= max {
		return strconv.Quote(string(b))
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return strconv.Quote(string(b[:cut])) + "..."
}
