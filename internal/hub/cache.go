// Package hub downloads BERT checkpoints from the Hugging Face hub and finds
// them in the Hugging Face cache, with the layout huggingface_hub (and so
// transformers) uses, so that a model either tool downloaded serves both:
//
//	$HF_HUB_CACHE/models--ORG--NAME/
//	    blobs/<etag>                  file contents (etag: sha256 for LFS files)
//	    refs/<revision>               commit hash the revision pointed to
//	    snapshots/<commit>/<file>     relative symlink to ../../blobs/<etag>
//
// ResolveModel turns a --model value (a directory, a repo id or a legacy
// name such as bert-base-uncased) into a model directory; Download fetches
// a repository's files from {endpoint}/{repo}/resolve/{revision}/{file}.
package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/fsutil"
)

// File names of a Hugging Face model directory.
const (
	ConfigFile          = "config.json"
	VocabFile           = "vocab.txt"
	TokenizerJSONFile   = "tokenizer.json"
	BPEVocabFile        = "vocab.json"
	BPEMergesFile       = "merges.txt"
	SPMFileDeBERTa      = "spm.model"               // SentencePiece, DeBERTa-v2/v3
	SPMFileALBERT       = "spiece.model"            // SentencePiece, ALBERT
	SPMFileXLMR         = "sentencepiece.bpe.model" // SentencePiece, XLM-RoBERTa
	TokenizerConfigFile = "tokenizer_config.json"
	WeightsFile         = "model.safetensors"
	WeightsIndexFile    = "model.safetensors.index.json"
	TorchWeightsFile    = "pytorch_model.bin"
)

// DefaultEndpoint is the hub's address when neither HF_ENDPOINT nor an
// explicit endpoint is given.
const DefaultEndpoint = "https://huggingface.co"

// legacyNames maps the BERT checkpoints' original names, which had no
// organisation, to the repositories the hub now keeps them in (requests
// for the old names are redirected there).
var legacyNames = map[string]string{
	"bert-base-uncased":                                     "google-bert/bert-base-uncased",
	"bert-large-uncased":                                    "google-bert/bert-large-uncased",
	"bert-base-cased":                                       "google-bert/bert-base-cased",
	"bert-large-cased":                                      "google-bert/bert-large-cased",
	"bert-base-multilingual-uncased":                        "google-bert/bert-base-multilingual-uncased",
	"bert-base-multilingual-cased":                          "google-bert/bert-base-multilingual-cased",
	"bert-base-chinese":                                     "google-bert/bert-base-chinese",
	"bert-base-german-cased":                                "google-bert/bert-base-german-cased",
	"bert-base-german-dbmdz-cased":                          "google-bert/bert-base-german-dbmdz-cased",
	"bert-base-german-dbmdz-uncased":                        "google-bert/bert-base-german-dbmdz-uncased",
	"bert-large-uncased-whole-word-masking":                 "google-bert/bert-large-uncased-whole-word-masking",
	"bert-large-cased-whole-word-masking":                   "google-bert/bert-large-cased-whole-word-masking",
	"bert-large-uncased-whole-word-masking-finetuned-squad": "google-bert/bert-large-uncased-whole-word-masking-finetuned-squad",
	"bert-large-cased-whole-word-masking-finetuned-squad":   "google-bert/bert-large-cased-whole-word-masking-finetuned-squad",
	"bert-base-cased-finetuned-mrpc":                        "google-bert/bert-base-cased-finetuned-mrpc",
}

// repoPart is one component of a repo id, as the hub accepts them.
var repoPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// CanonicalRepo checks a model name and returns the repository it names:
// "org/name" as given, and a legacy BERT name (bert-base-uncased, ...) as
// the repository the hub moved it to (google-bert/bert-base-uncased). Other
// names without an organisation are returned unchanged.
func CanonicalRepo(name string) (string, error) {
	if err := validRepo(name); err != nil {
		return "", err
	}
	if c, ok := legacyNames[name]; ok {
		return c, nil
	}
	return name, nil
}

func validRepo(name string) error {
	parts := strings.Split(name, "/")
	if len(parts) > 2 || name == "" {
		return fmt.Errorf("%q is not a Hugging Face repo id (NAME or ORG/NAME)", name)
	}
	for _, p := range parts {
		if !repoPart.MatchString(p) || strings.Contains(p, "..") || strings.HasSuffix(p, ".") || len(p) > 96 {
			return fmt.Errorf("%q is not a Hugging Face repo id (NAME or ORG/NAME of letters, digits, '-', '_' and '.')", name)
		}
	}
	return nil
}

