package data

// This file reads a user's own data files (CSV, TSV, JSON Lines, JSON)
// into a Table of named columns; custom.go turns a Table into Examples.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mixft/mixft/internal/fsutil"
)

// Limits of a user's data file: a file may be large (fsutil.MaxData), but
// no record may be longer than MaxRecordBytes (a CSV record, a TSV or JSON
// Lines line, an element of a JSON array or column), and no file may have
// more than MaxColumns columns, so that one bad row cannot exhaust memory.
const (
	MaxRecordBytes = DefaultMaxLineBytes
	MaxColumns     = 4096
)

// Format is the layout of a data file.
type Format string

// The data file formats ReadTable understands.
const (
	// FormatCSV is RFC 4180 comma-separated values with a header row:
	// fields may be quoted, and quoted fields may hold commas, doubled
	// quotes and newlines.
	FormatCSV Format = "csv"
	// FormatTSV is tab-separated values with a header row, one row per
	// line, no quoting (a field cannot hold a tab or a newline; quotes are
	// kept as they are).
	FormatTSV Format = "tsv"
	// FormatJSONL is JSON Lines: one JSON object per line.
	FormatJSONL Format = "jsonl"
	// FormatJSON is one JSON value: an array of objects (one per row) or
	// an object of columns (each key holding an array, all of one length).
	FormatJSON Format = "json"
)

// Formats lists the format names in the order help texts show them.
var Formats = []Format{FormatCSV, FormatTSV, FormatJSONL, FormatJSON}

// FormatOf returns the format of path: explicit when it is not "" (one of
// Formats, case-insensitive), otherwise taken from the extension (.csv,
// .tsv, .jsonl or .ndjson, .json; a final .gz is not supported).
func FormatOf(path, explicit string) (Format, error) {
	if explicit != "" {
		f := Format(strings.ToLower(strings.TrimSpace(explicit)))
		if slices.Contains(Formats, f) {
			return f, nil
		}
		return "", fmt.Errorf("data format %q is not one of %s", explicit, formatList())
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatCSV, nil
	case ".tsv", ".tab":
		return FormatTSV, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	case ".json":
		return FormatJSON, nil
	}
	return "", fmt.Errorf("%s: cannot tell the data format from the extension %q (use .csv, .tsv, .jsonl or .json, or name the format: %s)", path, filepath.Ext(path), formatList())
}

func formatList() string {
	s := make([]string, len(Formats))
	for i, f := range Formats {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// Kind is the type a cell had in the file.
type Kind uint8

// Cell kinds. CSV and TSV cells are always KindString.
const (
	KindString Kind = iota
	KindNumber
	KindBool
	// KindNull is a JSON null or a key missing from a JSON row.
	KindNull
	// KindNested is a JSON object or array.
	KindNested
)

func (k Kind) String() string {
	return [...]string{"a string", "a number", "a boolean", "null", "an object or array"}[k]
}

// Row is one record of a Table.
type Row struct {
	// Line is the 1-based line where the record starts.
	Line int
	// Values holds the cells in Table.Columns order: strings as they are,
	// numbers as written in the file, booleans as true/false, "" for null.
	Values []string
	// Kinds holds each cell's kind.
	Kinds []Kind
}

// Table is a data file read into named columns.
type Table struct {
	Path   string
	Format Format
	// Columns are the column names: the header row (CSV, TSV), or the keys
	// in the order they first appear (JSON).
	Columns []string
	Rows    []Row
}

// Column returns the position of the column called name, or an error
// naming the file and listing the columns that exist.
func (t *Table) Column(name string) (int, error) {
	if i := slices.Index(t.Columns, name); i >= 0 {
		return i, nil
	}
	return -1, fmt.Errorf("%s: no column %q (columns: %s)", t.Path, name, strings.Join(quoteAll(t.Columns), ", "))
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return q
}

// TextColumn reports whether column i holds text: for JSON, every non-null
// cell is a string; for CSV and TSV, some cell is not a number (as the
// Hugging Face datasets CSV loader types an all-number column as numeric).
func (t *Table) TextColumn(i int) bool {
	sawText := false
	for _, r := range t.Rows {
		switch r.Kinds[i] {
		case KindNull:
		case KindString:
			if t.Format == FormatJSON || t.Format == FormatJSONL {
				sawText = true
				continue
			}
			if _, err := strconv.ParseFloat(strings.TrimSpace(r.Values[i]), 64); err != nil {
				return true
			}
		default:
			return false
		}
	}
	return sawText
}

// ReadTable reads a data file in the given format ("" = by extension, see
// FormatOf). Errors are one line, "PATH:LINE: ..." (with ":COLUMN" for CSV
// syntax errors), or "PATH: ..." when not about one line: an unreadable
// file, an empty file (or a header without rows), invalid UTF-8, a row
// with a different number of fields than the header, a duplicate column
// name, a JSON line that is not an object, and JSON syntax errors; a file
// that is not a regular file, and a record or column count over the limits
// above.
func ReadTable(path, format string) (*Table, error) {
	f, err := FormatOf(path, format)
	if err != nil {
		return nil, err
	}
	b, err := fsutil.ReadFile(path, fsutil.MaxData)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: cannot read: %w", path, pe.Err)
		}
		return nil, err // fsutil's error names the path
	}
	return ParseTable(path, f, b)
}

