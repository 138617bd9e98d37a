package torchbin

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStateDict reads a state dict saved by PyTorch 1.13
// (scripts/hf/gen_torchbin_testdata.py) and compares every tensor with the
// values PyTorch wrote beside it: F32, F16, BF16 and F64 storages, a
// transposed view, two views of one storage at offsets, a Parameter, a
// scalar, and the OrderedDict's _metadata (a BUILD).
func TestStateDict(t *testing.T) {
	f, err := Open(filepath.Join("testdata", "state.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := os.ReadFile(filepath.Join("testdata", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct {
		DType  string    `json:"dtype"`
		Shape  []int     `json:"shape"`
		Values []float64 `json:"values"`
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range want {
		names = append(names, k)
	}
	slices.Sort(names)
	if got := f.Names(); !slices.Equal(got, names) {
		t.Fatalf("names %v, want %v", got, names)
	}
	dtypes := map[string]string{"float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64", "int64": "I64"}
	for name, w := range want {
		info, ok := f.Info(name)
		if !ok {
			t.Fatalf("%s: missing", name)
		}
		if string(info.DType) != dtypes[w.DType] || !slices.Equal(info.Shape, w.Shape) {
			t.Errorf("%s: %s %v, want %s %v", name, info.DType, info.Shape, w.DType, w.Shape)
		}
		v, err := f.Float32(name)
		if w.DType == "int64" {
			if err == nil || !strings.Contains(err.Error(), "expected a float tensor") {
				t.Errorf("%s: Float32 of an int64 tensor: err %v", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(v) != len(w.Values) {
			t.Fatalf("%s: %d values, want %d", name, len(v), len(w.Values))
		}
		for i := range v {
			// Every value is exactly representable in float32 except the
			// F64 ones, which round to nearest.
			if float64(v[i]) != float64(float32(w.Values[i])) {
				t.Errorf("%s[%d] = %v, want %v", name, i, v[i], w.Values[i])
			}
		}
	}
}

// TestRefused: a pickled module, a hostile pickle calling os.system and the
// format before PyTorch 1.6 are each refused with one line naming what is
// wrong; the hostile one's command never runs.
func TestRefused(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	for _, tc := range []struct{ file, want string }{
		{"module.bin", "refuses global torch.nn.modules.linear.Linear"},
		{"hostile.bin", "refuses global posix.system"},
		{"legacy.bin", "format before PyTorch 1.6"},
	} {
		path := filepath.Join(wd, "testdata", tc.file)
		_, err := Open(path)
		if err == nil {
			t.Fatalf("%s: accepted", tc.file)
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, path+": ") || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line starting with the path and containing %q", tc.file, msg, tc.want)
		}
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: error %T, want *FormatError", tc.file, err)
		}
		var re *RefusedError
		if strings.Contains(tc.want, "refuses") && !errors.As(err, &re) {
			t.Errorf("%s: error does not wrap *RefusedError", tc.file)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "torchbin-pwned")); err == nil {
		t.Fatal("the hostile pickle's command ran")
	}
}

// writeZip writes a torch.save-shaped zip with the given entries.
func writeZip(t testing.TB, path string, entries map[string][]byte) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(fh)
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	method := zip.Store
	if _, ok := entries["deflate"]; ok {
		method = zip.Deflate
	}
	for _, k := range keys {
		if k == "deflate" {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: k, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(entries[k])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	fh.Close()
}

// A pickle of {"w": tensor(storage "0", offset, shape, stride)} in protocol 2.
func tensorPickle(storageClass string, numel, offset byte, shape, stride []byte) []byte {
	p := []byte{0x80, 2, 'c'}
	p = append(p, "collections\nOrderedDict\n"...)
	p = append(p, ')', 'R', 'X', 1, 0, 0, 0, 'w', 'c')
	p = append(p, "torch._utils\n_rebuild_tensor_v2\n"...)
	p = append(p, '(', '(', 'X', 7, 0, 0, 0)
	p = append(p, "storage"...)
	p = append(p, 'c')
	p = append(p, "torch\n"+storageClass+"\n"...)
	p = append(p, 'X', 1, 0, 0, 0, '0', 'X', 3, 0, 0, 0, 'c', 'p', 'u', 'K', numel, 't', 'Q', 'K', offset, '(')
	for _, s := range shape {
		p = append(p, 'K', s)
	}
	p = append(p, 't', '(')
	for _, s := range stride {
		p = append(p, 'K', s)
	}
	p = append(p, 't', 0x89, 'c')
	p = append(p, "collections\nOrderedDict\n"...)
	p = append(p, ')', 'R', 't', 'R', 's', '.')
	return p
}

// TestMalformed: views that reach outside their storage, storages of the
// wrong size, and broken pickles are errors naming the tensor or the
// offset, never a panic or an out-of-range read.
func TestMalformed(t *testing.T) {
	dir := t.TempDir()
	four := make([]byte, 16)
	for _, tc := range []struct {
		name    string
		entries map[string][]byte
		want    string
	}{
		{"ok", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 0, []byte{2, 2}, []byte{2, 1}), "a/data/0": four}, ""},
		{"past end", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 1, []byte{2, 2}, []byte{2, 1}), "a/data/0": four}, "reach past its storage"},
		{"too many", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 0, []byte{3, 2}, []byte{0, 1}), "a/data/0": four}, "needs more elements"},
		{"offset", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 9, []byte{1}, []byte{1}), "a/data/0": four}, "storage offset 9"},
		{"short storage", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 0, []byte{4}, []byte{1}), "a/data/0": four[:12]}, "holds 12 bytes"},
		{"no storage", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 0, []byte{4}, []byte{1})}, "has no data/0 entry"},
		{"bad class", map[string][]byte{"a/data.pkl": tensorPickle("Tensor", 4, 0, []byte{4}, []byte{1}), "a/data/0": four}, "refuses global torch.Tensor"},
		{"truncated", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 0, []byte{4}, []byte{1})[:40], "a/data/0": four}, "data.pkl"},
		{"no pkl", map[string][]byte{"a/data/0": four}, "no ARCHIVE/data.pkl"},
		{"compressed", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 0, []byte{4}, []byte{1}), "a/data/0": four, "deflate": nil}, "is compressed"},
		{"big endian", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 0, []byte{4}, []byte{1}), "a/data/0": four, "a/byteorder": []byte("big")}, "byte order"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".bin")
		writeZip(t, path, tc.entries)
		f, err := Open(path)
		if tc.want == "" {
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			v, err := f.Float32("w")
			if err != nil || len(v) != 4 {
				t.Fatalf("%s: %v %v", tc.name, v, err)
			}
			f.Close()
			continue
		}
		if err == nil {
			f.Close()
			t.Fatalf("%s: accepted", tc.name)
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q, want one line containing %q", tc.name, err, tc.want)
		}
	}
}

