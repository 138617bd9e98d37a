package data

import (
	"fmt"
	"sort"
	"unicode/utf8"
)

// SpecialTokens are the five tokens every BERT vocabulary starts with, in
// bert-base's relative order.
var SpecialTokens = []string{PadToken, UnkToken, CLSToken, SEPToken, MaskToken}

// BuildVocab makes a WordPiece vocabulary of at most size tokens from
// texts: the special tokens, every character the texts contain (alone and
// as a "##" continuation, so that any word made of them tokenizes without
// [UNK]), then the most frequent whole words (ties: first seen first).
// Texts are split as BERT's basic tokenizer does (lower-cased when lower).
func BuildVocab(texts []string, size int, lower bool) ([]string, error) {
	basic, err := NewTokenizer(NewVocab(SpecialTokens), TokenizerOptions{DoLowerCase: lower})
	if err != nil {
		return nil, err
	}
	count, first := map[string]int{}, map[string]int{}
	chars := map[string]bool{}
	var charOrder []string
	for _, text := range texts {
		for _, w := range basic.BasicTokens(text) {
			if _, seen := count[w]; !seen {
				first[w] = len(first)
			}
			count[w]++
			for _, r := range w {
				c := string(r)
				if !chars[c] {
					chars[c] = true
					charOrder = append(charOrder, c)
				}
			}
		}
	}
	sort.Strings(charOrder)
	vocab := append([]string(nil), SpecialTokens...)
	vocab = append(vocab, charOrder...)
	for _, c := range charOrder {
		vocab = append(vocab, "##"+c)
	}
	if len(vocab) > size {
		return nil, fmt.Errorf("vocabulary size %d is too small: the special tokens and the %d distinct characters need %d", size, len(charOrder), len(vocab))
	}
	have := map[string]bool{}
	for _, t := range vocab {
		have[t] = true
	}
	words := make([]string, 0, len(count))
	for w := range count {
		if !have[w] && utf8.RuneCountInString(w) > 1 {
			words = append(words, w)
		}
	}
	sort.Slice(words, func(i, j int) bool {
		if count[words[i]] != count[words[j]] {
			return count[words[i]] > count[words[j]]
		}
		return first[words[i]] < first[words[j]]
	})
	for _, w := range words {
		if len(vocab) == size {
			break
		}
		vocab = append(vocab, w)
	}
	return vocab, nil
}