// ParseTable reads the bytes of a data file; path names the file in
// errors. See ReadTable.
func ParseTable(path string, f Format, b []byte) (*Table, error) {
	b = bytes.TrimPrefix(b, utf8BOM)
	if !utf8.Valid(b) {
		at := invalidUTF8At(b)
		line := bytes.Count(b[:at], []byte{'\n'}) + 1
		col := at - (bytes.LastIndexByte(b[:at], '\n') + 1) + 1
		return nil, fmt.Errorf("%s:%d:%d: invalid UTF-8 (byte 0x%02x); save the file as UTF-8", path, line, col, b[at])
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%s: empty file", path)
	}
	t := &Table{Path: path, Format: f}
	var err error
	switch f {
	case FormatCSV:
		err = t.parseCSV(b)
	case FormatTSV:
		err = t.parseTSV(b)
	case FormatJSONL:
		err = t.parseJSONL(b)
	case FormatJSON:
		err = t.parseJSON(b)
	default:
		err = fmt.Errorf("%s: unknown data format %q", path, f)
	}
	if err != nil {
		return nil, err
	}
	if len(t.Rows) == 0 {
		return nil, fmt.Errorf("%s: no rows (only a header, or an empty list)", path)
	}
	return t, nil
}

// setHeader checks a header row for empty and duplicate names.
func (t *Table) setHeader(names []string) error {
	if len(names) > MaxColumns {
		return fmt.Errorf("%s:1: the header has %d columns, more than the %d a data file may have", t.Path, len(names), MaxColumns)
	}
	seen := map[string]bool{}
	for i, n := range names {
		if n == "" {
			return fmt.Errorf("%s:1: column %d of the header has no name", t.Path, i+1)
		}
		if seen[n] {
			return fmt.Errorf("%s:1: column %q appears twice in the header", t.Path, n)
		}
		seen[n] = true
	}
	t.Columns = names
	return nil
}

func (t *Table) parseCSV(b []byte) error {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1 // checked here, with a clearer message
	r.ReuseRecord = false
	header, err := r.Read()
	if err != nil {
		return t.csvError(err)
	}
	if err := t.recordSize(1, int(r.InputOffset())); err != nil {
		return err
	}
	if err := t.setHeader(header); err != nil {
		return err
	}
	for {
		start := r.InputOffset()
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return t.csvError(err)
		}
		line, _ := r.FieldPos(0)
		if err := t.recordSize(line, int(r.InputOffset()-start)); err != nil {
			return err
		}
		if len(rec) != len(t.Columns) {
			return fmt.Errorf("%s:%d: row has %d comma-separated fields, the header has %d (a field holding a comma must be in double quotes)",
				t.Path, line, len(rec), len(t.Columns))
		}
		t.Rows = append(t.Rows, Row{Line: line, Values: rec, Kinds: make([]Kind, len(rec))})
	}
}

// csvError turns encoding/csv's error into one line naming the file.
func (t *Table) csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d:%d: %v (RFC 4180: a field holding a quote must be quoted, its quotes doubled)", t.Path, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %w", t.Path, err)
}