// validRevision rejects revisions that could not be a branch, tag or
// commit, and any that would escape the refs folder.
func validRevision(rev string) error {
	if rev == "" || strings.HasPrefix(rev, "/") || strings.Contains(rev, "\\") {
		return fmt.Errorf("revision %q is not a branch, tag or commit", rev)
	}
	for _, seg := range strings.Split(rev, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("revision %q is not a branch, tag or commit", rev)
		}
	}
	return nil
}

// validRepoFile rejects file names (shard names read from an index file)
// that are not plain relative paths inside the repository.
func validRepoFile(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return fmt.Errorf("file name %q is not a relative path inside the repository", name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("file name %q is not a relative path inside the repository", name)
		}
	}
	return nil
}

// CacheDir returns the Hugging Face hub cache folder, as huggingface_hub
// finds it: HF_HUB_CACHE, else HF_HOME/hub, else
// XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
func CacheDir() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return expandHome(d)
	}
	if d := os.Getenv("HUGGINGFACE_HUB_CACHE"); d != "" { // older name
		return expandHome(d)
	}
	return filepath.Join(hfHome(), "hub")
}

// hfHome is HF_HOME, else XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface.
func hfHome() string {
	if d := os.Getenv("HF_HOME"); d != "" {
		return expandHome(d)
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(expandHome(d), "huggingface")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".cache", "huggingface")
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// RepoFolder is the cache folder of a model repository:
// CACHE/models--ORG--NAME.
func RepoFolder(cacheDir, repo string) string {
	return filepath.Join(cacheDir, "models--"+strings.ReplaceAll(repo, "/", "--"))
}

// ResolveModel turns a --model value into a model directory: an existing
// directory is returned as it is; otherwise nameOrPath is read as a
// Hugging Face repo id (ORG/NAME, or a legacy name such as
// bert-large-uncased), optionally followed by @REVISION (default main), and
// looked up in the Hugging Face cache (see CacheDir). The snapshot found
// must hold config.json, vocab.txt and model.safetensors (or the sharded
// index and every shard it lists). The error for a model not found names
// the folders looked in and the command that downloads it. When a
// checkpoint whose replacement a kill cut short resolves to its complete
// copy, warn (if not nil) is told so.
func ResolveModel(nameOrPath string, warn func(string)) (string, error) {
	if st, err := os.Stat(nameOrPath); err == nil {
		if !st.IsDir() {
			return "", fmt.Errorf("model %s is a file; --model takes a model directory (config.json, model.safetensors, tokenizer files) or a Hugging Face repo id", nameOrPath)
		}
		return nameOrPath, nil
	}
	// A checkpoint whose replacement a kill cut short (runs/x/last missing,
	// runs/x/last.old or last.tmp complete) loads from the complete copy:
	// one holding config.json, which mixft's model save writes last.
	if dir, ok := atomicfile.CompleteDir(nameOrPath, ConfigFile); ok {
		if warn != nil {
			warn(fmt.Sprintf("%s is missing (a save was cut short); using the complete copy %s", nameOrPath, dir))
		}
		return dir, nil
	}
	name, rev := nameOrPath, "main"
	if i := strings.LastIndex(nameOrPath, "@"); i > 0 {
		name, rev = nameOrPath[:i], nameOrPath[i+1:]
	}
	repo, err := CanonicalRepo(name)
	if err != nil || validRevision(rev) != nil {
		return "", fmt.Errorf("model directory %s does not exist (and it is not a Hugging Face repo id such as google-bert/bert-base-uncased)", nameOrPath)
	}
	cache := CacheDir()
	var looked []string
	var reasons []string
	for _, r := range candidateRepos(name, repo) {
		dir, err := CachedSnapshot(cache, r, rev)
		if err == nil {
			return dir, nil
		}
		looked = append(looked, RepoFolder(cache, r))
		if !errors.Is(err, fs.ErrNotExist) {
			reasons = append(reasons, err.Error())
		}
	}
	get := "mixft download model " + name
	if rev != "main" {
		get += " --revision " + rev
	}
	msg := fmt.Sprintf("model %s: no such directory, and %s@%s is not in the Hugging Face cache (looked in %s)",
		nameOrPath, repo, rev, strings.Join(looked, " and "))
	if len(reasons) > 0 {
		msg += ": " + strings.Join(reasons, "; ")
	}
	return "", fmt.Errorf("%s; download it with `%s`", msg, get)
}

// candidateRepos lists the cache folders a name may live in: the canonical
// repository first, then the name as typed (transformers keeps a legacy
// name's files under models--bert-base-uncased).
func candidateRepos(name, repo string) []string {
	if name == repo {
		return []string{repo}
	}
	return []string{repo, name}
}

// CachedSnapshot returns the snapshot folder of repo at revision (a
// branch, tag or commit hash) in cacheDir, if it holds a complete model
// (see CheckModelDir). A repository or revision that is not cached gives an
// error wrapping fs.ErrNotExist.
func CachedSnapshot(cacheDir, repo, revision string) (string, error) {
	if err := validRevision(revision); err != nil {
		return "", err
	}
	folder := RepoFolder(cacheDir, repo)
	commit := revision
	if b, err := fsutil.ReadFile(filepath.Join(folder, "refs", filepath.FromSlash(revision)), fsutil.MaxConfig); err == nil {
		commit = strings.TrimSpace(string(b))
		if commit == "" || strings.ContainsAny(commit, `/\`) || commit == "." || commit == ".." {
			return "", fmt.Errorf("%s: refs/%s does not hold a commit hash", folder, revision)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	dir := filepath.Join(folder, "snapshots", commit)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s: no snapshot for revision %s: %w", folder, revision, fs.ErrNotExist)
	}
	if err := CheckModelDir(dir); err != nil {
		return "", fmt.Errorf("snapshot %s is incomplete: %v", dir, err)
	}
	return dir, nil
}

// tokenizerSets are the sets of files that make a tokenizer, in the order
// the tokenizer loader prefers them: WordPiece's vocab.txt, tokenizer.json,
// byte-level BPE's vocab.json and merges.txt, a SentencePiece model.
var tokenizerSets = [][]string{{VocabFile}, {TokenizerJSONFile}, {BPEVocabFile, BPEMergesFile},
	{SPMFileDeBERTa}, {SPMFileALBERT}, {SPMFileXLMR}}

// noTokenizerError says which tokenizer files a model directory needs.
func noTokenizerError(where string) error {
	return fmt.Errorf("%s has no tokenizer files: expected %s (WordPiece), %s, %s and %s (byte-level BPE), or a SentencePiece model %s, %s or %s",
		where, VocabFile, TokenizerJSONFile, BPEVocabFile, BPEMergesFile, SPMFileDeBERTa, SPMFileALBERT, SPMFileXLMR)
}

// CheckModelDir checks that dir holds what mixft needs of a model:
// config.json, tokenizer files (vocab.txt, tokenizer.json, vocab.json
// and merges.txt, or a SentencePiece model), and model.safetensors,
// model.safetensors.index.json with every shard it lists, or (an older
// checkpoint) pytorch_model.bin. Symbolic links
// must resolve (a snapshot whose blob was deleted is incomplete).
func CheckModelDir(dir string) error {
	if err := regularFile(filepath.Join(dir, ConfigFile)); err != nil {
		return err
	}
	tok := slices.ContainsFunc(tokenizerSets, func(set []string) bool {
		for _, f := range set {
			if regularFile(filepath.Join(dir, f)) != nil {
				return false
			}
		}
		return true
	})
	if !tok {
		return noTokenizerError(dir)
	}
	if regularFile(filepath.Join(dir, WeightsFile)) == nil {
		return nil
	}
	idx := filepath.Join(dir, WeightsIndexFile)
	if err := regularFile(idx); err != nil {
		if regularFile(filepath.Join(dir, TorchWeightsFile)) == nil {
			return nil
		}
		return fmt.Errorf("%s: none of %s, %s or %s", dir, WeightsFile, WeightsIndexFile, TorchWeightsFile)
	}
	b, err := fsutil.ReadFile(idx, fsutil.MaxConfig)
	if err != nil {
		return err
	}
	shards, err := ParseIndex(b)
	if err != nil {
		return fmt.Errorf("%s: %w", idx, err)
	}
	for _, s := range shards {
		if err := regularFile(filepath.Join(dir, filepath.FromSlash(s))); err != nil {
			return err
		}
	}
	return nil
}

func regularFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s is missing: %w", path, fs.ErrNotExist)
		}
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// ParseIndex returns the shard files a model.safetensors.index.json lists
// in its weight_map, sorted and without repeats.
func ParseIndex(b []byte) ([]string, error) {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("not a safetensors index: %v", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, errors.New("safetensors index has an empty weight_map")
	}
	seen := map[string]bool{}
	var shards []string
	for _, f := range idx.WeightMap {
		if err := validRepoFile(f); err != nil {
			return nil, fmt.Errorf("safetensors index: %w", err)
		}
		if !seen[f] {
			seen[f] = true
			shards = append(shards, f)
		}
	}
	sort.Strings(shards)
	return shards, nil
}
