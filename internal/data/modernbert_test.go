package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mixft/mixft/internal/fixture"
)

// modernTokenizerDir writes a tokenizer.json in ModernBERT's layout (NFC,
// ByteLevel, TemplateProcessing [CLS] $A [SEP] / [CLS] $A [SEP] $B [SEP],
// [UNK] [CLS] [SEP] [PAD] [MASK]) and its tokenizer_config.json into a
// temporary directory: the shared byte-level BPE tokenizer.json with
// testdata/modernbert/tokenizer_patch.json applied, as
// scripts/fixtures/modernbert_tokenizer.py builds it for transformers.
func modernTokenizerDir(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(fixture.Path(t, "fixtures", "tokenization_bpe", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &tj); err != nil {
		t.Fatal(err)
	}
	praw, err := os.ReadFile(filepath.Join("testdata", "modernbert", "tokenizer_patch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(praw, &patch); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"normalizer", "pre_tokenizer", "post_processor"} {
		tj[k] = patch[k]
	}
	var added, more []json.RawMessage
	if err := json.Unmarshal(tj["added_tokens"], &added); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(patch["append_added_tokens"], &more); err != nil {
		t.Fatal(err)
	}
	tj["added_tokens"], _ = json.Marshal(append(added, more...))
	dir := t.TempDir()
	out, _ := json.Marshal(tj)
	if err := os.WriteFile(filepath.Join(dir, TokenizerJSONFile), out, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), patch["tokenizer_config"], 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestModernBERTTokenizerMatchesFastOnGLUE: a ModernBERT-layout
// tokenizer.json gives the input ids of transformers'
// PreTrainedTokenizerFast on every example of the GLUE dev sets (pairs
// truncated longest-first to 128 tokens).
func TestModernBERTTokenizerMatchesFastOnGLUE(t *testing.T) {
	enc, err := LoadEncoder(modernTokenizerDir(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if enc.PairSpecialTokens() != 3 || enc.PadID() != 50265 {
		t.Fatalf("pair special tokens %d, pad id %d; want 3 and [PAD] 50265", enc.PairSpecialTokens(), enc.PadID())
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "modernbert", "tokenizer_glue.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		MaxLength int `json:"max_length"`
		Tasks     map[string]struct {
			Count      int      `json:"count"`
			SHA256     string   `json:"sha256"`
			PerExample []string `json:"per_example"`
			Examples   []struct {
				InputIDs []int32 `json:"input_ids"`
			} `json:"examples"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	glue := fixture.Path(t, "glue")
	for name, want := range ref.Tasks {
		t.Run(name, func(t *testing.T) {
			task, err := LookupTask(name)
			if err != nil {
				t.Fatal(err)
			}
			exs, _, err := task.ReadSplit(glue, "dev")
			if err != nil {
				t.Fatal(err)
			}
			if len(exs) != want.Count {
				t.Fatalf("%d examples, the reference has %d", len(exs), want.Count)
			}
			all := sha256.New()
			bad := 0
			for i, ex := range exs {
				ids := enc.EncodePair(ex.TextA, ex.TextB, ref.MaxLength).InputIDs
				line, _ := json.Marshal(ids)
				line = append(line, '\n')
				all.Write(line)
				h := sha256.Sum256(line)
				if i < len(want.Examples) && !slices.Equal(ids, want.Examples[i].InputIDs) {
					t.Errorf("line %d: ids %v\nwant %v", ex.Line, ids, want.Examples[i].InputIDs)
				}
				if hex.EncodeToString(h[:])[:12] != want.PerExample[i] {
					if bad++; bad <= 5 {
						t.Errorf("line %d (%q / %q): ids %v differ from the fast tokenizer's", ex.Line, ex.TextA, ex.TextB, ids)
					}
				}
			}
			if got := hex.EncodeToString(all.Sum(nil)); got != want.SHA256 {
				t.Errorf("digest of all ids %s, reference %s (%d examples differ)", got, want.SHA256, bad)
			}
		})
	}
}