func (t *Table) parseTSV(b []byte) error {
	lines := strings.Split(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		if err := t.recordSize(i+1, len(l)); err != nil {
			return err
		}
		l = strings.TrimSuffix(l, "\r")
		fields := strings.Split(l, "\t")
		if i == 0 {
			if err := t.setHeader(fields); err != nil {
				return err
			}
			continue
		}
		if l == "" {
			return fmt.Errorf("%s:%d: empty line", t.Path, i+1)
		}
		if len(fields) != len(t.Columns) {
			return fmt.Errorf("%s:%d: row has %d tab-separated fields, the header has %d", t.Path, i+1, len(fields), len(t.Columns))
		}
		t.Rows = append(t.Rows, Row{Line: i + 1, Values: fields, Kinds: make([]Kind, len(fields))})
	}
	return nil
}

func (t *Table) parseJSONL(b []byte) error {
	for i, l := range strings.Split(string(b), "\n") {
		if err := t.recordSize(i+1, len(l)); err != nil {
			return err
		}
		l = strings.TrimSpace(l)
		if l == "" {
			continue // blank lines (and the final newline) are not rows
		}
		if err := t.addObject([]byte(l), i+1); err != nil {
			return err
		}
	}
	return nil
}

func (t *Table) parseJSON(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var top json.RawMessage
	if err := d.Decode(&top); err != nil {
		return t.jsonError(b, d.InputOffset(), err)
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("%s:%d: more than one JSON value; a file of one object per line is JSON Lines (name it .jsonl or give the format jsonl)",
			t.Path, lineAt(b, int(d.InputOffset())))
	}
	start := len(b) - len(bytes.TrimLeft(b, " \t\r\n")) // top's offset in b
	switch top[0] {
	case '[':
		els, lines, err := t.elements(b, top, start)
		if err != nil {
			return err
		}
		for i, el := range els {
			if err := t.addObject(el, lines[i]); err != nil {
				return err
			}
		}
		return nil
	case '{':
		return t.parseColumns(b, top, start)
	}
	return fmt.Errorf("%s:%d: the file holds %s; expected an array of objects or an object of columns", t.Path, lineAt(b, start), describeJSON(top))
}

// elements splits the JSON array arr, whose text starts at offset base of
// b, into its elements and the line each starts on.
func (t *Table) elements(b, arr []byte, base int) ([]json.RawMessage, []int, error) {
	d := json.NewDecoder(bytes.NewReader(arr))
	d.UseNumber()
	d.Token() // [, already checked by the caller
	var els []json.RawMessage
	var lines []int
	for d.More() {
		var el json.RawMessage
		if err := d.Decode(&el); err != nil {
			return nil, nil, t.jsonError(b, int64(base)+d.InputOffset(), err)
		}
		line := lineAt(b, base+int(d.InputOffset())-len(el))
		if err := t.recordSize(line, len(el)); err != nil {
			return nil, nil, err
		}
		els = append(els, el)
		lines = append(lines, line)
	}
	return els, lines, nil
}

// parseColumns reads {"a": [...], "b": [...]} whose text starts at offset
// base of b. A row's line is the line of its first column's value.
func (t *Table) parseColumns(b, top []byte, base int) error {
	var data [][]json.RawMessage
	var lines []int
	d := json.NewDecoder(bytes.NewReader(top))
	d.UseNumber()
	d.Token() // {
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return t.jsonError(b, int64(base)+d.InputOffset(), err)
		}
		key := k.(string)
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return t.jsonError(b, int64(base)+d.InputOffset(), err)
		}
		at := base + int(d.InputOffset()) - len(raw)
		if raw[0] != '[' {
			return fmt.Errorf("%s:%d: column %q holds %s; an object of columns maps each column name to an array of values",
				t.Path, lineAt(b, at), key, describeJSON(raw))
		}
		if slices.Contains(t.Columns, key) {
			return fmt.Errorf("%s:%d: column %q appears twice", t.Path, lineAt(b, at), key)
		}
		if len(t.Columns) == MaxColumns {
			return fmt.Errorf("%s:%d: column %q is one more than the %d a data file may have", t.Path, lineAt(b, at), key, MaxColumns)
		}
		vals, ls, err := t.elements(b, raw, at)
		if err != nil {
			return err
		}
		if len(data) > 0 && len(vals) != len(data[0]) {
			return fmt.Errorf("%s:%d: column %q has %d values, column %q has %d", t.Path, lineAt(b, at), key, len(vals), t.Columns[0], len(data[0]))
		}
		if len(data) == 0 {
			lines = ls
		}
		t.Columns, data = append(t.Columns, key), append(data, vals)
	}
	if len(data) == 0 {
		return nil
	}
	for r := range data[0] {
		row := Row{Line: lines[r], Values: make([]string, len(data)), Kinds: make([]Kind, len(data))}
		for c := range data {
			row.Values[c], row.Kinds[c] = jsonCell(data[c][r])
		}
		t.Rows = append(t.Rows, row)
	}
	return nil
}

