package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mixft/mixft/internal/safetensors"
)

// tinyConfig is a 2-layer model small enough to write in every test.
func tinyConfig() Config {
	c := DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads = 40, 8, 2, 2
	c.IntermediateSize, c.MaxPositionEmbeddings = 16, 16
	return c
}

// randomWeights draws every parameter of c from N(0, 0.5).
func randomWeights(c Config, seed uint64) Weights {
	rng := rand.New(rand.NewPCG(seed, 0))
	w := Weights{}
	for _, p := range c.ParamSpecs() {
		v := make([]float32, p.Size())
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.5)
		}
		w[p.Name] = v
	}
	return w
}

func writeTiny(t *testing.T) (string, Config, Weights) {
	t.Helper()
	dir := t.TempDir()
	c := tinyConfig()
	w := randomWeights(c, 7)
	if err := Save(dir, c, w, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir, c, w
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir, c, w := writeTiny(t)
	ck, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range w {
		if !slices.Equal(ck.Weights[name], v) {
			t.Errorf("%s differs after save and load", name)
		}
	}
	if ck.Config.NumLabels != c.NumLabels || !slices.Equal(ck.Config.ID2Label, c.ID2Label) {
		t.Errorf("labels %v, want %v", ck.Config.ID2Label, c.ID2Label)
	}
	if len(ck.Initialized) != 0 || len(ck.Ignored) != 0 {
		t.Errorf("initialized %v ignored %v, want none", ck.Initialized, ck.Ignored)
	}
	// config.json carries what transformers needs to rebuild the head.
	raw, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id2label", "label2id", "architectures", "model_type", "problem_type"} {
		if _, ok := m[k]; !ok {
			t.Errorf("config.json lacks %q", k)
		}
	}
}

func TestSaveKeepsUnknownKeysAndLabels(t *testing.T) {
	dir := t.TempDir()
	raw := `{"vocab_size": 40, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
	  "intermediate_size": 16, "max_position_embeddings": 16, "transformers_version": "4.35.2",
	  "id2label": {"0": "entailment", "1": "not_entailment"}}`
	c, err := ParseConfig("config.json", []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, c, randomWeights(c, 1), SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	back, err := ReadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.ID2Label, []string{"entailment", "not_entailment"}) {
		t.Errorf("labels %v after round trip", back.ID2Label)
	}
	out, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	if !strings.Contains(string(out), `"transformers_version": "4.35.2"`) {
		t.Errorf("unknown key dropped:\n%s", out)
	}
}

