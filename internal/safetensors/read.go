// Package safetensors reads and writes the safetensors tensor file format of
// Hugging Face: an 8-byte little-endian header length N, N bytes of UTF-8
// JSON header, then the data section. The header maps each tensor name to
// its dtype, shape and data_offsets ([begin, end) relative to the start of
// the data section), and may hold a "__metadata__" object of string pairs.
// Data are little-endian and row-major.
//
// The reader is strict: it validates the whole header against the file size
// before anything is allocated for tensor data, requires the tensors to
// cover the data section exactly (no overlap, no gap, no trailing bytes),
// and reports every problem as a single-line error that starts with the
// file path and names the tensor concerned. The writer is atomic: it writes
// a temporary file in the destination directory, syncs it and renames it
// into place.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header, in bytes, that ParseHeader
// accepts and Write produces (100 MiB, the limit of Hugging Face's reader).
const MaxHeaderSize = 100 << 20

// MaxTensorBytes is the largest size, in bytes, of one tensor's data (1 TiB).
// Shapes whose element count times dtype size exceed it are rejected.
const MaxTensorBytes = 1 << 40

// maxRank caps the number of dimensions of a shape.
const maxRank = 1024

// readChunk is the number of bytes Float32, Float64 and Int64 read at a time.
const readChunk = 1 << 20

// metadataKey is the reserved header key of the string-to-string metadata.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor of a file, as given by its header entry.
type TensorInfo struct {
	// Name is the tensor's key in the header.
	Name string
	// DType is the element type.
	DType DType
	// Shape is the row-major shape; an empty shape is a scalar.
	Shape []int
	// Begin and End delimit the tensor's bytes, relative to the start of
	// the data section (File.DataStart in the file).
	Begin, End int64
}

// NumElements returns the product of the shape's dimensions (1 for a
// scalar). For a TensorInfo from ParseHeader or Open it cannot overflow.
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a validated safetensors file. Its tensor data are read on demand
// with Raw, Float32, Float64 and Int64, which are safe for concurrent use.
type File struct {
	// Path is the file path, used as the prefix of every error message.
	Path string
	// Metadata is the header's "__metadata__" object; empty (non-nil) when
	// the header has none.
	Metadata map[string]string
	// Tensors lists every tensor, sorted by Begin (the order of their data
	// in the file).
	Tensors []TensorInfo
	// DataStart is the absolute file offset of the data section (8 + the
	// header length).
	DataStart int64
	// DataSize is the size of the data section in bytes.
	DataSize int64

	r      io.ReaderAt
	closer io.Closer
	index  map[string]int
}

// FormatError is the error ParseHeader returns for a malformed file. Its
// message is one line: the path, then the tensor (where there is one), then
// what is wrong.
type FormatError struct {
	// Path is the file path.
	Path string
	// Tensor is the name of the tensor concerned, if HasTensor.
	Tensor string
	// HasTensor tells whether the error concerns one tensor.
	HasTensor bool
	// Msg says what is wrong.
	Msg string
}

// Error returns `path: tensor "name": msg`, or `path: msg` without a tensor.
func (e *FormatError) Error() string {
	if e.HasTensor {
		return fmt.Sprintf("%s: tensor %q: %s", e.Path, e.Tensor, e.Msg)
	}
	return e.Path + ": " + e.Msg
}

