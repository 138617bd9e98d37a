package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// independentHeader decodes a file's header with plain encoding/json, as a
// cross-check of ParseHeader on valid files.
type independentEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

func independentDecode(t *testing.T, raw []byte) (map[string]string, map[string]independentEntry, int64) {
	t.Helper()
	n := int64(binary.LittleEndian.Uint64(raw[:8]))
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &top); err != nil {
		t.Fatal(err)
	}
	var md map[string]string
	entries := map[string]independentEntry{}
	for k, v := range top {
		if k == "__metadata__" {
			if err := json.Unmarshal(v, &md); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var e independentEntry
		if err := json.Unmarshal(v, &e); err != nil {
			t.Fatal(err)
		}
		entries[k] = e
	}
	return md, entries, 8 + n
}

// TestFixtures opens the shared checkpoints and forward outputs and checks
// every tensor against an independent decoding of the same bytes.
func TestFixtures(t *testing.T) {
	files := []string{
		"checkpoints/A/model.safetensors",
		"checkpoints/A-bertmodel-only/model.safetensors",
		"checkpoints/A-extra-keys/model.safetensors",
		"checkpoints/A-legacy-gamma-beta/model.safetensors",
		"checkpoints/B/model.safetensors",
		"checkpoints/R/model.safetensors",
		"forward/A/outputs.safetensors",
	}
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			path := fixture(t, rel)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			md, entries, dataStart := independentDecode(t, raw)
			f, err := Open(path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer f.Close()
			if !reflect.DeepEqual(f.Metadata, md) || f.Metadata["format"] != "pt" {
				t.Errorf("metadata = %v, want %v", f.Metadata, md)
			}
			if f.DataStart != dataStart || f.DataSize != int64(len(raw))-dataStart {
				t.Errorf("DataStart/DataSize = %d/%d, want %d/%d", f.DataStart, f.DataSize, dataStart, int64(len(raw))-dataStart)
			}
			var want []string
			for k := range entries {
				want = append(want, k)
			}
			sort.Strings(want)
			if got := f.Names(); !reflect.DeepEqual(got, want) {
				t.Fatalf("Names() = %v, want %v", got, want)
			}
			for i := 1; i < len(f.Tensors); i++ {
				if f.Tensors[i].Begin < f.Tensors[i-1].End {
					t.Errorf("Tensors not sorted by offset at %d", i)
				}
			}
			for name, e := range entries {
				info, ok := f.Info(name)
				if !ok {
					t.Fatalf("Info(%q) missing", name)
				}
				if string(info.DType) != e.DType || !reflect.DeepEqual(info.Shape, e.Shape) ||
					info.Begin != e.DataOffsets[0] || info.End != e.DataOffsets[1] {
					t.Errorf("Info(%q) = %+v, want %+v", name, info, e)
				}
				bytesWant := raw[dataStart+e.DataOffsets[0] : dataStart+e.DataOffsets[1]]
				rawGot, err := f.Raw(name)
				if err != nil || !bytes.Equal(rawGot, bytesWant) {
					t.Errorf("Raw(%q) differs (err %v)", name, err)
				}
				switch e.DType {
				case "F32":
					got, err := f.Float32(name)
					if err != nil {
						t.Fatal(err)
					}
					if len(got) != info.NumElements() {
						t.Fatalf("Float32(%q) has %d elements, want %d", name, len(got), info.NumElements())
					}
					for i := range got {
						if math.Float32bits(got[i]) != binary.LittleEndian.Uint32(bytesWant[4*i:]) {
							t.Fatalf("Float32(%q)[%d] = %v differs from the file", name, i, got[i])
						}
					}
					got64, err := f.Float64(name)
					if err != nil || len(got64) != len(got) || got64[len(got)-1] != float64(got[len(got)-1]) {
						t.Errorf("Float64(%q) disagrees with Float32 (err %v)", name, err)
					}
					if _, err := f.Int64(name); err == nil {
						t.Errorf("Int64(%q) of F32 succeeded", name)
					}
				case "F64":
					got, err := f.Float64(name)
					if err != nil {
						t.Fatal(err)
					}
					for i := range got {
						if math.Float64bits(got[i]) != binary.LittleEndian.Uint64(bytesWant[8*i:]) {
							t.Fatalf("Float64(%q)[%d] = %v differs from the file", name, i, got[i])
						}
					}
					got32, err := f.Float32(name)
					if err != nil || got32[0] != float32(got[0]) {
						t.Errorf("Float32(%q) of F64 = %v, want %v (err %v)", name, got32[0], float32(got[0]), err)
					}
				case "I64":
					got, err := f.Int64(name)
					if err != nil {
						t.Fatal(err)
					}
					for i := range got {
						if uint64(got[i]) != binary.LittleEndian.Uint64(bytesWant[8*i:]) {
							t.Fatalf("Int64(%q)[%d] = %v differs from the file", name, i, got[i])
						}
					}
					if _, err := f.Float32(name); err == nil || !strings.Contains(err.Error(), "I64") {
						t.Errorf("Float32(%q) of I64: err = %v, want a dtype error", name, err)
					}
				default:
					t.Errorf("unexpected dtype %s in fixture", e.DType)
				}
			}
		})
	}
}

