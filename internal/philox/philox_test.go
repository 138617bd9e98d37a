package philox

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Known-answer vectors from Random123's kat_vectors ("philox4x32 10" lines):
// CTR (4 words), KEY (2 words), EXPECTED (4 words).
func TestBlockKAT(t *testing.T) {
	cases := []struct {
		ctr  [4]uint32
		key  [2]uint32
		want [4]uint32
	}{
		{
			[4]uint32{0, 0, 0, 0}, [2]uint32{0, 0},
			[4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
		},
		{
			[4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [2]uint32{0xffffffff, 0xffffffff},
			[4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
		},
		{
			[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0},
			[4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
		},
	}
	for _, c := range cases {
		if got := Block(c.ctr, c.key); got != c.want {
			t.Errorf("Block(%08x, %08x) = %08x, want %08x", c.ctr, c.key, got, c.want)
		}
	}
}

func TestStreamLayout(t *testing.T) {
	s := Stream{Seed: 0x0123456789abcdef, Step: 0xfedcba9876543210, ID: 0x80000007}
	key := [2]uint32{0x89abcdef, 0x01234567}
	for _, i := range []uint64{0, 1, 2, 3, 4, 5, 1<<34 - 1, 12345678901} {
		w := Block([4]uint32{uint32(i / 4), s.ID, 0x76543210, 0xfedcba98}, key)
		if got, want := s.Uint32(i), w[i%4]; got != want {
			t.Errorf("Uint32(%d) = %08x, want %08x", i, got, want)
		}
	}
}

func TestFillMatchesUint32(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := Stream{Seed: 42, Step: 7, ID: ParamID(3)}
	for trial := 0; trial < 300; trial++ {
		start := r.Uint64N(1 << 20)
		if trial%10 == 0 {
			start = MaxIndex - 64 - r.Uint64N(64)
		}
		n := r.IntN(40)
		dst := make([]uint32, n)
		s.Fill(dst, start)
		for j, w := range dst {
			if want := s.Uint32(start + uint64(j)); w != want {
				t.Fatalf("start=%d n=%d: dst[%d] = %08x, want %08x", start, n, j, w, want)
			}
		}
	}
	// Empty fill at the very end is allowed.
	s.Fill(nil, MaxIndex)
}

func TestRangePanics(t *testing.T) {
	s := Stream{}
	for name, f := range map[string]func(){
		"Uint32":   func() { s.Uint32(MaxIndex) },
		"Fill":     func() { s.Fill(make([]uint32, 2), MaxIndex-1) },
		"KeepMask": func() { s.KeepMask(make([]float32, 1), MaxIndex, 0.5) },
		"ParamID":  func() { ParamID(-1) },
		"Dropout":  func() { DropoutID(1 << 31) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestUniform(t *testing.T) {
	if u := Uniform(0); u != 0 {
		t.Errorf("Uniform(0) = %v", u)
	}
	if u, want := Uniform(0xffffffff), float32(1-math.Ldexp(1, -24)); u != want {
		t.Errorf("Uniform(max) = %v, want %v", u, want)
	}
	if u := Uniform(0x000000ff); u != 0 {
		t.Errorf("Uniform(0xff) = %v, low 8 bits must be ignored", u)
	}
	if u, want := Uniform(0x100), float32(math.Ldexp(1, -24)); u != want {
		t.Errorf("Uniform(0x100) = %v, want %v", u, want)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 100000; i++ {
		w := r.Uint32()
		u := Uniform(w)
		if !(u >= 0 && u < 1) {
			t.Fatalf("Uniform(%08x) = %v out of [0,1)", w, u)
		}
		if float64(u) != float64(w>>8)/(1<<24) {
			t.Fatalf("Uniform(%08x) = %v not exact", w, u)
		}
	}
}

func TestKeepExtremes(t *testing.T) {
	words := []uint32{0, 1, 0xff, 0x100, 0x7fffffff, 0x80000000, 0xffffff00, 0xffffffff}
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 1000; i++ {
		words = append(words, r.Uint32())
	}
	for _, w := range words {
		if !Keep(w, 0) || !Keep(w, -0.5) {
			t.Fatalf("Keep(%08x, p<=0) = false", w)
		}
		if Keep(w, 1) || Keep(w, 1.5) {
			t.Fatalf("Keep(%08x, p>=1) = true", w)
		}
		if Keep(w, float32(math.NaN())) {
			t.Fatalf("Keep(%08x, NaN) = true", w)
		}
	}
	// Boundary: p exactly representable on the 2^-24 grid.
	p := float32(0.5)
	if !Keep(0x80000000, p) || Keep(0x7fffffff, p) {
		t.Error("Keep boundary at p=0.5 wrong")
	}
}

func TestKeepMask(t *testing.T) {
	const n = 1000000
	s := Stream{Seed: 2024, Step: 1, ID: DropoutID(0)}
	dst := make([]float32, n)
	s.KeepMask(dst, 5, 0.7)
	kept := 0
	for j, v := range dst {
		switch v {
		case 1:
			kept++
		case 0:
		default:
			t.Fatalf("mask[%d] = %v", j, v)
		}
	}
	if frac := float64(kept) / n; math.Abs(frac-0.3) > 0.003 {
		t.Errorf("kept fraction %v, want 0.3±0.003", frac)
	}
	// Element-wise agreement with Keep(Uint32) on a sample, across chunk
	// boundaries.
	for _, j := range []int{0, 1, 2, 3, 254, 255, 256, 257, 511, 512, 999999} {
		want := float32(0)
		if Keep(s.Uint32(5+uint64(j)), 0.7) {
			want = 1
		}
		if dst[j] != want {
			t.Errorf("mask[%d] = %v, want %v", j, dst[j], want)
		}
	}
	// Overwrites stale contents and handles p extremes.
	small := []float32{7, 7, 7, 7, 7}
	s.KeepMask(small, 3, 0)
	for j, v := range small {
		if v != 1 {
			t.Errorf("p=0: mask[%d] = %v", j, v)
		}
	}
	s.KeepMask(small, 3, 1)
	for j, v := range small {
		if v != 0 {
			t.Errorf("p=1: mask[%d] = %v", j, v)
		}
	}
}

func TestDistinctStreams(t *testing.T) {
	base := Stream{Seed: 1, Step: 0, ID: ParamID(0)}
	variants := []Stream{
		base,
		{Seed: 2, Step: 0, ID: ParamID(0)},
		{Seed: 1 << 32, Step: 0, ID: ParamID(0)},
		{Seed: 1, Step: 1, ID: ParamID(0)},
		{Seed: 1, Step: 1 << 32, ID: ParamID(0)},
		{Seed: 1, Step: 0, ID: ParamID(1)},
		{Seed: 1, Step: 0, ID: DropoutID(0)},
		{Seed: 1, Step: 0, ID: DropoutID(1)},
	}
	seqs := make([][]uint32, len(variants))
	for i, s := range variants {
		seqs[i] = make([]uint32, 64)
		s.Fill(seqs[i], 0)
	}
	for i := range seqs {
		for j := i + 1; j < len(seqs); j++ {
			same := true
			for k := range seqs[i] {
				if seqs[i][k] != seqs[j][k] {
					same = false
					break
				}
			}
			if same {
				t.Errorf("streams %+v and %+v agree on first 64 words", variants[i], variants[j])
			}
		}
	}
}

func TestIDs(t *testing.T) {
	if ParamID(0) != 0 || ParamID(199) != 199 || ParamID(1<<31-1) != 0x7fffffff {
		t.Error("ParamID wrong")
	}
	if DropoutID(0) != 0x80000000 || DropoutID(5) != 0x80000005 || DropoutID(1<<31-1) != 0xffffffff {
		t.Error("DropoutID wrong")
	}
}

var sinkWords []uint32

func BenchmarkFill(b *testing.B) {
	s := Stream{Seed: 1, Step: 2, ID: 3}
	dst := make([]uint32, 4096)
	b.SetBytes(int64(4 * len(dst)))
	for b.Loop() {
		s.Fill(dst, 1)
	}
	sinkWords = dst
}

func BenchmarkKeepMask(b *testing.B) {
	s := Stream{Seed: 1, Step: 2, ID: 3}
	dst := make([]float32, 4096)
	b.SetBytes(int64(4 * len(dst)))
	for b.Loop() {
		s.KeepMask(dst, 0, 0.1)
	}
}