func formatErr(path, format string, args ...any) error {
	return &FormatError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

func tensorErr(path, name, format string, args ...any) error {
	return &FormatError{Path: path, Tensor: name, HasTensor: true, Msg: fmt.Sprintf(format, args...)}
}

// Open opens path, reads and validates its header (see ParseHeader) and
// keeps the file open for reading tensor data. Close it when done.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, pathErr(path, "open", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, pathErr(path, "stat", err)
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		return nil, formatErr(path, "not a regular file")
	}
	f, err := ParseHeader(path, fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// pathErr formats an I/O error as `path: op: cause`, without repeating the
// path that an *os.PathError carries; errors.Is still sees the cause.
func pathErr(path, op string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %s: %w", path, op, err)
}

// Close closes the underlying file opened by Open. It is a no-op for a File
// made by ParseHeader, and after the first call.
func (f *File) Close() error {
	c := f.closer
	f.closer = nil
	if c == nil {
		return nil
	}
	if err := c.Close(); err != nil {
		return pathErr(f.Path, "close", err)
	}
	return nil
}

// readFull reads len(buf) bytes at off, turning a short read into an error.
func readFull(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// ParseHeader reads and validates the header of a safetensors file of size
// bytes readable through r; path is used in error messages only. It checks
// the header length against the file size before reading the header, and
// rejects: a file shorter than 8 bytes; a header length of 0, above
// MaxHeaderSize or beyond the file; a header that is not valid UTF-8, does
// not start with '{', is not one JSON object (trailing whitespace padding
// is allowed) or has a duplicate key at any level; a "__metadata__" that is
// not an object of strings; an entry that is not an object with exactly
// dtype, shape and data_offsets; an unknown dtype; a shape that is not an
// array of non-negative integers or whose byte size exceeds MaxTensorBytes;
// data_offsets that are not two non-negative integers begin <= end, whose
// span differs from the shape's byte size or that end beyond the data
// section; and tensors that overlap, leave a gap, or leave trailing bytes
// at the end of the data section. Errors are *FormatError, except for read
// errors of r. The returned File reads tensor data through r; its Close
// does not close r.
func ParseHeader(path string, r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, formatErr(path, "file is %d bytes, shorter than the 8-byte header length (not a safetensors file, or truncated)", max(size, 0))
	}
	var lenBuf [8]byte
	if err := readFull(r, lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("%s: read header length: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	switch {
	case n == 0:
		return nil, formatErr(path, "header length is 0 (not a safetensors file?)")
	case n > MaxHeaderSize:
		return nil, formatErr(path, "header length %d exceeds the limit of %d bytes (not a safetensors file?)", n, MaxHeaderSize)
	case n > uint64(size-8):
		return nil, formatErr(path, "header length %d beyond the file size of %d bytes (file truncated?)", n, size)
	}
	hdr := make([]byte, n)
	if err := readFull(r, hdr, 8); err != nil {
		return nil, fmt.Errorf("%s: read header: %w", path, err)
	}
	f := &File{
		Path:      path,
		Metadata:  map[string]string{},
		DataStart: 8 + int64(n),
		DataSize:  size - 8 - int64(n),
		r:         r,
	}
	if err := f.parseJSON(hdr); err != nil {
		return nil, err
	}
	if err := f.checkLayout(); err != nil {
		return nil, err
	}
	f.index = make(map[string]int, len(f.Tensors))
	for i, t := range f.Tensors {
		f.index[t.Name] = i
	}
	return f, nil
}

// headerParser walks the header's JSON tokens.
type headerParser struct {
	path string
	dec  *json.Decoder
}

// token returns the next JSON token, with syntax errors and an early end
// reported as format errors.
func (p *headerParser) token() (json.Token, error) {
	tok, err := p.dec.Token()
	if err == nil {
		return tok, nil
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, formatErr(p.path, "header JSON ends early")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return nil, formatErr(p.path, "header is not valid JSON at header byte %d: %v", se.Offset, se)
	}
	return nil, formatErr(p.path, "header is not valid JSON: %v", err)
}

// describe names a JSON token for an error message.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		return fmt.Sprintf("the string %q", truncate(v))
	case json.Number:
		return "the number " + truncate(string(v))
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// parseJSON fills f.Metadata and f.Tensors (in header order) from the header.
func (f *File) parseJSON(hdr []byte) error {
	if !utf8.Valid(hdr) {
		i := 0
		for i < len(hdr) {
			r, w := utf8.DecodeRune(hdr[i:])
			if r == utf8.RuneError && w <= 1 {
				break
			}
			i += w
		}
		return formatErr(f.Path, "header is not valid UTF-8 (header byte %d)", i)
	}
	if hdr[0] != '{' {
		return formatErr(f.Path, "header does not start with '{' (not a safetensors file?)")
	}
	p := &headerParser{path: f.Path, dec: json.NewDecoder(bytes.NewReader(hdr))}
	p.dec.UseNumber()
	if _, err := p.token(); err != nil { // '{', checked above
		return err
	}
	seen := map[string]bool{}
	haveMeta := false
	for p.dec.More() {
		tok, err := p.token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return formatErr(f.Path, "header has %s where a key was expected", describe(tok))
		}
		if key == metadataKey {
			if haveMeta {
				return formatErr(f.Path, "header has a duplicate %q key", metadataKey)
			}
			haveMeta = true
			if err := p.metadata(f.Metadata); err != nil {
				return err
			}
			continue
		}
		if seen[key] {
			return tensorErr(f.Path, key, "duplicate key in header")
		}
		seen[key] = true
		t, err := p.entry(key)
		if err != nil {
			return err
		}
		f.Tensors = append(f.Tensors, t)
	}
	if _, err := p.token(); err != nil { // '}'
		return err
	}
	for i := p.dec.InputOffset(); i < int64(len(hdr)); i++ {
		switch c := hdr[i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return formatErr(f.Path, "header has byte %#02x at header byte %d after its JSON object (only space padding may follow)", c, i)
		}
	}
	return nil
}

// metadata parses the "__metadata__" object into md.
func (p *headerParser) metadata(md map[string]string) error {
	tok, err := p.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return formatErr(p.path, "%q is %s, want an object of strings", metadataKey, describe(tok))
	}
	for p.dec.More() {
		tok, err := p.token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return formatErr(p.path, "%q has %s where a key was expected", metadataKey, describe(tok))
		}
		if _, dup := md[key]; dup {
			return formatErr(p.path, "%q has a duplicate key %q", metadataKey, truncate(key))
		}
		tok, err = p.token()
		if err != nil {
			return err
		}
		val, ok := tok.(string)
		if !ok {
			return formatErr(p.path, "%q key %q is %s, want a string", metadataKey, truncate(key), describe(tok))
		}
		md[key] = val
	}
	_, err = p.token() // '}'
	return err
}

