package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestFormatOf(t *testing.T) {
	for _, c := range []struct {
		path, explicit string
		want           Format
		err            string
	}{
		{"a.csv", "", FormatCSV, ""},
		{"dir.x/A.CSV", "", FormatCSV, ""},
		{"a.tsv", "", FormatTSV, ""},
		{"a.jsonl", "", FormatJSONL, ""},
		{"a.ndjson", "", FormatJSONL, ""},
		{"a.json", "", FormatJSON, ""},
		{"a.txt", "csv", FormatCSV, ""},
		{"a.csv", " JSONL ", FormatJSONL, ""},
		{"a.txt", "", "", `a.txt: cannot tell the data format from the extension ".txt"`},
		{"a.csv", "xml", "", `data format "xml" is not one of csv, tsv, jsonl, json`},
	} {
		got, err := FormatOf(c.path, c.explicit)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("FormatOf(%q, %q) error %v, want %q", c.path, c.explicit, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("FormatOf(%q, %q) = %q, %v; want %q", c.path, c.explicit, got, err, c.want)
		}
	}
}

// cells returns the table's rows as strings, with JSON null as <null>.
func cells(tab *Table) [][]string {
	var out [][]string
	for _, r := range tab.Rows {
		row := slices.Clone(r.Values)
		for i, k := range r.Kinds {
			if k == KindNull {
				row[i] = "<null>"
			}
		}
		out = append(out, row)
	}
	return out
}

