package data

// This file reads a SentencePiece model file (a ModelProto, decoded with
// the generated types of package spmpb) and encodes text as the
// sentencepiece library does: its normalizer (user-defined symbols kept,
// the precompiled charsmap's longest match, whitespace rules), then the
// Unigram segmentation, then byte fallback.

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/mixft/mixft/internal/data/spmpb"
	"github.com/mixft/mixft/internal/fsutil"
)

// SentencePiece model files in a model directory, by family.
const (
	SPMFileDeBERTa = "spm.model"               // DeBERTa-v2/v3
	SPMFileALBERT  = "spiece.model"            // ALBERT
	SPMFileXLMR    = "sentencepiece.bpe.model" // XLM-RoBERTa (a Unigram model despite its name)
)

// spmSpace is the symbol SentencePiece writes for a space (U+2581).
const spmSpace = "\u2581"

// readSPMProto reads and decodes a SentencePiece model file.
func readSPMProto(path string) (*spmpb.ModelProto, error) {
	b, err := fsutil.ReadFile(path, fsutil.MaxVocab)
	if err != nil {
		return nil, err
	}
	var m spmpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a SentencePiece model (protobuf ModelProto): %w", path, err)
	}
	if len(m.GetPieces()) == 0 {
		return nil, fmt.Errorf("%s: not a SentencePiece model: it has no pieces", path)
	}
	if t := m.GetTrainerSpec().GetModelType(); t != spmpb.TrainerSpec_UNIGRAM {
		return nil, fmt.Errorf("%s: trainer_spec.model_type is %s; only Unigram models are supported", path, t)
	}
	return &m, nil
}

// spmNormalizer is SentencePiece's normalizer for one model.
type spmNormalizer struct {
	cmap *charsMap // nil: identity
	// user is the trie of the user-defined symbols, which the normalizer
	// copies unchanged (longest match first).
	user                                                         *unigramModel
	addDummyPrefix, removeExtraSpaces, escapeSpaces, spaceSuffix bool
}

// prefix returns the normalized form of the start of s and how many bytes
// of s it consumed: a user-defined symbol as it is, else the charsmap's
// longest match, else one character (U+FFFD for a byte that starts no
// valid UTF-8 character).
func (n *spmNormalizer) prefix(s string) (string, int) {
	if n.user != nil {
		node, l := int32(0), 0
		for k := 0; k < len(s); k++ {
			child, ok := n.user.child(node, s[k])
			if !ok {
				break
			}
			if node = child; n.user.term[node] >= 0 {
				l = k + 1
			}
		}
		if l > 0 {
			return s[:l], l
		}
	}
	if n.cmap != nil {
		if r, l := n.cmap.longest(s); l > 0 {
			return r, l
		}
	}
	r, l := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && l <= 1 {
		return "\uFFFD", 1
	}
	return s[:l], l
}

// normalize is SentencePiece's Normalizer::Normalize.
func (n *spmNormalizer) normalize(s string) string {
	if n.removeExtraSpaces {
		for s != "" {
			p, l := n.prefix(s)
			if p != " " {
				break
			}
			s = s[l:]
		}
	}
	if s == "" {
		return ""
	}
	space := " "
	if n.escapeSpaces {
		space = spmSpace
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/4 + 3)
	if n.addDummyPrefix && !n.spaceSuffix {
		b.WriteString(space)
	}
	prevSpace := n.removeExtraSpaces
	for s != "" {
		p, l := n.prefix(s)
		s = s[l:]
		if prevSpace {
			p = strings.TrimLeft(p, " ")
		}
		if p != "" {
			if n.escapeSpaces {
				b.WriteString(strings.ReplaceAll(p, " ", spmSpace))
			} else {
				b.WriteString(p)
			}
			prevSpace = strings.HasSuffix(p, " ")
		}
		if !n.removeExtraSpaces {
			prevSpace = false
		}
	}
	out := b.String()
	if n.removeExtraSpaces {
		for strings.HasSuffix(out, space) {
			out = out[:len(out)-len(space)]
		}
	}
	if n.addDummyPrefix && n.spaceSuffix {
		out += space
	}
	return out
}

// SentencePiece is a SentencePiece Unigram model run as the sentencepiece
// library runs it (SentencePieceProcessor.encode, no special tokens):
// the reference the family tokenizers' pieces are built from.
type SentencePiece struct {
	norm  spmNormalizer
	model *unigramModel
}

// LoadSentencePiece reads a SentencePiece Unigram model file (spm.model,
// spiece.model, sentencepiece.bpe.model). Errors name the file.
func LoadSentencePiece(path string) (*SentencePiece, error) {
	m, err := readSPMProto(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	sp, err := newSentencePiece(m)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %s: %w", path, err)
	}
	return sp, nil
}

// newSentencePiece builds the library's encoder of a decoded model.
func newSentencePiece(m *spmpb.ModelProto) (*SentencePiece, error) {
	n := len(m.GetPieces())
	pieces := make([]string, n)
	scores := make([]float64, n)
	kinds := make([]unigramKind, n)
	var user []string
	unk := int32(-1)
	for i, p := range m.GetPieces() {
		pieces[i], scores[i] = p.GetPiece(), float64(p.GetScore())
		switch p.GetType() {
		case spmpb.ModelProto_SentencePiece_NORMAL:
			kinds[i] = pieceNormal
		case spmpb.ModelProto_SentencePiece_USER_DEFINED:
			kinds[i] = pieceUserDefined
			user = append(user, p.GetPiece())
		case spmpb.ModelProto_SentencePiece_UNUSED:
			kinds[i] = pieceUnused
		case spmpb.ModelProto_SentencePiece_UNKNOWN:
			kinds[i] = pieceReserved
			if unk >= 0 {
				return nil, fmt.Errorf("pieces %d and %d are both of type UNKNOWN", unk, i)
			}
			unk = int32(i)
		default:
			kinds[i] = pieceReserved
		}
	}
	if unk < 0 {
		return nil, fmt.Errorf("no piece of type UNKNOWN")
	}
	model, err := newUnigramModel(pieces, scores, kinds, unk, true, m.GetTrainerSpec().GetByteFallback())
	if err != nil {
		return nil, err
	}
	ns := m.GetNormalizerSpec()
	sp := &SentencePiece{model: model, norm: spmNormalizer{
		addDummyPrefix:    ns.GetAddDummyPrefix(),
		removeExtraSpaces: ns.GetRemoveExtraWhitespaces(),
		escapeSpaces:      ns.GetEscapeWhitespaces(),
		spaceSuffix:       m.GetTrainerSpec().GetTreatWhitespaceAsSuffix(),
	}}
	if cm := ns.GetPrecompiledCharsmap(); len(cm) > 0 {
		if sp.norm.cmap, err = parseCharsMap(cm); err != nil {
			return nil, fmt.Errorf("normalizer_spec: %w", err)
		}
	}
	if len(user) > 0 {
		uk := make([]unigramKind, len(user))
		if sp.norm.user, err = newUnigramModel(user, make([]float64, len(user)), uk, 0, true, false); err != nil {
			return nil, fmt.Errorf("user-defined symbols: %w", err)
		}
	}
	return sp, nil
}

// Encode returns the ids sentencepiece's encode gives text.
func (sp *SentencePiece) Encode(text string) []int32 {
	return sp.model.encode(sp.norm.normalize(text), nil, nil)
}

// VocabSize is the number of pieces.
func (sp *SentencePiece) VocabSize() int { return len(sp.model.pieces) }