// entry parses one tensor's header entry and checks it on its own
// (dtype, shape, offsets and their sizes); the layout of all tensors
// together is checked by checkLayout.
func (p *headerParser) entry(name string) (TensorInfo, error) {
	t := TensorInfo{Name: name}
	tok, err := p.token()
	if err != nil {
		return t, err
	}
	if tok != json.Delim('{') {
		return t, tensorErr(p.path, name, "entry is %s, want an object with dtype, shape and data_offsets", describe(tok))
	}
	var haveDType, haveShape, haveOffsets bool
	var shape, offsets []int64
	for p.dec.More() {
		tok, err := p.token()
		if err != nil {
			return t, err
		}
		key, ok := tok.(string)
		if !ok {
			return t, tensorErr(p.path, name, "entry has %s where a key was expected", describe(tok))
		}
		var dup bool
		switch key {
		case "dtype":
			dup, haveDType = haveDType, true
		case "shape":
			dup, haveShape = haveShape, true
		case "data_offsets":
			dup, haveOffsets = haveOffsets, true
		default:
			return t, tensorErr(p.path, name, "unknown field %q (want dtype, shape and data_offsets)", truncate(key))
		}
		if dup {
			return t, tensorErr(p.path, name, "duplicate field %q", key)
		}
		switch key {
		case "dtype":
			tok, err := p.token()
			if err != nil {
				return t, err
			}
			s, ok := tok.(string)
			if !ok {
				return t, tensorErr(p.path, name, "dtype is %s, want a string", describe(tok))
			}
			t.DType = DType(s)
			if t.DType.Size() == 0 {
				return t, tensorErr(p.path, name, "unknown dtype %q", truncate(s))
			}
		case "shape":
			if shape, err = p.intArray(name, "shape", maxRank); err != nil {
				return t, err
			}
		case "data_offsets":
			if offsets, err = p.intArray(name, "data_offsets", 2); err != nil {
				return t, err
			}
		}
	}
	if _, err := p.token(); err != nil { // '}'
		return t, err
	}
	switch {
	case !haveDType:
		return t, tensorErr(p.path, name, "entry has no dtype")
	case !haveShape:
		return t, tensorErr(p.path, name, "entry has no shape")
	case !haveOffsets:
		return t, tensorErr(p.path, name, "entry has no data_offsets")
	}

	size := int64(t.DType.Size())
	limit := MaxTensorBytes / size // max element count
	numel := int64(1)
	t.Shape = make([]int, len(shape))
	for i, d := range shape {
		if d > limit || d > math.MaxInt {
			return t, tensorErr(p.path, name, "shape %s: dimension %d is too large", fmtShape(shape), d)
		}
		if d != 0 && numel > limit/d {
			return t, tensorErr(p.path, name, "shape %s with dtype %s exceeds %d bytes", fmtShape(shape), t.DType, int64(MaxTensorBytes))
		}
		numel *= d
		t.Shape[i] = int(d)
	}
	if numel > math.MaxInt {
		return t, tensorErr(p.path, name, "shape %s has too many elements for this platform", fmtShape(shape))
	}
	if len(offsets) != 2 {
		return t, tensorErr(p.path, name, "data_offsets has %s, want 2 ([begin, end])", plural(len(offsets), "value"))
	}
	t.Begin, t.End = offsets[0], offsets[1]
	if t.Begin > t.End {
		return t, tensorErr(p.path, name, "data_offsets [%d, %d] have begin > end", t.Begin, t.End)
	}
	if want := numel * size; t.End-t.Begin != want {
		return t, tensorErr(p.path, name, "data_offsets [%d, %d] span %d bytes, but dtype %s shape %s needs %d",
			t.Begin, t.End, t.End-t.Begin, t.DType, fmtShape(shape), want)
	}
	return t, nil
}

