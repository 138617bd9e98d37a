package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// dirEntries lists the names in dir, sorted.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestRoundTrip(t *testing.T) {
	f32 := []float32{0, float32(math.Copysign(0, -1)), 1, -2.5, float32(math.Inf(1)), float32(math.Inf(-1)), math.SmallestNonzeroFloat32, math.MaxFloat32}
	f64 := []float64{math.Pi, -1e300, 5e-324, math.Copysign(0, -1)}
	i64 := []int64{math.MinInt64, -1, 0, 1, math.MaxInt64, 42}
	le := binary.LittleEndian
	i32 := make([]byte, 12)
	le.PutUint32(i32[0:], uint32(0xFFFFFFFF)) // -1
	le.PutUint32(i32[4:], 7)
	le.PutUint32(i32[8:], 0x80000000) // MinInt32
	tensors := []Tensor{
		F32Tensor("z.f32", []int{2, 4}, f32),
		F64Tensor("f64/pi", []int{4}, f64),
		I64Tensor("ids", []int{2, 3}, i64),
		{Name: "half", DType: F16, Shape: []int{5}, Data: []byte{0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C, 0x00, 0x7E}},
		{Name: "brain", DType: BF16, Shape: []int{2}, Data: []byte{0x80, 0x3F, 0x00, 0xC0}},
		{Name: "i32", DType: I32, Shape: []int{3}, Data: i32},
		{Name: "i16", DType: I16, Shape: []int{2}, Data: []byte{0xFF, 0xFF, 0x00, 0x80}},
		{Name: "i8", DType: I8, Shape: []int{3}, Data: []byte{0x80, 0x7F, 0xFF}},
		{Name: "u8", DType: U8, Shape: []int{3}, Data: []byte{0, 128, 255}},
		{Name: "mask", DType: BOOL, Shape: []int{1, 3}, Data: []byte{1, 0, 1}},
		{Name: "u16", DType: U16, Shape: []int{1}, Data: []byte{0xFF, 0xFF}},
		{Name: "u32", DType: U32, Shape: []int{1}, Data: []byte{0xFF, 0xFF, 0xFF, 0xFF}},
		{Name: "f8", DType: F8E4M3, Shape: []int{2}, Data: []byte{0x38, 0xB8}},
		{Name: "empty", DType: F32, Shape: []int{0, 3}, Data: nil},
		F32Tensor("scalar", nil, []float32{3.5}),
		F32Tensor(`odd "name"/<&>\é`, []int{1}, []float32{1}),
	}
	md := map[string]string{"format": "pt", "note": "line1\nline2 <é>"}
	dir := t.TempDir()
	path := filepath.Join(dir, "out.safetensors")
	if err := Write(path, tensors, md); err != nil {
		t.Fatal(err)
	}
	if got := dirEntries(t, dir); !reflect.DeepEqual(got, []string{"out.safetensors"}) {
		t.Errorf("directory holds %v, want only out.safetensors", got)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, encode(t, tensors, md)) {
		t.Error("written bytes differ from encodeHeader's")
	}
	n := binary.LittleEndian.Uint64(raw)
	if n%8 != 0 || raw[8] != '{' {
		t.Errorf("header length %d not a multiple of 8, or header does not start with '{'", n)
	}
	if hdr := string(raw[8 : 8+n]); strings.TrimRight(hdr, " ") != strings.TrimSpace(hdr) || len(hdr)-len(strings.TrimRight(hdr, " ")) >= 8 {
		t.Errorf("header padding wrong: %q", hdr)
	}

	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !reflect.DeepEqual(f.Metadata, md) {
		t.Errorf("metadata = %v, want %v", f.Metadata, md)
	}
	var names []string
	for _, ts := range tensors {
		names = append(names, ts.Name)
	}
	sort.Strings(names)
	if !reflect.DeepEqual(f.Names(), names) {
		t.Errorf("Names() = %v, want %v", f.Names(), names)
	}
	// Data are laid out in name order.
	for i := 1; i < len(f.Tensors); i++ {
		if f.Tensors[i-1].Name > f.Tensors[i].Name && f.Tensors[i-1].End > f.Tensors[i-1].Begin {
			t.Errorf("data of %q before %q", f.Tensors[i-1].Name, f.Tensors[i].Name)
		}
	}
	for _, ts := range tensors {
		info, ok := f.Info(ts.Name)
		if !ok {
			t.Fatalf("missing %q", ts.Name)
		}
		wantShape := ts.Shape
		if wantShape == nil {
			wantShape = []int{}
		}
		if info.DType != ts.DType || !reflect.DeepEqual(info.Shape, wantShape) {
			t.Errorf("%q: %s %v, want %s %v", ts.Name, info.DType, info.Shape, ts.DType, wantShape)
		}
		b, err := f.Raw(ts.Name)
		if err != nil || !bytes.Equal(b, ts.Data) {
			t.Errorf("Raw(%q) = %v, %v; want %v", ts.Name, b, err, ts.Data)
		}
	}
	got32, err := f.Float32("z.f32")
	if err != nil {
		t.Fatal(err)
	}
	for i := range f32 {
		if math.Float32bits(got32[i]) != math.Float32bits(f32[i]) {
			t.Errorf("z.f32[%d] = %v, want %v", i, got32[i], f32[i])
		}
	}
	if got, _ := f.Float64("f64/pi"); !reflect.DeepEqual(got, f64) || !math.Signbit(got[3]) {
		t.Errorf("f64/pi = %v, want %v", got, f64)
	}
	if got, _ := f.Int64("ids"); !reflect.DeepEqual(got, i64) {
		t.Errorf("ids = %v, want %v", got, i64)
	}
	half, _ := f.Float32("half")
	if half[0] != 1 || half[1] != -2 || half[2] != 5.9604644775390625e-08 || !math.IsInf(float64(half[3]), 1) || !math.IsNaN(float64(half[4])) {
		t.Errorf("half = %v", half)
	}
	if got, _ := f.Float64("brain"); !reflect.DeepEqual(got, []float64{1, -2}) {
		t.Errorf("brain = %v", got)
	}
	for name, want := range map[string][]int64{
		"i32": {-1, 7, math.MinInt32}, "i16": {-1, math.MinInt16}, "i8": {-128, 127, -1},
		"u8": {0, 128, 255}, "mask": {1, 0, 1}, "u16": {65535}, "u32": {math.MaxUint32},
	} {
		if got, err := f.Int64(name); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Int64(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if got, err := f.Float32("empty"); err != nil || len(got) != 0 {
		t.Errorf("empty = %v, %v", got, err)
	}
	if got, err := f.Float32("scalar"); err != nil || !reflect.DeepEqual(got, []float32{3.5}) {
		t.Errorf("scalar = %v, %v", got, err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestWriteDefaultMetadata(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		md   map[string]string
		want string
	}{
		{nil, `{"__metadata__":{"format":"pt"},"w":`},
		{map[string]string{}, `{"__metadata__":{},"w":`},
		{map[string]string{"b": "2", "a": "1"}, `{"__metadata__":{"a":"1","b":"2"},"w":`},
	} {
		path := filepath.Join(dir, "m.safetensors")
		if err := Write(path, []Tensor{F32Tensor("w", []int{1}, []float32{1})}, c.md); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(path)
		if !strings.HasPrefix(string(raw[8:]), c.want) {
			t.Errorf("metadata %v: header %q, want prefix %q", c.md, raw[8:], c.want)
		}
	}
}

// TestRewriteFixturesByteExact re-writes shared fixtures with Write and
// expects the very same bytes (they were written by Hugging Face's
// safetensors with names in sorted order, as Write lays them out).
func TestRewriteFixturesByteExact(t *testing.T) {
	dir := t.TempDir()
	for _, rel := range []string{
		"checkpoints/A/model.safetensors",
		"checkpoints/A-extra-keys/model.safetensors",
		"forward/A/outputs.safetensors",
		"trajectory/A/eval_logits.safetensors",
	} {
		path := fixture(t, rel)
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var tensors []Tensor
		for _, ti := range f.Tensors {
			data, err := f.Raw(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			tensors = append(tensors, Tensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: data})
		}
		f.Close()
		out := filepath.Join(dir, "rewrite.safetensors")
		if err := Write(out, tensors, f.Metadata); err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(path)
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: rewritten file differs (%d vs %d bytes)", rel, len(got), len(want))
		}
	}
}

// TestWriteAtomic checks that a failed Write leaves the destination and
// directory as they were, and that a successful one replaces the file
// without leaving anything behind.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	good := []Tensor{F32Tensor("w", []int{2}, []float32{1, 2})}
	if err := Write(path, good, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	bad := []struct {
		name    string
		tensors []Tensor
		md      map[string]string
		want    string
	}{
		{"shape mismatch", []Tensor{F32Tensor("w", []int{3}, []float32{1, 2})}, nil, `tensor "w": shape [3] with dtype F32 needs 12 bytes, data has 8`},
		{"duplicate", []Tensor{F32Tensor("w", []int{1}, []float32{1}), F32Tensor("v", nil, []float32{1}), F32Tensor("w", []int{1}, []float32{2})}, nil, `tensor "w": duplicate name`},
		{"unknown dtype", []Tensor{{Name: "w", DType: "F128", Shape: []int{1}, Data: make([]byte, 16)}}, nil, `tensor "w": unknown dtype "F128"`},
		{"negative dim", []Tensor{{Name: "w", DType: F32, Shape: []int{-1, -4}, Data: make([]byte, 16)}}, nil, `tensor "w": shape [-1, -4] has a negative dimension`},
		{"huge shape", []Tensor{{Name: "w", DType: F32, Shape: []int{1 << 30, 1 << 30, 1 << 30}, Data: nil}}, nil, `tensor "w": shape`},
		{"reserved name", []Tensor{F32Tensor("__metadata__", []int{1}, []float32{1})}, nil, `tensor "__metadata__": name is reserved`},
		{"empty name", []Tensor{F32Tensor("", []int{1}, []float32{1})}, nil, `tensor 0 has an empty name`},
		{"invalid UTF-8 name", []Tensor{F32Tensor("w\xff", []int{1}, []float32{1})}, nil, `not valid UTF-8`},
		{"invalid UTF-8 metadata", good, map[string]string{"k": "\xff"}, `metadata key "k"`},
	}
	for _, c := range bad {
		err := Write(path, c.tensors, c.md)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		checkOneLine(t, err, path)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.name, err, c.want)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
			t.Errorf("%s: destination changed", c.name)
		}
		if got := dirEntries(t, dir); !reflect.DeepEqual(got, []string{"model.safetensors"}) {
			t.Errorf("%s: directory holds %v", c.name, got)
		}
	}

	// Replacing keeps the existing permission bits and leaves no temp file.
	if err := Write(path, []Tensor{F32Tensor("w", []int{3}, []float32{1, 2, 3})}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Float32("w"); !reflect.DeepEqual(v, []float32{1, 2, 3}) {
		t.Errorf("after replace w = %v", v)
	}
	f.Close()
	if st, _ := os.Stat(path); runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("mode after replace = %v, want 0600", st.Mode().Perm())
	}
	if got := dirEntries(t, dir); !reflect.DeepEqual(got, []string{"model.safetensors"}) {
		t.Errorf("directory holds %v", got)
	}

	// A new file gets 0644 (before the umask's say, which CreateTemp+Chmod bypasses).
	fresh := filepath.Join(dir, "fresh.safetensors")
	if err := Write(fresh, good, nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(fresh); runtime.GOOS != "windows" && st.Mode().Perm() != 0o644 {
		t.Errorf("new file mode = %v, want 0644", st.Mode().Perm())
	}

	// Missing folders are created (atomicfile.Write).
	missing := filepath.Join(dir, "nope", "model.safetensors")
	if err := Write(missing, good, nil); err != nil {
		t.Errorf("Write into a missing folder: %v", err)
	}

	// Destination is a directory: refused in one line, nothing changed.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(sub, good, nil); err == nil {
		t.Error("Write over a directory succeeded")
	} else if msg := err.Error(); !strings.Contains(msg, sub+": is a directory") || strings.Contains(msg, "\n") {
		t.Errorf("Write over a directory: %q", msg)
	}
	if got := dirEntries(t, sub); len(got) != 0 {
		t.Errorf("directory holds %v", got)
	}
	if got := dirEntries(t, dir); !reflect.DeepEqual(got, []string{"fresh.safetensors", "model.safetensors", "nope", "sub"}) {
		t.Errorf("directory holds %v after failed writes", got)
	}
}

func TestWriteRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := Write("rel.safetensors", []Tensor{F32Tensor("w", []int{1}, []float32{1})}, nil); err != nil {
		t.Fatal(err)
	}
	if got := dirEntries(t, "."); !reflect.DeepEqual(got, []string{"rel.safetensors"}) {
		t.Errorf("directory holds %v", got)
	}
}

func TestTensorHelpersCopyShape(t *testing.T) {
	shape := []int{1, 2}
	ts := F32Tensor("a", shape, []float32{1, 2})
	shape[0] = 9
	if ts.Shape[0] != 1 {
		t.Error("F32Tensor aliases its shape argument")
	}
	if ts.DType != F32 || len(ts.Data) != 8 || binary.LittleEndian.Uint32(ts.Data[4:]) != math.Float32bits(2) {
		t.Errorf("F32Tensor = %+v", ts)
	}
	if ts := I64Tensor("b", []int{1}, []int64{-2}); ts.DType != I64 || binary.LittleEndian.Uint64(ts.Data) != uint64(math.MaxUint64-1) {
		t.Errorf("I64Tensor = %+v", ts)
	}
}
