package safetensors

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	shared "github.com/mixft/mixft/internal/fixture"
)

// fixture returns the path of a golden fixture file (../shared/fixtures/rel),
// ending the test as internal/fixture says when it is missing.
func fixture(t testing.TB, rel string) string {
	t.Helper()
	return shared.Path(t, "fixtures", rel)
}

// encode returns the bytes Write would write for tensors and metadata.
func encode(t testing.TB, tensors []Tensor, metadata map[string]string) []byte {
	t.Helper()
	header, order, err := encodeHeader("mem", tensors, metadata)
	if err != nil {
		t.Fatalf("encodeHeader: %v", err)
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.Write(header)
	for _, i := range order {
		b.Write(tensors[i].Data)
	}
	return b.Bytes()
}

// rawFile builds a file from a literal JSON header (padded with spaces to a
// multiple of 8) and a data section.
func rawFile(header string, data []byte) []byte {
	for len(header)%8 != 0 {
		header += " "
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

// parseBytes runs ParseHeader on an in-memory file.
func parseBytes(path string, b []byte) (*File, error) {
	return ParseHeader(path, bytes.NewReader(b), int64(len(b)))
}

// checkOneLine fails if an error message spans several lines or does not
// start with path.
func checkOneLine(t testing.TB, err error, path string) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, path+": ") {
		t.Errorf("error %q does not start with %q", msg, path+": ")
	}
}