// intArray parses a JSON array of at most maxLen non-negative integers.
func (p *headerParser) intArray(name, field string, maxLen int) ([]int64, error) {
	tok, err := p.token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, tensorErr(p.path, name, "%s is %s, want an array of non-negative integers", field, describe(tok))
	}
	var out []int64
	for p.dec.More() {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		if len(out) == maxLen {
			return nil, tensorErr(p.path, name, "%s has more than %d values", field, maxLen)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, tensorErr(p.path, name, "%s has %s, want a non-negative integer", field, describe(tok))
		}
		s := string(num)
		if strings.HasPrefix(s, "-") {
			return nil, tensorErr(p.path, name, "%s has negative value %s", field, truncate(s))
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return nil, tensorErr(p.path, name, "%s value %s is too large", field, truncate(s))
			}
			return nil, tensorErr(p.path, name, "%s value %s is not an integer", field, truncate(s))
		}
		out = append(out, v)
	}
	if _, err := p.token(); err != nil { // ']'
		return nil, err
	}
	return out, nil
}

// plural formats n and noun, adding "s" unless n is 1.
func plural[T int | int64](n T, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// fmtShape formats a shape as [d0, d1, ...].
func fmtShape[T int | int64](shape []T) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(int64(d), 10))
	}
	b.WriteByte(']')
	return b.String()
}

// checkLayout sorts f.Tensors by offset and checks that they lie inside the
// data section and cover it exactly, one after another from byte 0.
func (f *File) checkLayout() error {
	for _, t := range f.Tensors {
		if t.End > f.DataSize {
			return tensorErr(f.Path, t.Name, "data_offsets [%d, %d] end beyond data section of %d bytes (file truncated?)",
				t.Begin, t.End, f.DataSize)
		}
	}
	sort.Slice(f.Tensors, func(i, j int) bool {
		a, b := f.Tensors[i], f.Tensors[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Name < b.Name
	})
	var pos int64
	for i, t := range f.Tensors {
		if t.Begin < pos {
			prev := f.Tensors[i-1] // ends at pos: the tensors before t are contiguous
			return tensorErr(f.Path, t.Name, "data_offsets [%d, %d] overlap tensor %q at [%d, %d]",
				t.Begin, t.End, prev.Name, prev.Begin, prev.End)
		}
		if t.Begin > pos {
			return tensorErr(f.Path, t.Name, "data_offsets [%d, %d] leave a gap: data bytes [%d, %d) belong to no tensor",
				t.Begin, t.End, pos, t.Begin)
		}
		pos = t.End
	}
	if pos != f.DataSize {
		after := "the header"
		if len(f.Tensors) > 0 {
			after = fmt.Sprintf("the last tensor %q", f.Tensors[len(f.Tensors)-1].Name)
		}
		return formatErr(f.Path, "%s after %s: data section is %d bytes, tensors cover %d",
			plural(f.DataSize-pos, "trailing byte"), after, f.DataSize, pos)
	}
	return nil
}

// Info returns the description of the named tensor, with a copy of its shape.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := f.Tensors[i]
	t.Shape = slices.Clone(t.Shape) // non-nil, also for a scalar
	return t, true
}