func TestParseTable(t *testing.T) {
	for _, c := range []struct {
		name    string
		format  Format
		in      string
		columns []string
		rows    [][]string
		lines   []int
	}{
		{"csv quoted", FormatCSV,
			"text,label\n\"hello, world\",pos\n\"she said \"\"no\"\"\",neg\n\"two\nlines\",pos\n",
			[]string{"text", "label"},
			[][]string{{"hello, world", "pos"}, {`she said "no"`, "neg"}, {"two\nlines", "pos"}}, []int{2, 3, 4}},
		{"csv crlf bom no final newline", FormatCSV,
			"\ufeffa,b\r\nx,1\r\ny,2",
			[]string{"a", "b"}, [][]string{{"x", "1"}, {"y", "2"}}, []int{2, 3}},
		{"csv line after multi-line field", FormatCSV,
			"a,b\n\"1\n2\n3\",x\nz,y\n",
			[]string{"a", "b"}, [][]string{{"1\n2\n3", "x"}, {"z", "y"}}, []int{2, 5}},
		{"tsv keeps quotes", FormatTSV,
			"s1\ts2\tlabel\n\"unmatched\tb, c\t0\r\nd\te\t1\n",
			[]string{"s1", "s2", "label"}, [][]string{{`"unmatched`, "b, c", "0"}, {"d", "e", "1"}}, []int{2, 3}},
		{"jsonl", FormatJSONL,
			"{\"text\": \"a\", \"label\": 1}\n\n{\"label\": \"x\", \"text\": \"b\\nc\", \"extra\": null}\n{\"text\": \"d\", \"label\": true}\n",
			[]string{"text", "label", "extra"},
			[][]string{{"a", "1", "<null>"}, {"b\nc", "x", "<null>"}, {"d", "true", "<null>"}}, []int{1, 3, 4}},
		{"json array", FormatJSON,
			"[\n {\"text\": \"a\", \"label\": 0},\n {\"text\": \"b\", \"label\": 1.5}\n]",
			[]string{"text", "label"}, [][]string{{"a", "0"}, {"b", "1.5"}}, []int{2, 3}},
		{"json columns", FormatJSON,
			"{\"text\": [\"a\",\n \"b\"], \"label\": [\"x\", \"y\"]}",
			[]string{"text", "label"}, [][]string{{"a", "x"}, {"b", "y"}}, []int{1, 2}},
	} {
		tab, err := ParseTable("f", c.format, []byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(tab.Columns, c.columns) {
			t.Errorf("%s: columns %q, want %q", c.name, tab.Columns, c.columns)
		}
		if got := cells(tab); !slices.EqualFunc(got, c.rows, slices.Equal) {
			t.Errorf("%s: rows %q, want %q", c.name, got, c.rows)
		}
		var lines []int
		for _, r := range tab.Rows {
			lines = append(lines, r.Line)
		}
		if !slices.Equal(lines, c.lines) {
			t.Errorf("%s: lines %v, want %v", c.name, lines, c.lines)
		}
	}
}

func TestParseTableErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		format Format
		in     string
		err    string
	}{
		{"empty", FormatCSV, "", "f: empty file"},
		{"blank", FormatJSONL, "\n \n", "f: empty file"},
		{"header only", FormatCSV, "text,label\n", "f: no rows"},
		{"empty array", FormatJSON, "[]", "f: no rows"},
		{"csv field count", FormatCSV, "text,label\na,b\nhello, world,pos\n", "f:3: row has 3 comma-separated fields, the header has 2"},
		{"csv bad quote", FormatCSV, "text,label\nsay \"hi\",pos\n", "f:2:5: bare \" in non-quoted-field"},
		{"csv unterminated quote", FormatCSV, "text,label\n\"open,pos\n", "f:2:"},
		{"csv duplicate column", FormatCSV, "text,text\na,b\n", `f:1: column "text" appears twice in the header`},
		{"csv unnamed column", FormatCSV, "text,\na,b\n", "f:1: column 2 of the header has no name"},
		{"tsv field count", FormatTSV, "a\tb\nx\n", "f:2: row has 1 tab-separated fields, the header has 2"},
		{"tsv empty line", FormatTSV, "a\tb\n\nx\ty\n", "f:2: empty line"},
		{"utf8", FormatCSV, "text,label\nok,1\nbad\xff,1\n", "f:3:4: invalid UTF-8 (byte 0xff)"},
		{"jsonl not object", FormatJSONL, "{\"a\": 1}\n[1, 2]\n", "f:2: expected a JSON object, got an array"},
		{"jsonl string", FormatJSONL, "\"a\"\n", "f:1: expected a JSON object, got a string"},
		{"jsonl syntax", FormatJSONL, "{\"a\": 1}\n{\"a\": }\n", "f:2: key \"a\": invalid JSON"},
		{"jsonl two values", FormatJSONL, "{\"a\": 1} {\"a\": 2}\n", "f:1: more than one JSON value on the line"},
		{"jsonl duplicate key", FormatJSONL, "{\"a\": 1, \"a\": 2}\n", `f:1: key "a" appears twice`},
		{"json lines in .json", FormatJSON, "{\"a\": 1}\n{\"a\": 2}\n", "f:2: more than one JSON value"},
		{"json scalar", FormatJSON, "42", "f:1: the file holds a number"},
		{"json array of numbers", FormatJSON, "[\n{\"a\": 1},\n 2]", "f:3: expected a JSON object, got a number"},
		{"json column not array", FormatJSON, "{\"a\": [1], \n\"b\": 2}", `f:2: column "b" holds a number`},
		{"json column lengths", FormatJSON, "{\"a\": [1, 2], \"b\": [3]}", `f:1: column "b" has 1 values, column "a" has 2`},
		{"json syntax", FormatJSON, "[\n{\"a\": 1},\n{\"a\" 2}]", "f:3: invalid JSON"},
	} {
		_, err := ParseTable("f", c.format, []byte(c.in))
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q, want one line containing %q", c.name, err, c.err)
		}
	}
}

