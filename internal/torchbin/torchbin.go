// Package torchbin reads the tensors of a PyTorch state dict saved by
// torch.save (pytorch_model.bin): the zip format of PyTorch 1.6 and later,
// archive/data.pkl plus one archive/data/KEY entry per storage. The pickle
// is run by a restricted machine of its own that knows only tensors,
// storages, parameters, OrderedDict and plain values: a file naming any
// other global (os.system, a module class, ...) is refused with one line
// and nothing in it is ever executed, where Python's pickle would run it.
package torchbin

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/mixft/mixft/internal/safetensors"
)

// maxPickle bounds data.pkl: a state dict's pickle is a few hundred bytes
// per tensor.
const maxPickle = 64 << 20

// FormatError is the error for a file that is not a readable state dict.
// Its message is one line: the path, then what is wrong.
type FormatError struct {
	// Path is the file path.
	Path string
	// Err says what is wrong; a *RefusedError for a pickle that names
	// something other than tensors and containers.
	Err error
}

func (e *FormatError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *FormatError) Unwrap() error { return e.Err }

// Tensor describes one tensor of a state dict.
type Tensor struct {
	// Name is the state-dict key.
	Name string
	// DType is the element type, in safetensors' names (F32, F16, BF16,
	// I64, ...).
	DType safetensors.DType
	// Shape is the tensor's shape; empty for a scalar.
	Shape []int

	ref *tensorRef
}

// File is an open torch.save zip file. Its tensor data are read on demand
// with Float32.
type File struct {
	// Path is the file path, the prefix of every error message.
	Path string
	// Tensors lists the state dict's tensors in the file's order.
	Tensors []Tensor

	zr       *zip.ReadCloser
	storages map[string]*zip.File
	index    map[string]int
}

// Open opens a torch.save file and reads its state dict's structure
// (tensor names, dtypes, shapes). A file in the format before PyTorch 1.6
// (a bare pickle stream), a pickle that is not a dictionary of tensors, or
// one that names a global outside tensors, storages and OrderedDict is an
// error.
func Open(path string) (*File, error) {
	fail := func(format string, args ...any) (*File, error) {
		return nil, &FormatError{Path: path, Err: fmt.Errorf(format, args...)}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open torch state dict: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fail("not a regular file")
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		if head, herr := readHead(path); herr == nil && len(head) > 0 && head[0] == 0x80 {
			return fail("a torch.save file of the format before PyTorch 1.6 (a bare pickle), which mixft does not read; re-save it with torch>=1.6 or as safetensors")
		}
		return fail("not a torch.save zip file: %v", err)
	}
	f := &File{Path: path, zr: zr, storages: map[string]*zip.File{}, index: map[string]int{}}
	if err := f.parse(); err != nil {
		zr.Close()
		var fe *FormatError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &FormatError{Path: path, Err: err}
	}
	return f, nil
}

func readHead(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b := make([]byte, 2)
	n, err := io.ReadFull(fh, b)
	return b[:n], err
}

// parse finds the archive's data.pkl and storages and runs the pickle.
func (f *File) parse() error {
	var pkl *zip.File
	prefix := ""
	for _, zf := range f.zr.File {
		if strings.HasSuffix(zf.Name, "/data.pkl") && strings.Count(zf.Name, "/") == 1 {
			if pkl != nil {
				return fmt.Errorf("two data.pkl entries (%s, %s)", pkl.Name, zf.Name)
			}
			pkl, prefix = zf, strings.TrimSuffix(zf.Name, "data.pkl")
		}
	}
	if pkl == nil {
		return fmt.Errorf("no ARCHIVE/data.pkl entry: not a torch.save file")
	}
	for _, zf := range f.zr.File {
		if key, ok := strings.CutPrefix(zf.Name, prefix+"data/"); ok && key != "" && !strings.Contains(key, "/") {
			f.storages[key] = zf
		}
		if zf.Name == prefix+"byteorder" {
			b, err := readEntry(zf, 16)
			if err != nil {
				return err
			}
			if s := strings.TrimSpace(string(b)); s != "little" {
				return fmt.Errorf("byte order %q; mixft reads little-endian files only", s)
			}
		}
	}
	raw, err := readEntry(pkl, maxPickle)
	if err != nil {
		return err
	}
	v, err := unpickle(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", pkl.Name, err)
	}
	d, ok := v.(*dict)
	if !ok {
		return fmt.Errorf("%s holds a %s, expected a state dict (a dictionary of tensors)", pkl.Name, typeName(v))
	}
	for _, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return fmt.Errorf("state dict key %v is not a string", k)
		}
		t, ok := d.vals[k].(*tensorRef)
		if !ok {
			return fmt.Errorf("state dict entry %q is a %s, expected a tensor", name, typeName(d.vals[k]))
		}
		if err := f.check(name, t); err != nil {
			return err
		}
		shape := make([]int, len(t.shape))
		for i, s := range t.shape {
			shape[i] = int(s)
		}
		f.index[name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, Tensor{Name: name, DType: safetensors.DType(t.storage.dtype), Shape: shape, ref: t})
	}
	return nil
}

