// Package datatest holds test helpers that build tokenizer files from
// the shared fixtures for the tests of several packages.
package datatest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mixft/mixft/internal/fixture"
)

// testdata is internal/data/testdata/modernbert.
func testdata() string { return fixture.InRepo("internal", "data", "testdata", "modernbert") }

// ModernBERTTokenizerDir writes a tokenizer.json in ModernBERT's layout (NFC,
// ByteLevel, TemplateProcessing [CLS] $A [SEP] / [CLS] $A [SEP] $B [SEP],
// [UNK] [CLS] [SEP] [PAD] [MASK]) and its tokenizer_config.json into a
// temporary directory: the shared byte-level BPE tokenizer.json with
// internal/data/testdata/modernbert/tokenizer_patch.json applied, as
// scripts/fixtures/modernbert_tokenizer.py builds it for transformers.
func ModernBERTTokenizerDir(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(fixture.Path(t, "fixtures", "tokenization_bpe", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &tj); err != nil {
		t.Fatal(err)
	}
	praw, err := os.ReadFile(filepath.Join(testdata(), "tokenizer_patch.json"))
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
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), patch["tokenizer_config"], 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
