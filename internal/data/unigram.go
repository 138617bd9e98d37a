package data

// This file holds the Unigram language model of SentencePiece and of
// Hugging Face's Unigram tokenizers: a vocabulary of pieces with log
// probabilities, and the Viterbi segmentation that picks the pieces of
// highest total score. The lattice is never built: one pass over the
// text keeps, for every byte position, the best path ending there, as
// both libraries' optimized encoders do; a piece is found by walking a
// byte trie from each character start, so the cost is the text's length
// times the longest piece's.

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// unkPenalty is what an unknown character costs below the lowest piece
// score (SentencePiece's kUnkPenalty, tokenizers' K_UNK_PENALTY).
const unkPenalty = 10.0

// unigramKind says how a piece takes part in segmentation.
type unigramKind uint8

const (
	// pieceNormal pieces are matched in the text with their score.
	pieceNormal unigramKind = iota
	// pieceUserDefined pieces are matched with SentencePiece's bonus
	// (length * highest score - 0.1), which makes them win.
	pieceUserDefined
	// pieceUnused pieces are in the trie but never chosen.
	pieceUnused
	// pieceReserved pieces (control, unknown, byte) are never matched.
	pieceReserved
)

// unigramModel is a Unigram vocabulary ready for segmentation.
type unigramModel struct {
	pieces []string
	scores []float64
	kinds  []unigramKind
	ids    map[string]int32
	// trie: the children of node n (n > 0) are kids[lo[n]:lo[n+1]] with
	// their bytes in labels (sorted); the root's child on byte c is
	// root[c] (0: none); term[n] is the id of the piece ending at node n,
	// or -1.
	root   [256]int32
	lo     []int32
	labels []byte
	kids   []int32
	term   []int32
	unk    int32
	// unkScore is the score of an unknown character: the lowest score
	// minus unkPenalty.
	unkScore float64
	maxScore float64 // the highest normal score (user-defined bonus)
	// spm selects SentencePiece's arithmetic: scores and path sums in
	// float32, user-defined pieces with their bonus, unused ones skipped.
	// Otherwise tokenizers' (float64 sums, every piece with its own
	// score).
	spm bool
	// byteFallback spells unknown pieces as their UTF-8 bytes, the pieces
	// <0x00>..<0xFF>, when all of them are in the vocabulary.
	byteFallback bool
	byteIDs      [256]int32 // -1 where the vocabulary has no such piece
}