func TestNumLabelsFromConfigStyles(t *testing.T) {
	base := `"vocab_size": 40, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16`
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{` + base + `}`, 2},
		{`{` + base + `, "num_labels": 3}`, 3},
		{`{` + base + `, "id2label": {"0": "a", "1": "b", "2": "c"}}`, 3},
		{`{` + base + `, "num_labels": 1, "problem_type": "regression"}`, 1},
	} {
		c, err := ParseConfig("config.json", []byte(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if c.NumLabels != tc.want {
			t.Errorf("%s: num_labels %d, want %d", tc.body, c.NumLabels, tc.want)
		}
	}
}

// f16 converts a float32 that is exactly representable in half precision.
func f16(x float32) uint16 {
	b := math.Float32bits(x)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	mant := uint16(b>>13) & 0x3ff
	if x == 0 {
		return sign
	}
	return sign | uint16(exp)<<10 | mant
}

// TestLoadHalfPrecision writes the same weights as F16 and BF16 and checks
// they load to the exact float32 values.
func TestLoadHalfPrecision(t *testing.T) {
	c := tinyConfig()
	w := randomWeights(c, 3)
	for name, v := range w { // round to values both formats hold exactly
		for i := range v {
			v[i] = float32(math.Round(float64(v[i])*16) / 16)
		}
		w[name] = v
	}
	for _, dt := range []safetensors.DType{"F16", "BF16"} {
		dir := t.TempDir()
		if err := Save(dir, c, w, SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		var ts []safetensors.Tensor
		for _, p := range c.ParamSpecs() {
			raw := make([]byte, 2*p.Size())
			for i, x := range w[p.Name] {
				h := uint16(math.Float32bits(x) >> 16)
				if dt == "F16" {
					h = f16(x)
				}
				binary.LittleEndian.PutUint16(raw[2*i:], h)
			}
			ts = append(ts, safetensors.Tensor{Name: p.Name, DType: dt, Shape: p.Shape, Data: raw})
		}
		if err := safetensors.Write(filepath.Join(dir, WeightsFile), ts, nil); err != nil {
			t.Fatal(err)
		}
		ck, err := Load(dir, LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", dt, err)
		}
		for name, v := range w {
			if !slices.Equal(ck.Weights[name], v) {
				t.Errorf("%s: %s not loaded exactly", dt, name)
			}
		}
	}
}

// TestLoadSharded splits the weights over two files with an index.
func TestLoadSharded(t *testing.T) {
	dir, c, w := writeTiny(t)
	os.Remove(filepath.Join(dir, WeightsFile))
	var a, b []safetensors.Tensor
	index := map[string]string{}
	for i, p := range c.ParamSpecs() {
		tn := safetensors.F32Tensor(p.Name, p.Shape, w[p.Name])
		if i%2 == 0 {
			a, index[p.Name] = append(a, tn), "model-00001-of-00002.safetensors"
		} else {
			b, index[p.Name] = append(b, tn), "model-00002-of-00002.safetensors"
		}
	}
	for f, ts := range map[string][]safetensors.Tensor{"model-00001-of-00002.safetensors": a, "model-00002-of-00002.safetensors": b} {
		if err := safetensors.Write(filepath.Join(dir, f), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": index})
	os.WriteFile(filepath.Join(dir, WeightsIndexFile), raw, 0o644)
	ck, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range w {
		if !slices.Equal(ck.Weights[name], v) {
			t.Errorf("%s differs", name)
		}
	}
	// A shard path escaping the directory is refused.
	index[c.ParamSpecs()[0].Name] = "../evil.safetensors"
	raw, _ = json.Marshal(map[string]any{"weight_map": index})
	os.WriteFile(filepath.Join(dir, WeightsIndexFile), raw, 0o644)
	if _, err := Load(dir, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "evil") {
		t.Errorf("escaping shard name: err = %v", err)
	}
}

func TestMissingClassifierInitialised(t *testing.T) {
	dir, c, w := writeTiny(t)
	var ts []safetensors.Tensor
	for _, p := range c.ParamSpecs() {
		if strings.HasPrefix(p.Name, "classifier.") {
			continue
		}
		ts = append(ts, safetensors.F32Tensor(strings.TrimPrefix(p.Name, "bert."), p.Shape, w[p.Name]))
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), ts, nil); err != nil {
		t.Fatal(err)
	}
	ck, err := Load(dir, LoadOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ck.Initialized, []string{ClassifierWeight, ClassifierBias}) {
		t.Fatalf("initialized %v", ck.Initialized)
	}
	cw := ck.Weights[ClassifierWeight]
	var ss float64
	for _, x := range cw {
		ss += float64(x) * float64(x)
	}
	std := math.Sqrt(ss / float64(len(cw)))
	if std < 0.01 || std > 0.03 {
		t.Errorf("classifier std %.4f, want about initializer_range 0.02", std)
	}
	for _, x := range ck.Weights[ClassifierBias] {
		if x != 0 {
			t.Fatal("classifier bias not zero")
		}
	}
	again, _ := Load(dir, LoadOptions{Seed: 5})
	other, _ := Load(dir, LoadOptions{Seed: 6})
	if !slices.Equal(again.Weights[ClassifierWeight], cw) || slices.Equal(other.Weights[ClassifierWeight], cw) {
		t.Error("classifier init is not a function of the seed")
	}
}

func TestTaskLabelsReinitialiseMismatchedHead(t *testing.T) {
	dir, _, _ := writeTiny(t) // 2 labels
	ck, err := Load(dir, LoadOptions{Labels: []string{"a", "b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if ck.Config.NumLabels != 3 || len(ck.Weights[ClassifierBias]) != 3 || len(ck.Initialized) != 2 {
		t.Fatalf("num_labels %d, bias %d, initialized %v", ck.Config.NumLabels, len(ck.Weights[ClassifierBias]), ck.Initialized)
	}
}

// TestLoadErrors: each bad input gives one line naming the file and what
// was expected; none panics.
func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   []string
	}{
		{"missing dir", func(t *testing.T, dir string) { os.RemoveAll(dir) }, []string{"does not exist"}},
		{"missing config", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ConfigFile)) }, []string{"config.json"}},
		{"bad config json", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ConfigFile), []byte("{"), 0o644)
		}, []string{"config.json", "not a JSON object"}},
		{"config type", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"hidden_size": "big"}`), 0o644)
		}, []string{"config.json", "hidden_size"}},
		{"heads do not divide", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"hidden_size": 8, "num_attention_heads": 3}`), 0o644)
		}, []string{"config.json", "num_attention_heads 3"}},
		{"shape mismatch", func(t *testing.T, dir string) {
			c := tinyConfig()
			c.IntermediateSize = 32
			raw, _ := json.Marshal(c)
			os.WriteFile(filepath.Join(dir, ConfigFile), raw, 0o644)
		}, []string{"model.safetensors", "intermediate.dense.", "has shape [16", "implies [32"}},
		{"missing layer", func(t *testing.T, dir string) {
			c := tinyConfig()
			c.NumHiddenLayers = 3
			raw, _ := json.Marshal(c)
			os.WriteFile(filepath.Join(dir, ConfigFile), raw, 0o644)
		}, []string{"model.safetensors", "bert.encoder.layer.2.", "missing"}},
		{"truncated", func(t *testing.T, dir string) {
			p := filepath.Join(dir, WeightsFile)
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-100)
		}, []string{"model.safetensors"}},
		{"no weights", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, WeightsFile)) }, []string{"no model.safetensors"}},
		{"NaN weight", func(t *testing.T, dir string) {
			c := tinyConfig()
			w := randomWeights(c, 7)
			w["bert.encoder.layer.1.output.dense.weight"][5] = float32(math.NaN())
			Save(dir, c, w, SaveOptions{})
		}, []string{"model.safetensors", `tensor "bert.encoder.layer.1.output.dense.weight" holds NaN at element 5`}},
		{"infinite weight", func(t *testing.T, dir string) {
			c := tinyConfig()
			w := randomWeights(c, 7)
			w["classifier.bias"][1] = float32(math.Inf(-1))
			Save(dir, c, w, SaveOptions{})
		}, []string{`tensor "classifier.bias" holds -Inf`}},
		{"config is a named pipe", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, ConfigFile))
			if err := syscall.Mkfifo(filepath.Join(dir, ConfigFile), 0o644); err != nil {
				t.Skip(err)
			}
		}, []string{"config.json", "named pipe"}},
		{"config is /dev/zero", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, ConfigFile))
			os.Symlink("/dev/zero", filepath.Join(dir, ConfigFile))
		}, []string{"config.json", "device"}},
		{"config too large", func(t *testing.T, dir string) {
			os.Truncate(filepath.Join(dir, ConfigFile), 1<<30) // sparse: no disk used
		}, []string{"config.json", "1073741824 bytes, more than"}},
		{"pytorch only", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, WeightsFile))
			os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), []byte("x"), 0o644)
		}, []string{"pytorch_model.bin", "not a torch.save zip file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _, _ := writeTiny(t)
			tc.break_(t, dir)
			_, err := Load(dir, LoadOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

// TestTaskLabelsReorderANamedHead: a checkpoint whose id2label names the
// task's labels in another order gets its classifier rows permuted.
func TestTaskLabelsReorderANamedHead(t *testing.T) {
	dir := t.TempDir()
	c := tinyConfig()
	c.SetLabels([]string{"neutral", "contradiction", "entailment"})
	w := randomWeights(c, 4)
	if err := Save(dir, c, w, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	ck, err := Load(dir, LoadOptions{Labels: []string{"contradiction", "entailment", "neutral"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.Initialized) != 0 {
		t.Fatalf("head re-initialised: %v", ck.Initialized)
	}
	h := c.HiddenSize
	for i, from := range []int{1, 2, 0} {
		if !slices.Equal(ck.Weights[ClassifierWeight][i*h:(i+1)*h], w[ClassifierWeight][from*h:(from+1)*h]) ||
			ck.Weights[ClassifierBias][i] != w[ClassifierBias][from] {
			t.Errorf("row %d is not the file's row %d", i, from)
		}
	}
}

// TestHeadOfAnotherTask: with HeadClasses, a head whose labels are another
// task's is an error naming both sets; Hugging Face datasets names map by
// name (rows permuted); --reinit-head's path (no HeadClasses) keeps loading.
func TestHeadOfAnotherTask(t *testing.T) {
	classes := func(want []string, aliases []string) func([]string) ([]int, error) {
		return func(have []string) ([]int, error) {
			out := make([]int, len(have))
			for i, h := range have {
				out[i] = slices.Index(want, h)
				if out[i] < 0 {
					out[i] = slices.Index(aliases, h)
				}
				if out[i] < 0 {
					return nil, fmt.Errorf("labels %v are not %v", have, want)
				}
			}
			return out, nil
		}
	}
	dir := t.TempDir()
	c := tinyConfig()
	c.SetLabels([]string{"equivalent", "not_equivalent"})
	w := randomWeights(c, 4)
	if err := Save(dir, c, w, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	mrpc := []string{"0", "1"}
	ck, err := Load(dir, LoadOptions{Labels: mrpc, HeadClasses: classes(mrpc, []string{"not_equivalent", "equivalent"})})
	if err != nil {
		t.Fatal(err)
	}
	h := c.HiddenSize
	if !slices.Equal(ck.Weights[ClassifierWeight][:h], w[ClassifierWeight][h:]) || ck.Weights[ClassifierBias][1] != w[ClassifierBias][0] {
		t.Error("rows not permuted into the task's order")
	}
	rte := []string{"entailment", "not_entailment"}
	_, err = Load(dir, LoadOptions{Labels: rte, HeadClasses: classes(rte, nil)})
	if err == nil || !strings.Contains(err.Error(), "config.json: labels [equivalent not_equivalent] are not [entailment not_entailment]") {
		t.Errorf("head of another task: %v", err)
	}
	if _, err := Load(dir, LoadOptions{Labels: rte}); err != nil {
		t.Errorf("without HeadClasses (reinit_head): %v", err)
	}
}

// TestFingerprintByContent: a copy of a model directory in another place
// has the same fingerprint; a changed weight, config or tokenizer file
// changes it.
func TestFingerprintByContent(t *testing.T) {
	dir, c, w := writeTiny(t)
	os.WriteFile(filepath.Join(dir, VocabFile), []byte("[PAD]\n[UNK]\n"), 0o644)
	copyDir := t.TempDir()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(copyDir, n), b, 0o644)
	}
	fp := func(d string) string {
		t.Helper()
		s, err := Fingerprint(d)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := fp(dir)
	if len(a) != 64 || fp(copyDir) != a {
		t.Fatalf("fingerprints %s and %s of two copies", a, fp(copyDir))
	}
	os.WriteFile(filepath.Join(copyDir, VocabFile), []byte("[PAD]\n[UNK]\nx\n"), 0o644)
	if fp(copyDir) == a {
		t.Error("a changed vocab.txt keeps the fingerprint")
	}
	w[c.ClassifierName()+".bias"][0] += 1
	if err := Save(copyDir, c, w, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(copyDir, VocabFile), []byte("[PAD]\n[UNK]\n"), 0o644)
	if fp(copyDir) == a {
		t.Error("a changed weight keeps the fingerprint")
	}
	if _, err := Fingerprint(t.TempDir()); err == nil {
		t.Error("an empty directory has a fingerprint")
	}
}