// FuzzUnpickle runs arbitrary bytes as data.pkl beside a 4-float storage:
// never a panic; an accepted file's tensors are all readable.
func FuzzUnpickle(f *testing.F) {
	f.Add(tensorPickle("FloatStorage", 4, 0, []byte{2, 2}, []byte{2, 1}))
	f.Add(tensorPickle("HalfStorage", 8, 1, []byte{3}, []byte{2}))
	f.Add(tensorPickle("BFloat16Storage", 8, 0, []byte{2, 4}, []byte{4, 1}))
	if raw, err := os.ReadFile(filepath.Join("testdata", "state.bin")); err == nil {
		if zr, err := zip.NewReader(strings.NewReader(string(raw)), int64(len(raw))); err == nil {
			for _, zf := range zr.File {
				if strings.HasSuffix(zf.Name, "data.pkl") {
					if b, err := readEntry(zf, maxPickle); err == nil {
						f.Add(b)
					}
				}
			}
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, pkl []byte) {
		path := filepath.Join(dir, "f.bin")
		writeZip(t, path, map[string][]byte{"a/data.pkl": pkl, "a/data/0": make([]byte, 16)})
		file, err := Open(path)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of several lines: %q", err)
			}
			return
		}
		defer file.Close()
		for _, tn := range file.Tensors {
			v, err := file.Float32(tn.Name)
			if err == nil {
				n := 1
				for _, s := range tn.Shape {
					n *= s
				}
				if len(v) != n {
					t.Fatalf("%s: %d values for shape %v", tn.Name, len(v), tn.Shape)
				}
				for _, x := range v {
					_ = math.IsNaN(float64(x))
				}
			}
		}
	})
}