// addObject appends one JSON object as a row; new keys become new columns
// (earlier rows get null there).
func (t *Table) addObject(obj []byte, line int) error {
	d := json.NewDecoder(bytes.NewReader(obj))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return fmt.Errorf("%s:%d: %v", t.Path, line, jsonMsg(err))
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%s:%d: expected a JSON object, got %s", t.Path, line, describeJSON(obj))
	}
	row := Row{Line: line, Values: make([]string, len(t.Columns)), Kinds: make([]Kind, len(t.Columns))}
	for i := range row.Kinds {
		row.Kinds[i] = KindNull
	}
	seen := map[string]bool{}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return fmt.Errorf("%s:%d: %v", t.Path, line, jsonMsg(err))
		}
		key := k.(string)
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return fmt.Errorf("%s:%d: key %q: %v", t.Path, line, key, jsonMsg(err))
		}
		if seen[key] {
			return fmt.Errorf("%s:%d: key %q appears twice in the object", t.Path, line, key)
		}
		seen[key] = true
		i := slices.Index(t.Columns, key)
		if i < 0 && len(t.Columns) == MaxColumns {
			return fmt.Errorf("%s:%d: key %q is one column more than the %d a data file may have", t.Path, line, key, MaxColumns)
		}
		if i < 0 {
			t.Columns = append(t.Columns, key)
			for j := range t.Rows {
				t.Rows[j].Values = append(t.Rows[j].Values, "")
				t.Rows[j].Kinds = append(t.Rows[j].Kinds, KindNull)
			}
			row.Values, row.Kinds = append(row.Values, ""), append(row.Kinds, KindNull)
			i = len(t.Columns) - 1
		}
		row.Values[i], row.Kinds[i] = jsonCell(v)
	}
	if _, err := d.Token(); err != nil { // }
		return fmt.Errorf("%s:%d: %v", t.Path, line, jsonMsg(err))
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("%s:%d: more than one JSON value on the line", t.Path, line)
	}
	t.Rows = append(t.Rows, row)
	return nil
}

// recordSize refuses a record of n bytes at line when it is longer than
// MaxRecordBytes.
func (t *Table) recordSize(line, n int) error {
	if n > MaxRecordBytes {
		return fmt.Errorf("%s:%d: a record of %d bytes, longer than the %d a row of a data file may have", t.Path, line, n, MaxRecordBytes)
	}
	return nil
}

// jsonCell converts a JSON value to a cell.
func jsonCell(v json.RawMessage) (string, Kind) {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		return "", KindNull
	case v[0] == '"':
		var s string
		json.Unmarshal(v, &s) // already validated by the decoder
		return s, KindString
	case v[0] == 't' || v[0] == 'f':
		return string(v), KindBool
	case v[0] == '{' || v[0] == '[':
		return string(v), KindNested
	}
	return string(v), KindNumber
}

// describeJSON names the kind of a JSON value for an error message.
func describeJSON(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '[':
		return "an array"
	case '{':
		return "an object"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	if v[0] == '-' || (v[0] >= '0' && v[0] <= '9') {
		return "a number"
	}
	return "text that is not JSON: " + quoteShort(v)
}

func (t *Table) jsonError(b []byte, off int64, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	return fmt.Errorf("%s:%d: %v", t.Path, lineAt(b, int(off)), jsonMsg(err))
}

// jsonMsg makes encoding/json's messages read as plain statements.
func jsonMsg(err error) string {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return "invalid JSON: unexpected end"
	}
	return "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
}

// lineAt is the 1-based line of byte offset off in b.
func lineAt(b []byte, off int) int {
	off = max(0, min(off, len(b)))
	return bytes.Count(b[:off], []byte{'\n'}) + 1
}
