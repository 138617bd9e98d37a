package data

import (
	"container/heap"
	"strings"
	"sync"

	"golang.org/x/text/unicode/norm"
)

// bpeMerge is one merge rule: its rank (lower merges first) and the id of
// the merged symbol.
type bpeMerge struct {
	rank, id int32
}

// BPETokenizer is a byte-level BPE tokenizer (GPT-2, RoBERTa) with
// RoBERTa's special tokens and layouts, as Hugging Face's
// RobertaTokenizerFast applies them: added tokens split out of the text,
// the GPT-2 pre-tokenizer, bytes mapped to printable code points, merges
// by rank, then <s> A </s> or <s> A </s></s> B </s>. Build one with
// LoadBPE or LoadBPETokenizerJSON. It is safe for concurrent use.
//
// Text that is not valid UTF-8 is encoded byte for byte (each invalid byte
// counts as a non-letter, non-digit character for the pre-tokenizer).
type BPETokenizer struct {
	tokens []string // id -> token; "" for ids that name nothing
	// byteID is the id of the one-character symbol of each byte.
	byteID [256]int32
	merges map[[2]int32]bpeMerge
	// added holds the added tokens, split out of the text first.
	added addedVocab
	// addPrefixSpace prepends a space to every piece of text between
	// added tokens that does not start with one.
	addPrefixSpace bool
	cls, sep, pad  int32
	// pairSeps is the number of sep tokens between a pair's segments: 2
	// for RoBERTa (<s> a </s></s> b </s>), 1 for a TemplateProcessing
	// post-processor of the form [CLS] $A [SEP] $B [SEP] (ModernBERT).
	pairSeps int
	// nfc applies Unicode NFC to the text between added tokens (a
	// tokenizer.json normalizer {"type": "NFC"}).
	nfc bool

	mu    sync.RWMutex
	cache map[string][]int32 // BPE ids of a pre-tokenizer piece
}

// bpeCacheMax bounds the word cache; words longer than bpeCacheWordMax
// bytes are not cached.
const (
	bpeCacheMax     = 1 << 16
	bpeCacheWordMax = 64
)

// VocabSize returns the number of ids (the largest id + 1), which the
// model's vocab_size must cover.
func (t *BPETokenizer) VocabSize() int { return len(t.tokens) }

