package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Encoder is what training and inference need from a tokenizer: examples
// encoded in the model family's layout. *Tokenizer (WordPiece, BERT),
// *BPETokenizer (byte-level BPE, RoBERTa) and *UnigramTokenizer
// (SentencePiece Unigram: XLM-RoBERTa, DeBERTa-v2/v3, ALBERT) implement it.
type Encoder interface {
	// EncodePair encodes text a, or the pair (a, b) when b is not empty,
	// with the family's special tokens, truncated to maxSeqLen tokens.
	EncodePair(a, b string, maxSeqLen int) Encoding
	// PadID returns the id that pads input ids.
	PadID() int32
	// VocabSize returns the number of ids, which the model's vocab_size
	// must cover.
	VocabSize() int
	// DoLowerCase reports whether the tokenizer lower-cases its input.
	DoLowerCase() bool
	// PairSpecialTokens is the number of special tokens a pair's encoding
	// holds, the least max_seq_length that leaves room for them.
	PairSpecialTokens() int
}

// VocabSize returns the number of ids of the vocabulary (its lines).
func (t *Tokenizer) VocabSize() int { return t.vocab.Len() }

// PairSpecialTokens is 3: [CLS] a [SEP] b [SEP].
func (t *Tokenizer) PairSpecialTokens() int { return 3 }

// PairSpecialTokens is 4: <s> a </s></s> b </s> (3 for a one-separator
// template: [CLS] a [SEP] b [SEP]).
func (t *BPETokenizer) PairSpecialTokens() int { return 2 + t.pairSeps }

// fileExists reports whether path names an existing file.
func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// LoadEncoder builds the tokenizer of a model directory from the files it
// holds, in this order: vocab.txt gives WordPiece (LoadTokenizer, with
// lowerOverride); else tokenizer.json gives byte-level BPE or WordPiece by
// its model type (LoadTokenizerJSON); else vocab.json and merges.txt give
// byte-level BPE (LoadBPE); else a SentencePiece model (spm.model,
// spiece.model, sentencepiece.bpe.model) gives its family's Unigram
// tokenizer (LoadSPMEncoder). Byte-level BPE never lower-cases, so an
// override of true is an error for it.
func LoadEncoder(modelDir string, lowerOverride *bool) (Encoder, error) {
	has := func(name string) bool { return fileExists(filepath.Join(modelDir, name)) }
	switch {
	case has(WordPieceVocabFile):
		return LoadTokenizer(modelDir, lowerOverride)
	case has(TokenizerJSONFile):
		return LoadTokenizerJSON(modelDir, lowerOverride)
	case has(BPEVocabFile) && has(BPEMergesFile):
		if err := bpeNoLower(lowerOverride); err != nil {
			return nil, err
		}
		return LoadBPE(modelDir)
	}
	if _, ok := spmModelFile(modelDir); ok {
		return LoadSPMEncoder(modelDir, lowerOverride)
	}
	return nil, fmt.Errorf("load tokenizer: %s: no tokenizer files: expected %s (WordPiece), %s, %s and %s (byte-level BPE), or a SentencePiece model %s, %s or %s",
		modelDir, WordPieceVocabFile, TokenizerJSONFile, BPEVocabFile, BPEMergesFile, SPMFileDeBERTa, SPMFileALBERT, SPMFileXLMR)
}

// bpeNoLower rejects a lower-casing override for a byte-level BPE tokenizer.
func bpeNoLower(lowerOverride *bool) error {
	if lowerOverride != nil && *lowerOverride {
		return errors.New("do_lower_case: true is not possible for a byte-level BPE tokenizer (it keeps the text as it is); use auto or false")
	}
	return nil
}
