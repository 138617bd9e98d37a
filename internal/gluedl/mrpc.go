package gluedl

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// MRPCTestHeader is the header format_mrpc writes to test.tsv.
const MRPCTestHeader = "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n"

// FormatMRPC builds GLUE's MRPC train.tsv, dev.tsv and test.tsv from the
// SentEval copies of msr_paraphrase_train.txt and msr_paraphrase_test.txt
// and the official dev_ids.tsv, byte for byte as download_glue_data.py's
// format_mrpc does: the train file's header line (BOM included) heads
// train.tsv and dev.tsv; each row, stripped and split on tabs into
// Quality, #1 ID, #2 ID, #1 String, #2 String, goes to dev.tsv when its
// (#1 ID, #2 ID) pair is a line of dev_ids.tsv and to train.tsv otherwise;
// test.tsv gets the header MRPCTestHeader and the rows of the test file
// with their 0-based index in place of the label. Lines are read as Python
// reads text files (\n, \r\n and \r end a line) and written with \n. A row
// that does not have five fields is an error, as it is for the script.
func FormatMRPC(trainTxt, testTxt, devIDs []byte) (train, dev, test []byte, err error) {
	devPairs := map[string]bool{}
	for _, line := range pyLines(devIDs) {
		if f := strings.Split(pyStrip(line), "\t"); len(f) == 2 {
			devPairs[f[0]+"\t"+f[1]] = true
		}
	}
	if len(devPairs) == 0 {
		return nil, nil, nil, fmt.Errorf("%s has no id pairs", srcMRPCDevIDs.Name)
	}

	lines := pyLines(trainTxt)
	if len(lines) == 0 {
		return nil, nil, nil, fmt.Errorf("%s is empty", srcMRPCTrain.Name)
	}
	var tr, dv bytes.Buffer
	tr.WriteString(lines[0])
	dv.WriteString(lines[0])
	for i, line := range lines[1:] {
		f, err := mrpcFields(line, srcMRPCTrain.Name, i+2)
		if err != nil {
			return nil, nil, nil, err
		}
		out := &tr
		if devPairs[f[1]+"\t"+f[2]] {
			out = &dv
		}
		out.WriteString(strings.Join(f, "\t"))
		out.WriteByte('\n')
	}

	lines = pyLines(testTxt)
	if len(lines) == 0 {
		return nil, nil, nil, fmt.Errorf("%s is empty", srcMRPCTest.Name)
	}
	var te bytes.Buffer
	te.WriteString(MRPCTestHeader)
	for i, line := range lines[1:] {
		f, err := mrpcFields(line, srcMRPCTest.Name, i+2)
		if err != nil {
			return nil, nil, nil, err
		}
		f[0] = strconv.Itoa(i)
		te.WriteString(strings.Join(f, "\t"))
		te.WriteByte('\n')
	}
	return tr.Bytes(), dv.Bytes(), te.Bytes(), nil
}

func mrpcFields(line, file string, lineNo int) ([]string, error) {
	f := strings.Split(pyStrip(line), "\t")
	if len(f) != 5 {
		return nil, fmt.Errorf("%s:%d: %d tab-separated fields, expected 5 (Quality, #1 ID, #2 ID, #1 String, #2 String)", file, lineNo, len(f))
	}
	return f, nil
}

// pyLines splits b as Python's text-mode file iteration does (universal
// newlines): a line ends at "\n", "\r\n" or "\r", and is returned with its
// end translated to "\n" (the last line may have none).
func pyLines(b []byte) []string {
	var lines []string
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			lines = append(lines, string(b))
			break
		}
		end := i + 1
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			end = i + 2
		}
		lines = append(lines, string(b[:i])+"\n")
		b = b[end:]
	}
	return lines
}

// pyStrip is Python's str.strip(): it removes leading and trailing
// characters for which str.isspace() is true.
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
	})
}