// newUnigramModel builds a model over pieces (id order) with their scores
// and kinds; unk is the unknown piece's id. minScore over kinds: the
// lowest normal score for SentencePiece (spm), the lowest of all scores
// for tokenizers. A piece given twice, or an empty one, is an error.
func newUnigramModel(pieces []string, scores []float64, kinds []unigramKind, unk int32, spm, byteFallback bool) (*unigramModel, error) {
	n := len(pieces)
	if n == 0 {
		return nil, fmt.Errorf("the vocabulary is empty")
	}
	if unk < 0 || int(unk) >= n {
		return nil, fmt.Errorf("unknown piece id %d is outside the vocabulary's 0..%d", unk, n-1)
	}
	m := &unigramModel{
		pieces: pieces, scores: scores, kinds: kinds,
		ids: make(map[string]int32, n),
		unk: unk, spm: spm, byteFallback: byteFallback,
	}
	var b trieBuilder
	minScore, maxScore := 0.0, 0.0
	first := true
	for id, p := range pieces {
		if _, dup := m.ids[p]; dup {
			return nil, fmt.Errorf("piece %q is given twice (ids %d and %d)", p, m.ids[p], id)
		}
		m.ids[p] = int32(id)
		s := scores[id]
		if !spm || kinds[id] == pieceNormal {
			if first || s < minScore {
				minScore = s
			}
			if first || s > maxScore {
				maxScore = s
			}
			first = false
		}
		if kinds[id] == pieceReserved {
			continue
		}
		if p == "" {
			return nil, fmt.Errorf("piece %d is empty", id)
		}
		b.insert(p, int32(id))
	}
	b.build(m)
	m.unkScore = minScore - unkPenalty
	m.maxScore = maxScore
	if spm {
		m.unkScore = float64(float32(minScore) - unkPenalty)
	}
	for b := range 256 {
		m.byteIDs[b] = -1
		if id, ok := m.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	return m, nil
}

// trieBuilder collects the pieces of a trie before it is laid out in
// arrays.
type trieBuilder struct {
	next map[uint32]int32 // child of node n on byte c: next[n<<8|c]
	term []int32
}

// insert adds piece p with its id.
func (b *trieBuilder) insert(p string, id int32) {
	if b.next == nil {
		b.next, b.term = map[uint32]int32{}, []int32{-1}
	}
	node := int32(0)
	for i := 0; i < len(p); i++ {
		key := uint32(node)<<8 | uint32(p[i])
		child, ok := b.next[key]
		if !ok {
			child = int32(len(b.term))
			b.term = append(b.term, -1)
			b.next[key] = child
		}
		node = child
	}
	b.term[node] = id
}

// build lays the trie out in m's arrays.
func (b *trieBuilder) build(m *unigramModel) {
	if b.next == nil {
		b.term = []int32{-1}
	}
	n := len(b.term)
	keys := make([]uint32, 0, len(b.next)) // parent<<8 | byte
	for key := range b.next {
		keys = append(keys, key)
	}
	slices.Sort(keys) // by parent, then byte
	m.lo = make([]int32, n+1)
	for _, key := range keys {
		if parent := key >> 8; parent == 0 {
			m.root[key&0xff] = b.next[key]
		} else {
			m.lo[parent+1]++
			m.labels = append(m.labels, byte(key))
			m.kids = append(m.kids, b.next[key])
		}
	}
	for i := 1; i <= n; i++ {
		m.lo[i] += m.lo[i-1]
	}
	m.term = b.term
}

// child returns node's child on byte c.
func (m *unigramModel) child(node int32, c byte) (int32, bool) {
	if node == 0 {
		k := m.root[c]
		return k, k != 0
	}
	lo, hi := m.lo[node], m.lo[node+1]
	for i := lo; i < hi; i++ {
		if l := m.labels[i]; l >= c {
			return m.kids[i], l == c
		}
	}
	return 0, false
}

// spmCharLen is the length of the UTF-8 character starting with byte b as
// SentencePiece counts it (from the lead byte alone; 1 for a stray
// continuation byte).
func spmCharLen(b byte) int {
	switch {
	case b < 0xc0:
		return 1
	case b < 0xe0:
		return 2
	case b < 0xf0:
		return 3
	}
	return 4
}

// viterbiNode is the best path ending at one byte position.
type viterbiNode struct {
	score float64
	start int32 // -1: no path ends here yet
	id    int32
}

// viterbiScratch holds the buffers of segment and encode, reused from one
// word to the next.
type viterbiScratch struct {
	best []viterbiNode
	seg  [][3]int32
}

// segment appends the best segmentation of s to dst as (start, end, id)
// triples, in text order; sc (nil: none) lends its buffer.
func (m *unigramModel) segment(s string, dst [][3]int32, sc *viterbiScratch) [][3]int32 {
	n := len(s)
	var best []viterbiNode
	if sc != nil && cap(sc.best) > n {
		best = sc.best[:n+1]
	} else {
		best = make([]viterbiNode, n+1)
		if sc != nil {
			sc.best = best
		}
	}
	best[0] = viterbiNode{}
	for i := 1; i <= n; i++ {
		best[i].start = -1
	}
	for start := 0; start < n; {
		var mblen int
		if m.spm {
			mblen = min(spmCharLen(s[start]), n-start)
		} else {
			_, mblen = utf8.DecodeRuneInString(s[start:])
		}
		base := best[start].score
		single := false
		node := int32(0)
		for k := start; k < n; k++ {
			child, ok := m.child(node, s[k])
			if !ok {
				break
			}
			node = child
			id := m.term[node]
			if id < 0 || m.kinds[id] == pieceUnused && m.spm {
				continue
			}
			length := k + 1 - start
			// SentencePiece adds a piece's score to the path's in
			// double precision, compares with the float32 it keeps
			// and keeps the sum as float32.
			score := m.scores[id]
			if m.spm && m.kinds[id] == pieceUserDefined {
				score = float64(float32(length)*float32(m.maxScore)) - 0.1
			}
			cand := score + base
			if t := &best[k+1]; t.start < 0 || cand > t.score {
				if m.spm {
					cand = float64(float32(cand))
				}
				t.score, t.start, t.id = cand, int32(start), id
			}
			if length == mblen {
				single = true
			}
		}
		if !single {
			cand := m.unkScore + base
			if m.spm { // float32 + float32 in SentencePiece
				cand = float64(float32(cand))
			}
			if t := &best[start+mblen]; t.start < 0 || cand > t.score {
				t.score, t.start, t.id = cand, int32(start), m.unk
			}
		}
		start += mblen
	}
	first := len(dst)
	for end := n; end > 0; {
		nd := best[end]
		dst = append(dst, [3]int32{nd.start, int32(end), nd.id})
		end = int(nd.start)
	}
	for i, j := first, len(dst)-1; i < j; i, j = i+1, j-1 {
		dst[i], dst[j] = dst[j], dst[i]
	}
	return dst
}

// encode appends the ids of s's best segmentation to dst: a run of
// unknown characters is one unknown piece (both libraries fuse them),
// spelled as bytes with byte fallback, else the unknown id. sc (nil: none)
// lends buffers.
func (m *unigramModel) encode(s string, dst []int32, sc *viterbiScratch) []int32 {
	if s == "" {
		return dst
	}
	var seg [][3]int32
	if sc != nil {
		seg = m.segment(s, sc.seg[:0], sc)
		sc.seg = seg
	} else {
		seg = m.segment(s, nil, nil)
	}
	for i := 0; i < len(seg); i++ {
		start, end, id := seg[i][0], seg[i][1], seg[i][2]
		if id != m.unk {
			dst = append(dst, id)
			continue
		}
		for i+1 < len(seg) && seg[i+1][2] == m.unk {
			i++
			end = seg[i][1]
		}
		if known, ok := m.ids[s[start:end]]; ok && !m.spm {
			dst = append(dst, known)
			continue
		}
		dst = m.unknown(s[start:end], dst)
	}
	return dst
}

// unknown appends the ids of an unknown piece: its bytes' pieces with
// byte fallback when the vocabulary has them all, else the unknown id.
func (m *unigramModel) unknown(p string, dst []int32) []int32 {
	if m.byteFallback {
		ok := true
		for i := 0; i < len(p); i++ {
			ok = ok && m.byteIDs[p[i]] >= 0
		}
		if ok {
			for i := 0; i < len(p); i++ {
				dst = append(dst, m.byteIDs[p[i]])
			}
			return dst
		}
	}
	return append(dst, m.unk)
}
