package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/fsutil"
	"github.com/mixft/mixft/internal/safetensors"
	"github.com/mixft/mixft/internal/torchbin"
)

// File names of the Hugging Face model-directory layout.
const (
	ConfigFile          = "config.json"
	WeightsFile         = "model.safetensors"
	WeightsIndexFile    = "model.safetensors.index.json"
	TorchWeightsFile    = "pytorch_model.bin"
	TorchIndexFile      = "pytorch_model.bin.index.json"
	VocabFile           = "vocab.txt"
	TokenizerConfigFile = "tokenizer_config.json"
)

// Checkpoint is a model loaded from a Hugging Face model directory.
type Checkpoint struct {
	Dir     string
	Config  Config
	Weights Weights
	// Initialized lists parameters the files lacked and that were freshly
	// initialised (the classifier of a BertModel or BertForPreTraining
	// checkpoint, the pooler of a BertModel saved without one).
	Initialized []string
	// Ignored lists tensors in the files that the model does not use
	// (pretraining heads, position_ids buffers).
	Ignored []string
}

// LoadOptions changes how a checkpoint is loaded.
type LoadOptions struct {
	// Seed keys the initialisation of missing head parameters.
	Seed uint64
	// Labels, when non-nil, sets the label set of the task the model will be
	// finetuned on (empty slice: regression); a classifier in the files whose
	// shape does not match is re-initialised instead of rejected.
	Labels []string
	// HeadClasses, when not nil, maps the files' id2label to the class ids
	// of Labels (an error: a head of another task) for a classifier read
	// from the files; its rows are permuted into that order. Nil: by exact
	// name when the files name Labels in another order, else by position.
	HeadClasses func(id2label []string) ([]int, error)
}

// Load reads config.json and model.safetensors (or the sharded
// model.safetensors.index.json; failing both, as transformers does,
// pytorch_model.bin or its pytorch_model.bin.index.json, read by
// torchbin's restricted unpickler, which runs nothing in the file) of a
// Hugging Face model directory of any
// Family (model_type in config.json). It accepts the family's
// ForSequenceClassification names, its pretraining and masked-LM
// checkpoints (their heads dropped: cls.*, lm_head.*,
// discriminator_predictions.*, generator_*, vocab_*) and the bare model
// (no "bert."/"roberta."/"electra."/"distilbert." prefix), legacy LayerNorm
// gamma/beta, F32, F16 and BF16 tensors; it checks every tensor's shape
// against config.json. A head the files lack is initialised (Initialized).
func Load(dir string, opt LoadOptions) (*Checkpoint, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("model directory %s does not exist", dir)
		}
		return nil, fmt.Errorf("model directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("model directory %s is not a directory", dir)
	}
	cfg, err := ReadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	files, err := weightFiles(dir)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Dir: dir, Config: cfg}
	fileLabels := cfg.ID2Label
	if opt.Labels != nil {
		ck.Config.SetLabels(opt.Labels)
	}
	if err := ck.readTensors(files, opt); err != nil {
		return nil, err
	}
	if opt.Labels == nil || slices.Contains(ck.Initialized, ck.Config.ClassifierName()+".weight") {
		return ck, nil
	}
	if opt.HeadClasses != nil {
		classes, err := opt.HeadClasses(fileLabels)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
		}
		perm := make([]int, len(classes)) // perm[c] = row of the file for class c
		for row, c := range classes {
			perm[c] = row
		}
		ck.reorderHead(perm)
	} else if len(fileLabels) == len(opt.Labels) {
		perm := make([]int, len(opt.Labels))
		for i, name := range opt.Labels {
			if perm[i] = slices.Index(fileLabels, name); perm[i] < 0 {
				return ck, nil
			}
		}
		ck.reorderHead(perm)
	}
	return ck, nil
}