// maxNumel bounds a storage's elements (2^40), which keeps the view
// arithmetic below within int64.
const maxNumel = 1 << 40

// check validates a tensor's view against its storage: its storage entry
// has the declared size, it has no more elements than the storage, and
// every element it addresses lies inside the storage.
func (f *File) check(name string, t *tensorRef) error {
	zf, ok := f.storages[t.storage.key]
	if !ok {
		return fmt.Errorf("tensor %q: storage %q has no data/%s entry", name, t.storage.key, t.storage.key)
	}
	if zf.Method != zip.Store {
		// torch.save stores entries uncompressed; a compressed one could
		// inflate far beyond the file's size.
		return fmt.Errorf("tensor %q: storage entry %s is compressed (method %d); torch.save stores them uncompressed", name, zf.Name, zf.Method)
	}
	numel := t.storage.numel
	size := int64(safetensors.DType(t.storage.dtype).Size())
	if numel > maxNumel || zf.UncompressedSize64 != uint64(numel*size) {
		return fmt.Errorf("tensor %q: storage %q holds %d bytes, expected %d elements of %d bytes", name, t.storage.key, zf.UncompressedSize64, numel, size)
	}
	n := int64(1)
	for i, s := range t.shape {
		if s < 0 || t.stride[i] < 0 {
			return fmt.Errorf("tensor %q: negative size or stride in shape %v, stride %v", name, t.shape, t.stride)
		}
		if s > numel || n*s > numel {
			n = numel + 1
			break
		}
		n *= s
	}
	if n == 0 {
		return nil
	}
	if n > numel {
		return fmt.Errorf("tensor %q: shape %v needs more elements than its storage of %d", name, t.shape, numel)
	}
	if t.offset < 0 || t.offset >= numel {
		return fmt.Errorf("tensor %q: storage offset %d outside its storage of %d elements", name, t.offset, numel)
	}
	last := t.offset // the largest element offset the view reaches
	for i, s := range t.shape {
		if s > 1 && t.stride[i] > (numel-1-last)/(s-1) {
			return fmt.Errorf("tensor %q: shape %v, stride %v at offset %d reach past its storage of %d elements", name, t.shape, t.stride, t.offset, numel)
		}
		last += (s - 1) * t.stride[i]
	}
	return nil
}

func readEntry(zf *zip.File, limit int64) ([]byte, error) {
	if zf.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("entry %s is %d bytes, more than %d", zf.Name, zf.UncompressedSize64, limit)
	}
	r, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("entry %s: %w", zf.Name, err)
	}
	defer r.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(r, limit+1)); err != nil {
		return nil, fmt.Errorf("entry %s: %w", zf.Name, err)
	}
	if int64(buf.Len()) != int64(zf.UncompressedSize64) {
		return nil, fmt.Errorf("entry %s: %d bytes, its header says %d", zf.Name, buf.Len(), zf.UncompressedSize64)
	}
	return buf.Bytes(), nil
}

// Names returns the tensor names, sorted.
func (f *File) Names() []string {
	names := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		names[i] = t.Name
	}
	sort.Strings(names)
	return names
}

// Info returns the tensor called name.
func (f *File) Info(name string) (Tensor, bool) {
	i, ok := f.index[name]
	if !ok {
		return Tensor{}, false
	}
	return f.Tensors[i], true
}

// Float32 returns the elements of a float tensor (F32, F64, F16, BF16) in
// row-major order, converted to float32, whatever its strides.
func (f *File) Float32(name string) ([]float32, error) {
	t, ok := f.Info(name)
	if !ok {
		return nil, &FormatError{Path: f.Path, Err: fmt.Errorf("no tensor %q", name)}
	}
	switch t.DType {
	case safetensors.F32, safetensors.F64, safetensors.F16, safetensors.BF16:
	default:
		return nil, &FormatError{Path: f.Path, Err: fmt.Errorf("tensor %q is %s, expected a float tensor", name, t.DType)}
	}
	r := t.ref
	zf := f.storages[r.storage.key]
	raw, err := readEntry(zf, int64(zf.UncompressedSize64))
	if err != nil {
		return nil, &FormatError{Path: f.Path, Err: err}
	}
	all := make([]float32, r.storage.numel)
	safetensors.DecodeFloat32(t.DType, all, raw)
	n := 1
	for _, s := range t.Shape {
		n *= s
	}
	out := make([]float32, n)
	if n == 0 {
		return out, nil
	}
	// Walk the elements in row-major order through the strides.
	idx := make([]int64, len(r.shape))
	for i := range out {
		off := r.offset
		for d, k := range idx {
			off += k * r.stride[d]
		}
		out[i] = all[off]
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < r.shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out, nil
}

// Close closes the file.
func (f *File) Close() error { return f.zr.Close() }
