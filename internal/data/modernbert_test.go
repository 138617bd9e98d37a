package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mixft/mixft/internal/data/datatest"
	"github.com/mixft/mixft/internal/fixture"
)

// TestModernBERTTokenizerMatchesFastOnGLUE: a ModernBERT-layout
// tokenizer.json gives the input ids of transformers'
// PreTrainedTokenizerFast on every example of the GLUE dev sets (pairs
// truncated longest-first to 128 tokens).
func TestModernBERTTokenizerMatchesFastOnGLUE(t *testing.T) {
	enc, err := LoadEncoder(datatest.ModernBERTTokenizerDir(t), nil)
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
