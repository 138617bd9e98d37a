// Package philox is the single source of randomness for mixout and dropout
// masks in mixft. It implements the counter-based generator Philox4x32-10
// (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011), bit-for-bit identical to Random123's philox4x32 with 10 rounds,
// and a fixed layout of named streams on top of it, so that every backend
// (the Go CPU backend and the CUDA kernels, which mirror this file in
// kernels/philox.cuh) draws exactly the same masks.
//
// # Block function
//
// Block maps a 128-bit counter (c0,c1,c2,c3) and a 64-bit key (k0,k1) to four
// 32-bit words. All arithmetic is on uint32 with wraparound; the two
// multiplications per round are full 32x32->64 products (Go: via uint64,
// CUDA: __umulhi for the high half and an ordinary multiply for the low half).
//
//	M0 = 0xD2511F53, M1 = 0xCD9E8D57   (round multipliers)
//	W0 = 0x9E3779B9, W1 = 0xBB67AE85   (Weyl key increments)
//
//	round(c, k):
//	    hi0:lo0 = M0 * c0      (64-bit product)
//	    hi1:lo1 = M1 * c2
//	    c = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
//
//	Block(c, k):
//	    c = round(c, k)
//	    repeat 9 times:
//	        k0 += W0; k1 += W1
//	        c = round(c, k)
//	    return c
//
// # Stream layout
//
// A Stream is identified by (Seed uint64, Step uint64, ID uint32). Element i
// (i < 2^34) of the stream is
//
//	Block(ctr, key)[i % 4]  where
//	    ctr = (uint32(i/4), ID, uint32(Step), uint32(Step>>32))
//	    key = (uint32(Seed), uint32(Seed>>32))
//
// i.e. one Block call yields four consecutive elements, in word order.
//
// # From words to masks
//
// A word w becomes a uniform float32 in [0,1) by keeping its top 24 bits:
//
//	u = float32(w >> 8) * 2^-24    (exact; in CUDA: __uint2float_rn(w >> 8) * 0x1p-24f)
//
// An element is kept (not dropped / not replaced) when u >= p, where p is the
// drop (dropout) or replace (mixout) probability as a float32. A mask holds
// 1.0 for kept elements and 0.0 otherwise. Element j of a mask is element
// start+j of its stream.
//
// # Stream IDs and steps
//
// Mixout masks of the parameter with index n in the model's parameter list
// use ID ParamID(n) = n; dropout site s uses ID DropoutID(s) = 0x80000000|s.
// Step is the caller's counter (for instance the optimizer step or the
// micro-batch counter); this package gives it no further meaning, but every
// backend must be handed the same value for the same draw. Seed is the run's
// seed.
package philox

// Philox4x32 constants from Random123.
const (
	// M0 is the round multiplier applied to counter word 0.
	M0 uint32 = 0xD2511F53
	// M1 is the round multiplier applied to counter word 2.
	M1 uint32 = 0xCD9E8D57
	// W0 is the Weyl increment added to key word 0 between rounds.
	W0 uint32 = 0x9E3779B9
	// W1 is the Weyl increment added to key word 1 between rounds.
	W1 uint32 = 0xBB67AE85
	// Rounds is the number of Philox rounds applied by Block.
	Rounds = 10
)

// MaxIndex is one past the largest valid stream element index: the block
// index i/4 must fit in a uint32, so i < 2^34.
const MaxIndex uint64 = 1 << 34

// DropoutIDBase is the bit set in every dropout stream ID, separating the
// dropout ID space (0x80000000..0xFFFFFFFF) from the mixout parameter ID
// space (0..0x7FFFFFFF).
const DropoutIDBase uint32 = 0x80000000

// mulhilo returns the high and low 32-bit halves of the 64-bit product a*b.
func mulhilo(a, b uint32) (hi, lo uint32) {
	p := uint64(a) * uint64(b)
	return uint32(p >> 32), uint32(p)
}

// Block applies Philox4x32-10 to one counter under key. It equals Random123's
// philox4x32_R(10, ctr, key): ten rounds, with the key bumped by (W0, W1)
// before each of rounds 2..10. Each round is
//
//	hi0:lo0 = M0*c0; hi1:lo1 = M1*c2
//	(c0, c1, c2, c3) = (hi1^c1^k0, lo1, hi0^c3^k1, lo0)
//
// The state is kept in scalar locals (rather than arrays) so that it stays in
// registers; the CUDA mirror uses the same shape.
func Block(ctr [4]uint32, key [2]uint32) [4]uint32 {
	c0, c1, c2, c3 := ctr[0], ctr[1], ctr[2], ctr[3]
	k0, k1 := key[0], key[1]
	for r := 0; r < Rounds; r++ {
		if r > 0 {
			k0 += W0
			k1 += W1
		}
		hi0, lo0 := mulhilo(M0, c0)
		hi1, lo1 := mulhilo(M1, c2)
		c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	}
	return [4]uint32{c0, c1, c2, c3}
}

