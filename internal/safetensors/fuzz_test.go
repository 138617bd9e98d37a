package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	shared "github.com/mixft/mixft/internal/fixture"
)

// FuzzParseHeader feeds arbitrary bytes to ParseHeader. It must never panic;
// errors must be one line starting with the path; and a file it accepts
// must have every tensor inside the data section, covering it exactly, and
// readable (or cleanly refused) by Raw, Float32, Float64 and Int64.
func FuzzParseHeader(f *testing.F) {
	f.Add(encode(f, baseTensors(), nil))
	f.Add(encode(f, []Tensor{
		F32Tensor("s", nil, []float32{1}),
		{Name: "z", DType: BF16, Shape: []int{0, 2}},
		{Name: "m", DType: BOOL, Shape: []int{2}, Data: []byte{0, 1}},
		{Name: "u", DType: U64, Shape: []int{1}, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
	}, map[string]string{"k": "v"}))
	f.Add(rawFile(`{}`, nil))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}`, make([]byte, 8)))
	f.Add([]byte{})
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '})
	// The fixtures' first bytes: the header and the start of the data.
	paths, _ := filepath.Glob(filepath.Join(shared.Root(), "fixtures", "*", "*", "*.safetensors"))
	more, _ := filepath.Glob(filepath.Join(shared.Root(), "fixtures", "*", "*.safetensors"))
	for _, p := range append(paths, more...) {
		b, err := os.ReadFile(p)
		if err != nil || len(b) < 8 {
			continue
		}
		if len(b) <= 1<<12 {
			f.Add(b) // small enough to seed whole
			continue
		}
		if n := binary.LittleEndian.Uint64(b); n < uint64(len(b))-8 {
			f.Add(b[:min(uint64(len(b)), 8+n+64)])
		}
	}

	const path = "fuzz.safetensors"
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseHeader(path, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			checkOneLine(t, err, path)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("in-memory parse gave a non-format error: %v", err)
			}
			return
		}
		if file.DataStart+file.DataSize != int64(len(data)) || file.DataStart < 9 {
			t.Fatalf("DataStart %d + DataSize %d != %d", file.DataStart, file.DataSize, len(data))
		}
		var pos int64
		for _, ti := range file.Tensors {
			if ti.Begin != pos || ti.End < ti.Begin || ti.End > file.DataSize {
				t.Fatalf("tensor %q at [%d, %d] breaks the layout (pos %d, data %d)", ti.Name, ti.Begin, ti.End, pos, file.DataSize)
			}
			size := ti.DType.Size()
			if size == 0 || ti.End-ti.Begin != int64(ti.NumElements())*int64(size) {
				t.Fatalf("tensor %q: %s %v does not match [%d, %d]", ti.Name, ti.DType, ti.Shape, ti.Begin, ti.End)
			}
			pos = ti.End
		}
		if pos != file.DataSize {
			t.Fatalf("tensors cover %d of %d data bytes", pos, file.DataSize)
		}
		for _, ti := range file.Tensors {
			raw, err := file.Raw(ti.Name)
			if err != nil || !bytes.Equal(raw, data[file.DataStart+ti.Begin:file.DataStart+ti.End]) {
				t.Fatalf("Raw(%q): %v", ti.Name, err)
			}
			v32, err := file.Float32(ti.Name)
			if (err == nil) != ti.DType.isFloat() || (err == nil && len(v32) != ti.NumElements()) {
				t.Fatalf("Float32(%q) of %s: %d values, %v", ti.Name, ti.DType, len(v32), err)
			}
			v64, err := file.Float64(ti.Name)
			if (err == nil) != ti.DType.isFloat() || (err == nil && len(v64) != ti.NumElements()) {
				t.Fatalf("Float64(%q) of %s: %d values, %v", ti.Name, ti.DType, len(v64), err)
			}
			if err != nil {
				checkOneLine(t, err, path)
			}
			vi, err := file.Int64(ti.Name)
			if err == nil && (!ti.DType.isInt() || len(vi) != ti.NumElements()) {
				t.Fatalf("Int64(%q) of %s: %d values", ti.Name, ti.DType, len(vi))
			}
			if err != nil {
				checkOneLine(t, err, path)
			}
			if info, ok := file.Info(ti.Name); !ok || info.Begin != ti.Begin {
				t.Fatalf("Info(%q) = %+v, %v", ti.Name, info, ok)
			}
		}
		if len(file.Names()) != len(file.Tensors) {
			t.Fatal("Names() and Tensors disagree")
		}
		// What parses re-encodes to a file that parses to the same tensors.
		var tensors []Tensor
		for _, ti := range file.Tensors {
			raw, _ := file.Raw(ti.Name)
			tensors = append(tensors, Tensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: raw})
		}
		header, order, err := encodeHeader(path, tensors, file.Metadata)
		if err != nil {
			if strings.Contains(err.Error(), "empty name") {
				return // the writer refuses empty names the reader accepts
			}
			t.Fatalf("re-encode: %v", err)
		}
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, uint64(len(header)))
		b.Write(header)
		for _, i := range order {
			b.Write(tensors[i].Data)
		}
		again, err := ParseHeader(path, bytes.NewReader(b.Bytes()), int64(b.Len()))
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) || len(again.Metadata) != len(file.Metadata) {
			t.Fatalf("re-encoded file has %d tensors, want %d", len(again.Tensors), len(file.Tensors))
		}
		for _, ti := range again.Tensors {
			raw, err := again.Raw(ti.Name)
			orig, err2 := file.Raw(ti.Name)
			if err != nil || err2 != nil || !bytes.Equal(raw, orig) {
				t.Fatalf("re-encoded tensor %q differs", ti.Name)
			}
		}
	})
}