// Names returns the names of all tensors, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	return names
}

// lookup finds the named tensor or returns an error naming it.
func (f *File) lookup(name string) (TensorInfo, error) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, tensorErr(f.Path, name, "no such tensor")
	}
	return f.Tensors[i], nil
}

// Raw returns a copy of the named tensor's bytes (little-endian, row-major).
func (f *File) Raw(name string) ([]byte, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, t.End-t.Begin)
	if err := readFull(f.r, buf, f.DataStart+t.Begin); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: read: %w", f.Path, name, err)
	}
	return buf, nil
}

// chunks reads t's bytes in pieces of whole elements and passes each to fn
// with the index of its first element.
func (f *File) chunks(t TensorInfo, fn func(b []byte, first int)) error {
	size := int64(t.DType.Size())
	total := t.End - t.Begin
	buf := make([]byte, min(total, readChunk/size*size))
	for off := int64(0); off < total; off += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), total-off)]
		if err := readFull(f.r, b, f.DataStart+t.Begin+off); err != nil {
			return fmt.Errorf("%s: tensor %q: read: %w", f.Path, t.Name, err)
		}
		fn(b, int(off/size))
	}
	return nil
}

// Float32 returns the named tensor's elements as float32. F32, F16 and BF16
// convert exactly (F16 subnormals, infinities and NaNs included); F64 rounds
// to the nearest float32. Other dtypes are an error.
func (f *File) Float32(name string) ([]float32, error) {
	return readFloats(f, name, "float32 (want F32, F16, BF16 or F64)", decodeFloat32)
}

// Float64 returns the named tensor's elements as float64; F64, F32, F16 and
// BF16 all convert exactly. Other dtypes are an error.
func (f *File) Float64(name string) ([]float64, error) {
	return readFloats(f, name, "float64 (want F64, F32, F16 or BF16)", decodeFloat64)
}

// readFloats reads a floating-point tensor chunk by chunk through decode.
func readFloats[T float32 | float64](f *File, name, want string, decode func(DType, []T, []byte)) ([]T, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if !t.DType.isFloat() {
		return nil, tensorErr(f.Path, name, "dtype %s cannot be read as %s", t.DType, want)
	}
	out := make([]T, (t.End-t.Begin)/int64(t.DType.Size()))
	err = f.chunks(t, func(b []byte, first int) {
		decode(t.DType, out[first:first+len(b)/t.DType.Size()], b)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Int64 returns the named tensor's elements as int64. It reads I64, I32,
// I16, I8, U8 and BOOL (and U16, U32, and U64 values up to math.MaxInt64);
// a BOOL byte other than 0 or 1 is an error, as are other dtypes.
func (f *File) Int64(name string) ([]int64, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if !t.DType.isInt() {
		return nil, tensorErr(f.Path, name, "dtype %s cannot be read as int64 (want I64, I32, I16, I8, U8 or BOOL)", t.DType)
	}
	out := make([]int64, (t.End-t.Begin)/int64(t.DType.Size()))
	bad := -1
	err = f.chunks(t, func(b []byte, first int) {
		if bad >= 0 {
			return
		}
		if i, ok := decodeInt64(t.DType, out[first:first+len(b)/t.DType.Size()], b); !ok {
			bad = first + i
		}
	})
	if err != nil {
		return nil, err
	}
	if bad >= 0 {
		if t.DType == BOOL {
			return nil, tensorErr(f.Path, name, "element %d is not a BOOL (byte is neither 0 nor 1)", bad)
		}
		return nil, tensorErr(f.Path, name, "element %d of dtype %s overflows int64", bad, t.DType)
	}
	return out, nil
}