// TestFixtureValues checks a few values read with Python's struct module
// (float32 values printed as the float64 they widen to).
func TestFixtureValues(t *testing.T) {
	type check struct {
		name  string
		dtype DType
		shape []int
		first []float64
	}
	cases := []struct {
		rel    string
		count  int
		checks []check
	}{
		{"checkpoints/A/model.safetensors", 41, []check{
			{"bert.embeddings.word_embeddings.weight", F32, []int{512, 64}, []float64{0.540325403213501, -0.14650043845176697, -0.22980816662311554}},
			{"classifier.weight", F32, []int{2, 64}, []float64{0.10970941185951233, -0.062195319682359695, 0.16265720129013062}},
			{"bert.pooler.dense.weight", F32, []int{64, 64}, []float64{0.18314307928085327, 0.19969911873340607, -0.05737120285630226}},
			{"classifier.bias", F32, []int{2}, nil},
		}},
		{"checkpoints/A-extra-keys/model.safetensors", 49, []check{
			{"bert.embeddings.position_ids", I64, []int{1, 64}, nil},
			{"classifier.weight", F32, []int{2, 64}, []float64{0.10970941185951233, -0.062195319682359695, 0.16265720129013062}},
		}},
		{"checkpoints/A-legacy-gamma-beta/model.safetensors", 41, []check{
			{"bert.embeddings.LayerNorm.gamma", F32, []int{64}, []float64{0.8721404671669006, 1.1547306776046753, 0.8327190279960632}},
		}},
		{"checkpoints/A-bertmodel-only/model.safetensors", 39, nil},
		{"checkpoints/B/model.safetensors", 57, []check{
			{"classifier.bias", F32, []int{3}, []float64{-0.10891420394182205, 0.009445743635296822, 0.07708163559436798}},
			{"bert.embeddings.word_embeddings.weight", F32, []int{1000, 96}, []float64{0.3181695342063904, -0.5520071387290955, 0.43088752031326294}},
		}},
		{"checkpoints/R/model.safetensors", 41, []check{
			{"classifier.weight", F32, []int{1, 40}, []float64{0.04265661537647247, -0.0314566008746624, 0.2936324179172516}},
		}},
		{"forward/A/outputs.safetensors", 34, []check{
			{"batch1/logits", F32, []int{6, 2}, []float64{0.42916035652160645, 0.22510626912117004, 0.0585734099149704}},
			{"f64/batch1/logits", F64, []int{6, 2}, []float64{0.42915994071665536, 0.2251062819211006, 0.05857305969926452}},
			{"f64/batch2/sequence_output", F64, []int{2, 64, 64}, []float64{-1.0572993823772412, 0.511711301253082, 0.8770949603845725}},
			{"batch1/layer.0.attention_probs", F32, []int{6, 4, 20, 20}, []float64{0.009897862561047077, 0.004542401060461998, 0.0008625592454336584}},
		}},
	}
	for _, c := range cases {
		t.Run(c.rel, func(t *testing.T) {
			f, err := Open(fixture(t, c.rel))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(f.Tensors) != c.count {
				t.Errorf("%d tensors, want %d", len(f.Tensors), c.count)
			}
			for _, ch := range c.checks {
				info, ok := f.Info(ch.name)
				if !ok {
					t.Fatalf("no tensor %q", ch.name)
				}
				if info.DType != ch.dtype || !reflect.DeepEqual(info.Shape, ch.shape) {
					t.Errorf("%q: %s %v, want %s %v", ch.name, info.DType, info.Shape, ch.dtype, ch.shape)
				}
				if ch.first == nil {
					continue
				}
				got, err := f.Float64(ch.name)
				if err != nil {
					t.Fatal(err)
				}
				for i, w := range ch.first {
					if got[i] != w {
						t.Errorf("%q[%d] = %v, want %v", ch.name, i, got[i], w)
					}
				}
			}
			if c.rel == "checkpoints/A-extra-keys/model.safetensors" {
				ids, err := f.Int64("bert.embeddings.position_ids")
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range ids {
					if v != int64(i) {
						t.Fatalf("position_ids[%d] = %d, want %d", i, v, i)
					}
				}
			}
		})
	}
}

