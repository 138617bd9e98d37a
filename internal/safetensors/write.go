package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"unicode/utf8"

	"github.com/mixft/mixft/internal/atomicfile"
)

// Tensor is a tensor to write with Write.
type Tensor struct {
	// Name is the tensor's key in the header; it must be valid UTF-8, not
	// empty and not "__metadata__".
	Name string
	// DType is the element type of Data.
	DType DType
	// Shape is the row-major shape; an empty shape is a scalar.
	Shape []int
	// Data holds the elements, little-endian; its length must be the
	// shape's element count times DType.Size().
	Data []byte
}

// F32Tensor returns an F32 tensor holding v with the given shape (the shape
// is copied; Write checks that it matches len(v)).
func F32Tensor(name string, shape []int, v []float32) Tensor {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: F32, Shape: append([]int{}, shape...), Data: data}
}

// F64Tensor returns an F64 tensor holding v with the given shape (the shape
// is copied; Write checks that it matches len(v)).
func F64Tensor(name string, shape []int, v []float64) Tensor {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(x))
	}
	return Tensor{Name: name, DType: F64, Shape: append([]int{}, shape...), Data: data}
}

// I64Tensor returns an I64 tensor holding v with the given shape (the shape
// is copied; Write checks that it matches len(v)).
func I64Tensor(name string, shape []int, v []int64) Tensor {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: I64, Shape: append([]int{}, shape...), Data: data}
}

// Write writes tensors and metadata to path as a safetensors file with
// atomicfile.Write: a regular file (or none) at path is replaced
// atomically, so path holds either its old content or the complete new
// file, and on any error path is untouched; a symbolic link is written
// through, a pipe or device streamed into, a directory refused. The header lists "__metadata__" first
// ({"format": "pt"} when metadata is nil) and then the tensors sorted by
// name, whose data are laid out in that order; it is padded with spaces to
// a multiple of 8 bytes. Every tensor must have a known dtype, non-negative
// dimensions and len(Data) equal to the element count times the dtype size;
// names must be unique, non-empty, valid UTF-8 and not "__metadata__". A new
// file gets mode 0644; an existing file's permission bits are kept.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	header, order, err := encodeHeader(path, tensors, metadata)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 1<<20)
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
		w.Write(lenBuf[:])
		w.Write(header)
		for _, i := range order {
			w.Write(tensors[i].Data)
		}
		return w.Flush()
	})
}

// encodeHeader validates tensors and metadata and returns the padded JSON
// header and the order (indices into tensors, sorted by name) of the data.
func encodeHeader(path string, tensors []Tensor, metadata map[string]string) ([]byte, []int, error) {
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return tensors[order[a]].Name < tensors[order[b]].Name })

	if metadata == nil {
		metadata = map[string]string{"format": "pt"}
	}
	keys := make([]string, 0, len(metadata))
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("%s: metadata key %q: key and value must be valid UTF-8", path, k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var h bytes.Buffer
	h.WriteString(`{"__metadata__":{`)
	for i, k := range keys {
		if i > 0 {
			h.WriteByte(',')
		}
		writeJSONString(&h, k)
		h.WriteByte(':')
		writeJSONString(&h, metadata[k])
	}
	h.WriteByte('}')

	var offset int64
	for n, i := range order {
		t := tensors[i]
		switch {
		case t.Name == "":
			return nil, nil, fmt.Errorf("%s: tensor %d has an empty name", path, i)
		case t.Name == metadataKey:
			return nil, nil, fmt.Errorf("%s: tensor %q: name is reserved for the metadata", path, t.Name)
		case !utf8.ValidString(t.Name):
			return nil, nil, fmt.Errorf("%s: tensor %q: name is not valid UTF-8", path, t.Name)
		case n > 0 && tensors[order[n-1]].Name == t.Name:
			return nil, nil, fmt.Errorf("%s: tensor %q: duplicate name", path, t.Name)
		}
		size := int64(t.DType.Size())
		if size == 0 {
			return nil, nil, fmt.Errorf("%s: tensor %q: unknown dtype %q", path, t.Name, string(t.DType))
		}
		numel := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("%s: tensor %q: shape %s has a negative dimension", path, t.Name, fmtShape(t.Shape))
			}
			if d != 0 && numel > MaxTensorBytes/size/int64(d) {
				return nil, nil, fmt.Errorf("%s: tensor %q: shape %s with dtype %s exceeds %d bytes", path, t.Name, fmtShape(t.Shape), t.DType, int64(MaxTensorBytes))
			}
			numel *= int64(d)
		}
		if want := numel * size; int64(len(t.Data)) != want {
			return nil, nil, fmt.Errorf("%s: tensor %q: shape %s with dtype %s needs %d bytes, data has %d",
				path, t.Name, fmtShape(t.Shape), t.DType, want, len(t.Data))
		}
		h.WriteByte(',')
		writeJSONString(&h, t.Name)
		fmt.Fprintf(&h, `:{"dtype":%q,"shape":[`, string(t.DType))
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			fmt.Fprintf(&h, "%d", d)
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, offset, offset+int64(len(t.Data)))
		offset += int64(len(t.Data))
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	if h.Len() > MaxHeaderSize {
		return nil, nil, fmt.Errorf("%s: header of %d bytes exceeds the limit of %d", path, h.Len(), MaxHeaderSize)
	}
	return h.Bytes(), order, nil
}

// writeJSONString writes s as a JSON string, without HTML escaping.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)           // a valid UTF-8 string always encodes
	b.Truncate(b.Len() - 1) // drop Encode's newline
}