// Stream is one named sequence of random 32-bit words: element i is word i%4
// of Block({uint32(i/4), ID, uint32(Step), uint32(Step>>32)},
// {uint32(Seed), uint32(Seed>>32)}). i/4 must fit in 32 bits (i < 2^34,
// see MaxIndex); the methods panic otherwise.
//
// Seed is the run's seed, Step the caller's counter (the caller decides what
// it counts, e.g. optimizer steps or micro-batches), and ID names the use:
// ParamID for mixout masks, DropoutID for dropout sites.
type Stream struct {
	Seed uint64
	Step uint64
	ID   uint32
}

// key returns the Philox key of the stream.
func (s Stream) key() [2]uint32 {
	return [2]uint32{uint32(s.Seed), uint32(s.Seed >> 32)}
}

// block returns the four words of block b of the stream (elements 4b..4b+3).
func (s Stream) block(b uint32, key [2]uint32) [4]uint32 {
	return Block([4]uint32{b, s.ID, uint32(s.Step), uint32(s.Step >> 32)}, key)
}

// Uint32 returns element i of the stream. It panics if i >= MaxIndex.
func (s Stream) Uint32(i uint64) uint32 {
	if i >= MaxIndex {
		panic("philox: stream index out of range (must be < 2^34)")
	}
	return s.block(uint32(i/4), s.key())[i%4]
}

// checkRange panics unless elements start..start+n-1 are all valid indices.
func checkRange(start uint64, n int) {
	if start > MaxIndex || uint64(n) > MaxIndex-start {
		panic("philox: stream range out of range (end must be <= 2^34)")
	}
}

// Fill writes elements start..start+len(dst)-1 of the stream to dst: dst[j]
// is s.Uint32(start+j). It computes one Block per four words, handling an
// unaligned start and a partial final block. It panics if the range extends
// past MaxIndex.
func (s Stream) Fill(dst []uint32, start uint64) {
	checkRange(start, len(dst))
	if len(dst) == 0 {
		return
	}
	key := s.key()
	b := uint32(start / 4)
	// Unaligned head: the tail words of the first block.
	if off := int(start % 4); off != 0 {
		w := s.block(b, key)
		n := copy(dst, w[off:])
		dst = dst[n:]
		b++
	}
	// Whole blocks.
	for len(dst) >= 4 {
		w := s.block(b, key)
		dst[0], dst[1], dst[2], dst[3] = w[0], w[1], w[2], w[3]
		dst = dst[4:]
		b++
	}
	// Partial final block.
	if len(dst) > 0 {
		w := s.block(b, key)
		copy(dst, w[:])
	}
}

// Uniform maps a word to [0,1) with 24 random bits: float32(w>>8) * 2^-24,
// which is exact in float32. Uniform(0) == 0 and
// Uniform(0xffffffff) == 1 - 2^-24.
func Uniform(w uint32) float32 {
	return float32(w>>8) * (1.0 / (1 << 24))
}

// Keep reports whether an element with word w survives a drop/replace
// probability p: Uniform(w) >= p. With p <= 0 it is always true, with p >= 1
// never (Uniform is below 1); a NaN p keeps nothing. The comparison is on
// float32 values, exactly as GPU code must perform it.
func Keep(w uint32, p float32) bool {
	return Uniform(w) >= p
}

// maskChunk is the number of words KeepMask generates per batch.
const maskChunk = 256

// KeepMask fills dst[j] = 1 if Keep(s.Uint32(start+j), p) else 0 (float32 0/1),
// for mixout column masks and dropout masks. It panics if the range extends
// past MaxIndex.
func (s Stream) KeepMask(dst []float32, start uint64, p float32) {
	checkRange(start, len(dst))
	var buf [maskChunk]uint32
	for len(dst) > 0 {
		n := min(len(dst), maskChunk)
		s.Fill(buf[:n], start)
		for j, w := range buf[:n] {
			if Keep(w, p) {
				dst[j] = 1
			} else {
				dst[j] = 0
			}
		}
		dst = dst[n:]
		start += uint64(n)
	}
}

// ParamID returns the stream ID for the mixout masks of the parameter at
// position index in the model's parameter list: uint32(index). It panics if
// index is negative or not below DropoutIDBase, which would collide with the
// dropout ID space.
func ParamID(index int) uint32 {
	if index < 0 || uint64(index) >= uint64(DropoutIDBase) {
		panic("philox: parameter index out of range for ParamID")
	}
	return uint32(index)
}

// DropoutID returns the stream ID for dropout site site:
// DropoutIDBase | uint32(site) = 0x80000000 | site. Sites are numbered by the
// model in a fixed order shared by all backends. It panics if site is
// negative or not below 2^31.
func DropoutID(site int) uint32 {
	if site < 0 || uint64(site) >= uint64(DropoutIDBase) {
		panic("philox: dropout site out of range for DropoutID")
	}
	return DropoutIDBase | uint32(site)
}