// TestAllFixturesOpen opens every safetensors file of the shared fixtures.
func TestAllFixturesOpen(t *testing.T) {
	dir := fixture(t, ".")
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".safetensors") {
			return err
		}
		n++
		f, err := Open(p)
		if err != nil {
			t.Errorf("Open: %v", err)
			return nil
		}
		for _, ti := range f.Tensors {
			if _, err := f.Raw(ti.Name); err != nil {
				t.Errorf("Raw: %v", err)
			}
		}
		return f.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no .safetensors fixtures found")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.safetensors")
	_, err := Open(missing)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(missing) = %v, want ErrNotExist", err)
	}
	checkOneLine(t, err, missing)
	_, err = Open(dir)
	if err == nil {
		t.Fatal("Open(directory) succeeded")
	}
	checkOneLine(t, err, dir)
}

// baseTensors is the valid file the corruption cases start from.
func baseTensors() []Tensor {
	return []Tensor{
		F32Tensor("a", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		I64Tensor("b", []int{2}, []int64{-1, 7}),
		{Name: "c", DType: F16, Shape: []int{4}, Data: []byte{0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C}},
	}
}

func TestValidEdgeCases(t *testing.T) {
	data24 := make([]byte, 24)
	for _, c := range []struct {
		name    string
		file    []byte
		tensors int
	}{
		{"no tensors, no metadata", rawFile(`{}`, nil), 0},
		{"metadata only", rawFile(`{"__metadata__":{}}`, nil), 0},
		{"scalar", rawFile(`{"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}`, make([]byte, 8)), 1},
		{"zero-size tensors", rawFile(`{"z":{"dtype":"F32","shape":[0,5],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},"y":{"dtype":"I8","shape":[0],"data_offsets":[24,24]}}`, data24), 3},
		{"keys in any order, tab/newline whitespace", rawFile("{\n\t\"a\" : {\"data_offsets\":[0,24], \"shape\":[3,2],\"dtype\":\"F32\"}\n}", data24), 1},
		{"unusual dtypes", rawFile(`{"e":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]},"u":{"dtype":"U64","shape":[2],"data_offsets":[8,24]}}`, data24), 2},
		{"escaped names", rawFile(`{"a\u00e9\/\"":{"dtype":"U8","shape":[24],"data_offsets":[0,24]}}`, data24), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := parseBytes("edge.safetensors", c.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Tensors) != c.tensors {
				t.Fatalf("%d tensors, want %d", len(f.Tensors), c.tensors)
			}
			for _, ti := range f.Tensors {
				b, err := f.Raw(ti.Name)
				if err != nil || int64(len(b)) != ti.End-ti.Begin {
					t.Errorf("Raw(%q) = %d bytes, %v", ti.Name, len(b), err)
				}
			}
		})
	}
	f, err := parseBytes("x", rawFile(`{"a\u00e9\/\"":{"dtype":"U8","shape":[24],"data_offsets":[0,24]}}`, data24))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Info("aé/\""); !ok {
		t.Errorf("escaped name not decoded: %v", f.Names())
	}
}

