package data

import (
	"slices"
	"strings"
	"testing"
)

func TestBuildVocabCoversTexts(t *testing.T) {
	texts := []string{"The cat sat on the mat.", "the dog sat", "Zebras, zebras!"}
	v, err := BuildVocab(texts, 60, true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v[:5], SpecialTokens) {
		t.Fatalf("starts with %v", v[:5])
	}
	if !slices.Contains(v, "the") || !slices.Contains(v, "sat") || !slices.Contains(v, "##z") {
		t.Fatalf("vocab %v lacks frequent words or continuations", v)
	}
	if i, j := slices.Index(v, "the"), slices.Index(v, "zebras"); i > j {
		t.Errorf("more frequent word after a rarer one: %v", v)
	}
	tok, err := NewTokenizer(NewVocab(v), TokenizerOptions{DoLowerCase: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range append(texts, "a zebra sat on the dog") {
		for _, tk := range tok.Tokenize(tx) {
			if tk == UnkToken {
				t.Errorf("%q has [UNK]: %v", tx, tok.Tokenize(tx))
			}
		}
	}
	if _, err := BuildVocab(texts, 10, true); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("tiny size: err = %v", err)
	}
}