// TestTableLimits: a record longer than MaxRecordBytes, in every format,
// and a file with more than MaxColumns columns are errors naming the line;
// a named pipe is refused without waiting for a writer.
func TestTableLimits(t *testing.T) {
	big := strings.Repeat("x", MaxRecordBytes)
	cols := make([]string, MaxColumns+1)
	for i := range cols {
		cols[i] = fmt.Sprintf("c%d", i)
	}
	obj := make([]string, MaxColumns+1)
	for i := range obj {
		obj[i] = fmt.Sprintf("%q: 1", cols[i])
	}
	for _, c := range []struct {
		name   string
		format Format
		in     string
		err    string
	}{
		{"csv record", FormatCSV, "text,label\nok,1\n\"" + big + "\",1\n", "f:3: a record of 1048581 bytes, longer than the 1048576"},
		{"csv header", FormatCSV, big + ",label\n", "f:1: a record of"},
		{"tsv line", FormatTSV, "text\tlabel\n" + big + "\t1\n", "f:2: a record of 1048578 bytes"},
		{"jsonl line", FormatJSONL, "{\"a\": 1}\n{\"a\": \"" + big + "\"}\n", "f:2: a record of"},
		{"json element", FormatJSON, "[{\"a\": 1},\n{\"a\": \"" + big + "\"}]", "f:2: a record of"},
		{"json column value", FormatJSON, "{\"a\": [1,\n\"" + big + "\"]}", "f:2: a record of"},
		{"csv columns", FormatCSV, strings.Join(cols, ",") + "\n", "f:1: the header has 4097 columns, more than the 4096"},
		{"jsonl columns", FormatJSONL, "{" + strings.Join(obj[:MaxColumns], ", ") + "}\n{\"c4096\": 2}\n", `f:2: key "c4096" is one column more than the 4096`},
		{"json columns", FormatJSON, "{" + strings.ReplaceAll(strings.Join(obj, ", "), ": 1", ": [1]") + "}", `column "c4096" is one more than the 4096`},
	} {
		_, err := ParseTable("f", c.format, []byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.err)
		}
	}
	if _, err := ParseTable("f", FormatCSV, []byte("text,label\n\""+big[:MaxRecordBytes-10]+"\",1\n")); err != nil {
		t.Errorf("a record just under the limit: %v", err)
	}
	fifo := filepath.Join(t.TempDir(), "d.csv")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTable(fifo, ""); err == nil || err.Error() != fifo+": is a named pipe (FIFO), expected a regular file" {
		t.Errorf("FIFO: %v", err)
	}
}

func TestTextColumn(t *testing.T) {
	csvTab, err := ParseTable("f", FormatCSV, []byte("id,text,num,label\n1,a,2.5,x\n2,b, 3,y\n"))
	if err != nil {
		t.Fatal(err)
	}
	jsonTab, err := ParseTable("f", FormatJSONL, []byte("{\"id\": 1, \"text\": \"a\", \"num\": \"2\", \"flag\": true, \"n\": null}\n{\"id\": 2, \"text\": null, \"num\": \"3\", \"flag\": false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tab  *Table
		want []bool
	}{
		{csvTab, []bool{false, true, false, true}},
		// In JSON a quoted number is text; a column of nulls is not.
		{jsonTab, []bool{false, true, true, false, false}},
	} {
		var got []bool
		for i := range c.tab.Columns {
			got = append(got, c.tab.TextColumn(i))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%v: TextColumn %v, want %v", c.tab.Columns, got, c.want)
		}
	}
}

func TestReadTableFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "d.csv")
	if err := os.WriteFile(p, []byte("text,label\na,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tab, err := ReadTable(p, "")
	if err != nil || tab.Format != FormatCSV || len(tab.Rows) != 1 {
		t.Fatalf("ReadTable: %v, %+v", err, tab)
	}
	if _, err := ReadTable(filepath.Join(dir, "none.csv"), ""); err == nil || !strings.Contains(err.Error(), "none.csv: cannot read: no such file") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := tab.Column("sentence"); err == nil || err.Error() != p+`: no column "sentence" (columns: "text", "label")` {
		t.Errorf("Column: %v", err)
	}
}