// reorderHead permutes the classifier's rows so that output i is the
// file's row perm[i], the task's label i.
func (ck *Checkpoint) reorderHead(perm []int) {
	cw, cb := ck.Config.ClassifierName()+".weight", ck.Config.ClassifierName()+".bias"
	w, b := ck.Weights[cw], ck.Weights[cb]
	h := len(w) / len(perm)
	nw, nb := make([]float32, len(w)), make([]float32, len(b))
	for i, r := range perm {
		copy(nw[i*h:(i+1)*h], w[r*h:(r+1)*h])
		nb[i] = b[r]
	}
	ck.Weights[cw], ck.Weights[cb] = nw, nb
}

// NonFinite returns the index of the first NaN or infinity in v, or -1.
func NonFinite(v []float32) int {
	for i, x := range v {
		if math.Float32bits(x)&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}

// weightFiles lists the weight files of a model directory, in
// transformers' order of preference: model.safetensors, its sharded index,
// pytorch_model.bin, its sharded index.
func weightFiles(dir string) ([]string, error) {
	for _, pair := range [][2]string{{WeightsFile, WeightsIndexFile}, {TorchWeightsFile, TorchIndexFile}} {
		single := filepath.Join(dir, pair[0])
		if _, err := os.Stat(single); err == nil {
			return []string{single}, nil
		}
		shards, err := indexShards(filepath.Join(dir, pair[1]))
		if err == nil {
			return shards, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	for _, other := range []string{"tf_model.h5", "flax_model.msgpack"} {
		if _, err := os.Stat(filepath.Join(dir, other)); err == nil {
			return nil, fmt.Errorf("%s: has %s but no %s or %s; mixft reads safetensors and PyTorch state dicts only (convert with transformers: model.save_pretrained(dir, safe_serialization=True))", dir, other, WeightsFile, TorchWeightsFile)
		}
	}
	return nil, fmt.Errorf("%s: no %s, %s, %s or %s", dir, WeightsFile, WeightsIndexFile, TorchWeightsFile, TorchIndexFile)
}

// indexShards reads a sharded checkpoint's index (weight_map) and returns
// its shard files; fs.ErrNotExist when there is no index.
func indexShards(index string) ([]string, error) {
	raw, err := fsutil.ReadFile(index, fsutil.MaxConfig)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("read weights index: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: key \"weight_map\": expected an object of tensor names to file names: %v", index, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: key \"weight_map\" is missing or empty", index)
	}
	dir := filepath.Dir(index)
	var shards []string
	for name, f := range idx.WeightMap {
		if f == "" || f != filepath.Base(f) || f == "." || f == ".." {
			return nil, fmt.Errorf("%s: tensor %q maps to %q, expected a file name inside the model directory", index, name, f)
		}
		p := filepath.Join(dir, f)
		if !slices.Contains(shards, p) {
			shards = append(shards, p)
		}
	}
	sort.Strings(shards)
	return shards, nil
}

// weightsFile is one weight file, safetensors or a torch.save state dict,
// behind the few calls readTensors makes.
type weightsFile struct {
	names   []string
	shape   func(name string) []int
	float32 func(name string) ([]float32, error)
	close   func() error
}

// openWeights opens a weight file by its format: a torch.save zip for a
// .bin file, else safetensors.
func openWeights(path string) (*weightsFile, error) {
	if strings.HasSuffix(path, ".bin") {
		f, err := torchbin.Open(path)
		if err != nil {
			return nil, err
		}
		return &weightsFile{
			names:   f.Names(),
			shape:   func(n string) []int { t, _ := f.Info(n); return t.Shape },
			float32: f.Float32,
			close:   f.Close,
		}, nil
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	return &weightsFile{
		names:   f.Names(),
		shape:   func(n string) []int { t, _ := f.Info(n); return t.Shape },
		float32: f.Float32,
		close:   f.Close,
	}, nil
}

// bareRoots are the top-level modules of a bare model's state dict (the
// family's Model class saved alone, without its prefix).
var bareRoots = []string{"embeddings.", "embeddings_project.", "encoder.", "transformer.", "pooler."}

// canonicalName maps a tensor name of any supported checkpoint flavour of
// c's family to its ForSequenceClassification state-dict name; ok is false
// for buffers that are not parameters (position_ids). Names the model does
// not have come back unchanged; the caller ignores them.
func (c *Config) canonicalName(name string) (canon string, ok bool) {
	if strings.HasSuffix(name, "position_ids") {
		return "", false
	}
	if c.Family() == ModernBERT {
		// ModernBertModel saved alone has no "model." prefix.
		for _, r := range []string{"embeddings.", "layers.", "final_norm."} {
			if strings.HasPrefix(name, r) {
				return "model." + name, true
			}
		}
		return name, true
	}
	root := familyNames[c.Family()].emb
	root = root[:strings.IndexByte(root, '.')+1] // "bert."
	for _, r := range bareRoots {
		if r == "pooler." && c.Family() == DeBERTa {
			continue // DeBERTa's pooler is the head's (DebertaV2Model has none)
		}
		if strings.HasPrefix(name, r) {
			name = root + name
			break
		}
	}
	if strings.HasSuffix(name, ".LayerNorm.gamma") {
		name = strings.TrimSuffix(name, "gamma") + "weight"
	} else if strings.HasSuffix(name, ".LayerNorm.beta") {
		name = strings.TrimSuffix(name, "beta") + "bias"
	}
	return name, true
}

// readTensors fills ck.Weights from the weight files.
func (ck *Checkpoint) readTensors(files []string, opt LoadOptions) error {
	specs := ck.Config.ParamSpecs()
	want := map[string]ParamSpec{}
	for _, p := range specs {
		want[p.Name] = p
	}
	ck.Weights = Weights{}
	from := map[string]string{} // canonical name -> "file: tensor" it came from
	reinit := map[string]bool{}
	for _, path := range files {
		f, err := openWeights(path)
		if err != nil {
			return err
		}
		for _, name := range f.names {
			canon, ok := ck.Config.canonicalName(name)
			spec, known := want[canon]
			if !ok || !known {
				ck.Ignored = append(ck.Ignored, name)
				continue
			}
			if prev, dup := from[canon]; dup {
				f.close()
				return fmt.Errorf("%s: tensor %q duplicates %s (both are %s)", path, name, prev, canon)
			}
			from[canon] = fmt.Sprintf("%s: tensor %q", path, name)
			if shape := f.shape(name); !slices.Equal(shape, spec.Shape) {
				if strings.HasPrefix(canon, ck.Config.ClassifierName()+".") && opt.Labels != nil {
					reinit[canon] = true
					continue
				}
				f.close()
				return fmt.Errorf("%s: tensor %q has shape %v, but config.json implies %v", path, name, shape, spec.Shape)
			}
			v, err := f.float32(name)
			if err != nil {
				f.close()
				return err
			}
			if i := NonFinite(v); i >= 0 {
				f.close()
				return fmt.Errorf("%s: tensor %q holds %v at element %d: the checkpoint is broken (a diverged run?)", path, name, v[i], i)
			}
			ck.Weights[canon] = v
		}
		if err := f.close(); err != nil {
			return fmt.Errorf("close %s: %w", path, err)
		}
	}
	// The head may be missing (the bare model, a pretraining or masked-LM
	// checkpoint) or of another task's size: initialise it as transformers
	// does.
	var lay Params
	ck.Config.Layout(&lay)
	if ck.Config.Family() == ModernBERT {
		ck.initModernHeadNorm(want)
	}
	for _, hd := range []*Linear{&lay.Pooler, &lay.Classifier} {
		w, b := hd.Name+".weight", hd.Name+".bias"
		_, hasW := ck.Weights[w]
		_, hasB := ck.Weights[b]
		if _, biased := want[b]; !biased { // ModernBERT's head.dense without bias
			hasB = hasW
		}
		if hasW && hasB {
			continue
		}
		if (hasW || hasB) && !reinit[w] && !reinit[b] {
			missing := w
			if hasW {
				missing = b
			}
			return fmt.Errorf("%s: tensor %q is missing (its partner is present)", files[0], missing)
		}
		ck.Config.InitLinear(ck.Weights, hd.Name, hd.Out, hd.In, opt.Seed)
		ck.Initialized = append(ck.Initialized, w)
		if _, biased := want[b]; biased {
			ck.Initialized = append(ck.Initialized, b)
		} else {
			delete(ck.Weights, b)
		}
	}
	for _, p := range specs {
		if _, ok := ck.Weights[p.Name]; !ok {
			return fmt.Errorf("%s: tensor %q is missing (config.json implies shape %v)", files[0], p.Name, p.Shape)
		}
	}
	sort.Strings(ck.Ignored)
	return nil
}

// SaveOptions says what besides the weights goes into a saved directory.
type SaveOptions struct {
	// VocabPath is copied to vocab.txt when non-empty.
	VocabPath string
	// TokenizerFiles are further tokenizer files (TokenizerFiles of the
	// model directory trained from) copied under their own names; a
	// tokenizer_config.json among them is the base of the one written.
	TokenizerFiles []string
	// DoLowerCase is recorded in tokenizer_config.json.
	DoLowerCase bool
}

// tokenizerFileNames are the tokenizer files of a Hugging Face model
// directory that a saved model carries along.
var tokenizerFileNames = []string{VocabFile, "vocab.json", "merges.txt", "tokenizer.json",
	"sentencepiece.bpe.model", "spm.model", "spiece.model", "special_tokens_map.json", TokenizerConfigFile}

// TokenizerFiles lists the tokenizer files present in a model directory
// (vocab.txt, vocab.json, merges.txt, tokenizer.json, the SentencePiece
// models of XLM-RoBERTa, DeBERTa-v2/v3 and ALBERT (sentencepiece.bpe.model,
// spm.model, spiece.model), special_tokens_map.json,
// tokenizer_config.json), for
// SaveOptions.TokenizerFiles.
func TokenizerFiles(dir string) []string {
	var fs []string
	for _, n := range tokenizerFileNames {
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil && st.Mode().IsRegular() {
			fs = append(fs, filepath.Join(dir, n))
		}
	}
	return fs
}

// familyClasses are the transformers class names a family's directory
// records: the model class (architectures) and the tokenizer class.
var familyClasses = map[string][2]string{
	"bert":        {"BertForSequenceClassification", "BertTokenizer"},
	"roberta":     {"RobertaForSequenceClassification", "RobertaTokenizer"},
	"xlm-roberta": {"XLMRobertaForSequenceClassification", "XLMRobertaTokenizer"},
	"electra":     {"ElectraForSequenceClassification", "ElectraTokenizer"},
	"distilbert":  {"DistilBertForSequenceClassification", "DistilBertTokenizer"},
	"albert":      {"AlbertForSequenceClassification", "AlbertTokenizer"},
	"deberta-v2":  {"DebertaV2ForSequenceClassification", "DebertaV2Tokenizer"},
	"modernbert":  {"ModernBertForSequenceClassification", "PreTrainedTokenizerFast"},
}

// Save writes a Hugging Face model directory that transformers loads as
// the model's family (BertForSequenceClassification,
// RobertaForSequenceClassification, ...): config.json (with
// id2label/label2id, in the family's key names), model.safetensors (F32,
// the family's state-dict names), the tokenizer files and
// tokenizer_config.json. Every file is written atomically, config.json
// last, so that a directory holding it is complete.
func Save(dir string, cfg Config, w Weights, opt SaveOptions) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if cfg.ModelType == "" {
		cfg.ModelType = "bert"
	}
	classes, ok := familyClasses[cfg.ModelType]
	if !ok {
		return fmt.Errorf("save model: model_type %q is not supported", cfg.ModelType)
	}
	cfg.Architectures = []string{classes[0]}
	if cfg.ProblemType == "" {
		cfg.ProblemType = "single_label_classification"
		if cfg.Regression() {
			cfg.ProblemType = "regression"
		}
	}
	specs := cfg.ParamSpecs()
	tensors := make([]safetensors.Tensor, 0, len(specs))
	for _, p := range specs {
		v, ok := w[p.Name]
		if !ok || len(v) != p.Size() {
			return fmt.Errorf("save model: parameter %q missing or of the wrong size", p.Name)
		}
		tensors = append(tensors, safetensors.F32Tensor(p.Name, p.Shape, v))
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), tensors, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	if err := saveTokenizerConfig(dir, cfg, classes[1], opt); err != nil {
		return err
	}
	if opt.VocabPath != "" {
		vocab, err := fsutil.ReadFile(opt.VocabPath, fsutil.MaxVocab)
		if err != nil {
			return fmt.Errorf("save model vocabulary: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, VocabFile), vocab, 0o644); err != nil {
			return err
		}
	}
	for _, src := range opt.TokenizerFiles {
		if filepath.Base(src) == TokenizerConfigFile {
			continue // the base of the one saveTokenizerConfig wrote
		}
		raw, err := fsutil.ReadFile(src, fsutil.MaxVocab)
		if err != nil {
			return fmt.Errorf("save model tokenizer: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, filepath.Base(src)), raw, 0o644); err != nil {
			return err
		}
	}
	// config.json last: a directory holding it is complete (the marker of
	// a checkpoint copy, atomicfile.Complete).
	cj, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("save model config: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, ConfigFile), append(cj, '\n'), 0o644)
}

// saveTokenizerConfig writes dir/tokenizer_config.json: the source
// directory's (a tokenizer_config.json in opt.TokenizerFiles) with every key
// it has kept, since the tokenizer reads some of them (add_prefix_space, the
// special tokens), and do_lower_case set to what the run used; the
// tokenizer class and model_max_length are added when the source has none.
func saveTokenizerConfig(dir string, cfg Config, class string, opt SaveOptions) error {
	tc := map[string]any{}
	for _, src := range opt.TokenizerFiles {
		if filepath.Base(src) != TokenizerConfigFile {
			continue
		}
		raw, err := fsutil.ReadFile(src, fsutil.MaxConfig)
		if err != nil {
			return fmt.Errorf("save model tokenizer: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber() // numbers as written (model_max_length can be 1e30-sized)
		if err := dec.Decode(&tc); err != nil || tc == nil {
			return fmt.Errorf("save model tokenizer: %s: expected a JSON object", src)
		}
	}
	tc["do_lower_case"] = opt.DoLowerCase
	if _, ok := tc["tokenizer_class"]; !ok {
		tc["tokenizer_class"] = class
	}
	if _, ok := tc["model_max_length"]; !ok {
		tc["model_max_length"] = cfg.MaxSeqLen()
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<s>", not "\u003cs\u003e"
	enc.SetIndent("", "  ")
	if err := enc.Encode(tc); err != nil {
		return fmt.Errorf("save model tokenizer config: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, TokenizerConfigFile), buf.Bytes(), 0o644)
}

// Fingerprint identifies a model directory by content: the SHA-256 (hex)
// of config.json, its weight files (model.safetensors, or the shard index
// and its shards) and its tokenizer files (TokenizerFiles), each by base
// name, length and content (fsutil.HashFiles). Copies of one checkpoint in
// different places (a laptop's and a cluster's) have the same fingerprint;
// runs record it so that reports recognise the same run made from either.
func Fingerprint(dir string) (string, error) {
	files, err := weightFiles(dir)
	if err != nil {
		return "", err
	}
	if filepath.Base(files[0]) != WeightsFile { // shards: their index too
		files = append([]string{filepath.Join(dir, WeightsIndexFile)}, files...)
	}
	files = append(append([]string{filepath.Join(dir, ConfigFile)}, files...), TokenizerFiles(dir)...)
	return fsutil.HashFiles(files)
}