// TestCorruptions mutates a valid file in many ways; each must give a
// single-line error that starts with the path and names the tensor (when one
// is concerned) and the problem.
func TestCorruptions(t *testing.T) {
	const path = "dir/model.safetensors"
	valid := encode(t, baseTensors(), nil)
	n := int(binary.LittleEndian.Uint64(valid[:8]))
	dataStart := 8 + n
	if _, err := parseBytes(path, valid); err != nil {
		t.Fatalf("base file invalid: %v", err)
	}
	withLen := func(l uint64) []byte {
		b := bytes.Clone(valid)
		binary.LittleEndian.PutUint64(b, l)
		return b
	}
	data := valid[dataStart:] // a [0,24] F32 2x3, b [24,40] I64 2, c [40,48] F16 4
	hdr := func(entries string) []byte { return rawFile(`{"__metadata__":{"format":"pt"},`+entries+`}`, data) }
	const (
		okA = `"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}`
		okB = `"b":{"dtype":"I64","shape":[2],"data_offsets":[24,40]}`
		okC = `"c":{"dtype":"F16","shape":[4],"data_offsets":[40,48]}`
	)
	if _, err := parseBytes(path, hdr(okA+","+okB+","+okC)); err != nil {
		t.Fatalf("literal base header invalid: %v", err)
	}

	cases := []struct {
		name   string
		file   []byte
		tensor string   // tensor the message must name, if any
		want   []string // substrings the message must contain
	}{
		{"empty file", nil, "", []string{"0 bytes", "shorter than the 8-byte"}},
		{"truncated at 4", valid[:4], "", []string{"shorter than the 8-byte"}},
		{"truncated at 7", valid[:7], "", []string{"shorter than the 8-byte"}},
		{"truncated at 8", valid[:8], "", []string{"beyond the file size", "truncated"}},
		{"truncated in header", valid[:8+n/2], "", []string{"beyond the file size", "truncated"}},
		{"truncated at data start", valid[:dataStart], "a", []string{"end beyond data section of 0 bytes", "truncated"}},
		{"truncated in first tensor", valid[:dataStart+10], "a", []string{"data_offsets [0, 24] end beyond data section of 10 bytes", "truncated"}},
		{"truncated in last tensor", valid[:len(valid)-1], "c", []string{"data_offsets [40, 48] end beyond data section of 47 bytes", "truncated"}},
		{"header length 0", withLen(0), "", []string{"header length is 0"}},
		{"header length huge", withLen(1 << 40), "", []string{"exceeds the limit"}},
		{"header length all ones", withLen(math.MaxUint64), "", []string{"exceeds the limit"}},
		{"header length past end", withLen(uint64(len(valid))), "", []string{"beyond the file size"}},
		{"header length one short", withLen(uint64(n - 1)), "", []string{"1 trailing byte after the last tensor \"c\""}},
		{"header length one long", withLen(uint64(n + 1)), "", []string{"byte 0x00 at header byte", "after its JSON object"}},
		{"header length cuts JSON", withLen(uint64(n - 16)), "", []string{"JSON"}},
		{"not UTF-8", hdr(`"a` + "\xff" + `":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},` + okB + "," + okC), "", []string{"not valid UTF-8"}},
		{"bad JSON", hdr(okA + "," + okB + "," + okC + ","), "", []string{"not valid JSON"}},
		{"bad JSON in entry", hdr(`"a":{"dtype":"F32",,}`), "", []string{"not valid JSON"}},
		{"unterminated JSON", rawFile(`{"a":{"dtype":"F32"`, data), "", []string{"JSON"}},
		{"array header", rawFile(`[1,2,3]`, data), "", []string{"does not start with '{'"}},
		{"leading space", rawFile(` {}`, nil), "", []string{"does not start with '{'"}},
		{"garbage after object", rawFile(`{} x`, nil), "", []string{"byte 0x78 at header byte 3 after its JSON object"}},
		{"second object", rawFile(`{}{}`, nil), "", []string{"byte 0x7b at header byte 2 after its JSON object"}},
		{"NUL padding", append(rawFile(`{}`, nil)[:10], 0, 0, 0, 0, 0, 0), "", []string{"after its JSON object"}},
		{"entry not object", hdr(`"a":[0,24],` + okB + "," + okC), "a", []string{"entry is an array"}},
		{"entry is number", hdr(`"a":5,` + okB + "," + okC), "a", []string{"entry is the number 5"}},
		{"missing dtype", hdr(`"a":{"shape":[2,3],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{"no dtype"}},
		{"missing shape", hdr(`"a":{"dtype":"F32","data_offsets":[0,24]},` + okB + "," + okC), "a", []string{"no shape"}},
		{"missing offsets", hdr(`"a":{"dtype":"F32","shape":[2,3]},` + okB + "," + okC), "a", []string{"no data_offsets"}},
		{"unknown field", hdr(`"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24],"x":1},` + okB + "," + okC), "a", []string{`unknown field "x"`}},
		{"wrong dtype", hdr(`"a":{"dtype":"F33","shape":[2,3],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{`unknown dtype "F33"`}},
		{"lowercase dtype", hdr(`"a":{"dtype":"f32","shape":[2,3],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{`unknown dtype "f32"`}},
		{"dtype not string", hdr(`"a":{"dtype":4,"shape":[2,3],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{"dtype is the number 4"}},
		{"dtype changes size", hdr(`"a":{"dtype":"F64","shape":[2,3],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{"span 24 bytes", "needs 48"}},
		{"shape mismatch", hdr(`"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{"span 24 bytes", "shape [2, 2] needs 16"}},
		{"negative dim", hdr(`"a":{"dtype":"F32","shape":[-2,-3],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{"shape has negative value -2"}},
		{"fractional dim", hdr(`"a":{"dtype":"F32","shape":[2.0,3],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{"not an integer"}},
		{"exponent dim", hdr(`"a":{"dtype":"F32","shape":[2e0,3],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{"not an integer"}},
		{"string dim", hdr(`"a":{"dtype":"F32","shape":["2",3],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{`shape has the string "2"`}},
		{"shape not array", hdr(`"a":{"dtype":"F32","shape":6,"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{"shape is the number 6"}},
		{"huge dim", hdr(`"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{"too large"}},
		{"element count overflow", hdr(`"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{"exceeds"}},
		{"element count overflow 2", hdr(`"a":{"dtype":"F32","shape":[2,3,1099511627776],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{"too large"}},
		{"three offsets", hdr(`"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24,48]},` + okB + "," + okC), "a", []string{"more than 2 values"}},
		{"one offset", hdr(`"a":{"dtype":"F32","shape":[2,3],"data_offsets":[24]},` + okB + "," + okC), "a", []string{"has 1 value, want 2"}},
		{"negative offset", hdr(`"a":{"dtype":"F32","shape":[2,3],"data_offsets":[-24,0]},` + okB + "," + okC), "a", []string{"negative value -24"}},
		{"begin after end", hdr(`"a":{"dtype":"F32","shape":[2,3],"data_offsets":[24,0]},` + okB + "," + okC), "a", []string{"begin > end"}},
		{"offsets out of range", hdr(okA + "," + okB + "," + `"c":{"dtype":"F16","shape":[4],"data_offsets":[1000,1008]}`), "c", []string{"data_offsets [1000, 1008] end beyond data section of 48 bytes"}},
		{"offset overflow", hdr(okA + "," + okB + "," + `"c":{"dtype":"F16","shape":[4],"data_offsets":[9223372036854775800,9223372036854775808]}`), "c", []string{"too large"}},
		{"overlap", hdr(okA + "," + `"b":{"dtype":"I64","shape":[2],"data_offsets":[16,32]},` + `"c":{"dtype":"F16","shape":[8],"data_offsets":[32,48]}`), "b", []string{`overlap tensor "a" at [0, 24]`}},
		{"same range twice", hdr(okA + "," + `"b":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},` + `"c":{"dtype":"F16","shape":[12],"data_offsets":[24,48]}`), "b", []string{`overlap tensor "a"`}},
		{"zero-size inside tensor", hdr(okA + "," + okB + "," + okC + `,"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}`), "z", []string{`overlap tensor "a"`}},
		{"gap", hdr(okA + "," + `"b":{"dtype":"I64","shape":[1],"data_offsets":[32,40]},` + okC), "b", []string{"gap", "[24, 32)"}},
		{"gap at start", hdr(`"a":{"dtype":"F32","shape":[5],"data_offsets":[4,24]},` + okB + "," + okC), "a", []string{"gap", "[0, 4)"}},
		{"trailing bytes", append(bytes.Clone(valid), 1, 2, 3, 4, 5, 6, 7, 8), "", []string{"8 trailing bytes after the last tensor \"c\""}},
		{"trailing bytes no tensors", rawFile(`{}`, []byte{1}), "", []string{"1 trailing byte after the header"}},
		{"duplicate tensor key", hdr(okA + "," + okB + "," + okC + "," + okA), "a", []string{"duplicate key"}},
		{"duplicate escaped key", hdr(okA + "," + okB + "," + okC + "," + `"\u0061":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`), "a", []string{"duplicate key"}},
		{"duplicate field", hdr(`"a":{"dtype":"F32","dtype":"F32","shape":[2,3],"data_offsets":[0,24]},` + okB + "," + okC), "a", []string{`duplicate field "dtype"`}},
		{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), "", []string{`duplicate "__metadata__"`}},
		{"duplicate metadata key", rawFile(`{"__metadata__":{"format":"pt","format":"np"}}`, nil), "", []string{`duplicate key "format"`}},
		{"metadata not object", rawFile(`{"__metadata__":["pt"]}`, nil), "", []string{`"__metadata__" is an array`}},
		{"metadata value not string", rawFile(`{"__metadata__":{"format":1}}`, nil), "", []string{`key "format" is the number 1`}},
		{"metadata null", rawFile(`{"__metadata__":null}`, nil), "", []string{`is null`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := parseBytes(path, c.file)
			if err == nil {
				t.Fatalf("no error; tensors %+v", f.Tensors)
			}
			checkOneLine(t, err, path)
			msg := err.Error()
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FormatError: %v", err, err)
			}
			if c.tensor != "" && !strings.Contains(msg, `tensor "`+c.tensor+`"`) {
				t.Errorf("error %q does not name tensor %q", msg, c.tensor)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

// TestCorruptionsOnDisk checks that Open reports corruptions with the
// path it was given, for a file truncated at every byte of its header.
func TestCorruptionsOnDisk(t *testing.T) {
	valid := encode(t, baseTensors(), nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	for cut := 0; cut < len(valid); cut++ {
		if err := os.WriteFile(path, valid[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Open(path)
		if err == nil {
			f.Close()
			t.Fatalf("truncated at %d of %d: no error", cut, len(valid))
		}
		checkOneLine(t, err, path)
	}
}

func TestAccessorErrors(t *testing.T) {
	tensors := append(baseTensors(),
		Tensor{Name: "flags", DType: BOOL, Shape: []int{3}, Data: []byte{0, 1, 2}},
		Tensor{Name: "big", DType: U64, Shape: []int{1}, Data: []byte{0, 0, 0, 0, 0, 0, 0, 0x80}},
		Tensor{Name: "f8", DType: F8E5M2, Shape: []int{2}, Data: []byte{1, 2}},
	)
	f, err := parseBytes("acc.safetensors", encode(t, tensors, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		call func() error
		want string
	}{
		{"missing Raw", func() error { _, err := f.Raw("nope"); return err }, `tensor "nope": no such tensor`},
		{"missing Float32", func() error { _, err := f.Float32("nope"); return err }, `tensor "nope": no such tensor`},
		{"I64 as float32", func() error { _, err := f.Float32("b"); return err }, `tensor "b": dtype I64 cannot be read as float32`},
		{"I64 as float64", func() error { _, err := f.Float64("b"); return err }, `tensor "b": dtype I64 cannot be read as float64`},
		{"F32 as int64", func() error { _, err := f.Int64("a"); return err }, `tensor "a": dtype F32 cannot be read as int64`},
		{"F8 as float32", func() error { _, err := f.Float32("f8"); return err }, `tensor "f8": dtype F8_E5M2 cannot be read as float32`},
		{"bad bool", func() error { _, err := f.Int64("flags"); return err }, `tensor "flags": element 2 is not a BOOL`},
		{"u64 overflow", func() error { _, err := f.Int64("big"); return err }, `tensor "big": element 0 of dtype U64 overflows int64`},
	} {
		err := c.call()
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		checkOneLine(t, err, "acc.safetensors")
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.name, err, c.want)
		}
	}
	if b, err := f.Raw("f8"); err != nil || !bytes.Equal(b, []byte{1, 2}) {
		t.Errorf("Raw(f8) = %v, %v", b, err)
	}
	// A reader that is shorter than the size it claims fails cleanly.
	full := encode(t, baseTensors(), nil)
	g, err := ParseHeader("short.safetensors", bytes.NewReader(full[:len(full)-4]), int64(len(full)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Float32("c"); err == nil || !strings.HasPrefix(err.Error(), `short.safetensors: tensor "c": read:`) {
		t.Errorf("Float32 on short reader: %v", err)
	}
}