// Token returns the token of id, or "" when id names none.
func (t *BPETokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// PadID returns the id of the padding token.
func (t *BPETokenizer) PadID() int32 { return t.pad }

// CLSID returns the id of the token that starts every encoding (<s>).
func (t *BPETokenizer) CLSID() int32 { return t.cls }

// SEPID returns the id of the token that ends each segment (</s>).
func (t *BPETokenizer) SEPID() int32 { return t.sep }

// DoLowerCase reports false: byte-level BPE keeps the text as it is.
func (t *BPETokenizer) DoLowerCase() bool { return false }

// tokenizeIDs appends the ids of text (no special tokens around it) to ids.
func (t *BPETokenizer) tokenizeIDs(ids []int32, text string) []int32 {
	var buf strings.Builder
	for _, p := range t.added.split(text) {
		if p.id >= 0 {
			ids = append(ids, p.id)
			continue
		}
		piece := p.text
		if t.nfc {
			piece = norm.NFC.String(piece)
		}
		if t.addPrefixSpace && piece[0] != ' ' {
			buf.Reset()
			buf.WriteByte(' ')
			buf.WriteString(piece)
			piece = buf.String()
		}
		for len(piece) > 0 {
			n := bpeNextPiece(piece)
			ids = t.bpe(ids, piece[:n])
			piece = piece[n:]
		}
	}
	return ids
}

// Tokenize returns the tokens of text without <s> and </s>: added tokens as
// themselves, every other piece as byte-level BPE tokens (a space shows as
// "Ġ").
func (t *BPETokenizer) Tokenize(text string) []string {
	ids := t.tokenizeIDs(nil, text)
	toks := make([]string, len(ids))
	for i, id := range ids {
		toks[i] = t.tokens[id]
	}
	return toks
}

// bpeSymbol is one symbol of a word being merged, in a linked list.
type bpeSymbol struct {
	id         int32
	prev, next int32 // -1 at the ends
	dead       bool
}

// bpeCandidate is a possible merge of the symbol at pos with its next one.
type bpeCandidate struct {
	rank, pos, id int32
}

// bpeQueue is a min-heap of candidates: lowest rank first, then leftmost.
type bpeQueue []bpeCandidate

func (q bpeQueue) Len() int { return len(q) }
func (q bpeQueue) Less(i, j int) bool {
	return q[i].rank < q[j].rank || q[i].rank == q[j].rank && q[i].pos < q[j].pos
}
func (q bpeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *bpeQueue) Push(x any)   { *q = append(*q, x.(bpeCandidate)) }
func (q *bpeQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// bpe appends the BPE ids of one pre-tokenizer piece to ids. It merges as
// tokenizers' Word::merge_all does: repeatedly the adjacent pair of lowest
// rank, the leftmost among equals, until no pair has a merge.
func (t *BPETokenizer) bpe(ids []int32, word string) []int32 {
	cacheable := len(word) <= bpeCacheWordMax
	if cacheable {
		t.mu.RLock()
		got, ok := t.cache[word]
		t.mu.RUnlock()
		if ok {
			return append(ids, got...)
		}
	}
	syms := make([]bpeSymbol, len(word))
	for i := range syms {
		syms[i] = bpeSymbol{id: t.byteID[word[i]], prev: int32(i - 1), next: int32(i + 1)}
	}
	syms[len(syms)-1].next = -1
	var q bpeQueue
	for i := 0; i+1 < len(syms); i++ {
		if m, ok := t.merges[[2]int32{syms[i].id, syms[i+1].id}]; ok {
			q = append(q, bpeCandidate{m.rank, int32(i), m.id})
		}
	}
	heap.Init(&q)
	for q.Len() > 0 {
		c := heap.Pop(&q).(bpeCandidate)
		s := &syms[c.pos]
		if s.dead || s.next < 0 {
			continue
		}
		right := &syms[s.next]
		// Skip candidates that earlier merges made stale.
		if m, ok := t.merges[[2]int32{s.id, right.id}]; !ok || m.id != c.id {
			continue
		}
		s.id = c.id
		right.dead = true
		s.next = right.next
		if s.next >= 0 {
			syms[s.next].prev = c.pos
		}
		if s.prev >= 0 {
			if m, ok := t.merges[[2]int32{syms[s.prev].id, s.id}]; ok {
				heap.Push(&q, bpeCandidate{m.rank, s.prev, m.id})
			}
		}
		if s.next >= 0 {
			if m, ok := t.merges[[2]int32{s.id, syms[s.next].id}]; ok {
				heap.Push(&q, bpeCandidate{m.rank, c.pos, m.id})
			}
		}
	}
	mark := len(ids)
	for i := int32(0); i >= 0; i = syms[i].next {
		ids = append(ids, syms[i].id)
	}
	if cacheable {
		got := append([]int32(nil), ids[mark:]...)
		t.mu.Lock()
		if len(t.cache) < bpeCacheMax {
			t.cache[strings.Clone(word)] = got // not a slice pinning the text
		}
		t.mu.Unlock()
	}
	return ids
}

// bpeTruncatePair returns how many tokens of each side to keep so that
// they fit in budget, as tokenizers' longest_first truncation computes it:
// when only the longer side must be cut it keeps budget minus the shorter;
// when both must be cut the shorter side (the first on a tie) keeps
// budget/2 and the other the rest.
func bpeTruncatePair(n1, n2, budget int) (int, int) {
	if n1+n2 <= budget {
		return n1, n2
	}
	swap := n1 > n2
	if swap {
		n1, n2 = n2, n1
	}
	if n1 > budget {
		n2 = n1
	} else {
		n2 = max(n1, budget-n1)
	}
	if n1+n2 > budget {
		n1 = budget / 2
		n2 = n1 + budget%2
	}
	if swap {
		n1, n2 = n2, n1
	}
	return n1, n2
}

// EncodePair encodes an example as RobertaTokenizerFast(a, b,
// truncation=True, max_length=maxSeqLen) does: <s> a </s> when b is empty,
// else <s> a </s></s> b </s>, truncated longest-first (bpeTruncatePair) to
// maxSeqLen-2 or maxSeqLen-4 tokens of text; with a one-separator template
// (ModernBERT's [CLS] a [SEP] b [SEP]), maxSeqLen-3 for a pair. Token type
// ids are all 0. Budgets below zero count as zero, so a maxSeqLen below 4
// still gives the special tokens of a pair.
func (t *BPETokenizer) EncodePair(a, b string, maxSeqLen int) Encoding {
	ia := t.tokenizeIDs(nil, a)
	var ib []int32
	pair := b != ""
	if pair {
		ib = t.tokenizeIDs(nil, b)
		na, nb := bpeTruncatePair(len(ia), len(ib), max(maxSeqLen-t.PairSpecialTokens(), 0))
		ia, ib = ia[:na], ib[:nb]
	} else if budget := max(maxSeqLen-2, 0); len(ia) > budget {
		ia = ia[:budget]
	}
	n := len(ia) + 2
	if pair {
		n += len(ib) + t.pairSeps
	}
	ids := make([]int32, 0, n)
	ids = append(ids, t.cls)
	ids = append(ids, ia...)
	ids = append(ids, t.sep)
	if pair {
		if t.pairSeps == 2 {
			ids = append(ids, t.sep)
		}
		ids = append(ids, ib...)
		ids = append(ids, t.sep)
	}
	e := Encoding{
		Tokens:        make([]string, n),
		InputIDs:      ids,
		TokenTypeIDs:  make([]int32, n),
		AttentionMask: make([]int32, n),
	}
	for i, id := range ids {
		e.Tokens[i] = t.tokens[id]
		e.AttentionMask[i] = 1
	}
	return e
}
