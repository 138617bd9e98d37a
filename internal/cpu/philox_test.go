package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixft/mixft/internal/philox"
)

// TestFillWordsMatchesPhilox: fillWords (AVX-512 sixteen blocks at a time
// where the CPU has it, two at a time in Go, philox for the ends) gives
// philox's words at every start, length and stream, up to the end of the
// stream's range.
func TestFillWordsMatchesPhilox(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for trial := 0; trial < 600; trial++ {
		s := philox.Stream{Seed: rng.Uint64(), Step: rng.Uint64(), ID: rng.Uint32()}
		start := uint64(rng.IntN(1000))
		if trial%7 == 0 {
			start = philox.MaxIndex - uint64(rng.IntN(40)) - 300
		}
		n := rng.IntN(40)
		if trial%2 == 1 {
			n = rng.IntN(300)
		}
		got, want := make([]uint32, n), make([]uint32, n)
		fillWords(s, got, start)
		s.Fill(want, start)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("stream %+v start %d n %d: word %d = %#x, want %#x", s, start, n, i, got[i], want[i])
			}
		}
	}
}

func TestKeepThreshold(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	ps := []float32{0, 1, -1, 2, 0.1, 0.3, 0.5, 0.7, 0.9, 1e-9, 0.99999994, float32(math.NaN()), float32(math.Inf(1))}
	for i := 0; i < 50; i++ {
		ps = append(ps, rng.Float32())
	}
	for _, p := range ps {
		thr := keepThreshold(p)
		words := []uint32{0, 0xffffffff, thr << 8, thr<<8 - 1, thr<<8 + 255, (thr - 1) << 8}
		for i := 0; i < 2000; i++ {
			words = append(words, rng.Uint32())
		}
		for _, w := range words {
			if got, want := w>>8 >= thr, philox.Keep(w, p); got != want {
				t.Fatalf("p %g word %#x: threshold keeps %v, philox.Keep %v", p, w, got, want)
			}
		}
	}
}

func BenchmarkFillWords(b *testing.B) {
	s := philox.Stream{Seed: 1, Step: 2, ID: 3}
	dst := make([]uint32, 4096)
	b.Run("philox", func(b *testing.B) {
		for b.Loop() {
			s.Fill(dst, 0)
		}
	})
	b.Run("cpu", func(b *testing.B) {
		for b.Loop() {
			fillWords(s, dst, 0)
		}
	})
}

// TestSumSquaresWorkers checks the gradient norm does not depend on the
// number of workers (fixed blocks summed in order).
func TestSumSquaresWorkers(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	v := make([]float32, 3<<16+123)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	var want float64
	for w := 1; w <= 4; w++ {
		be := New(w)
		b := be.Alloc(len(v))
		be.Upload(b, v)
		got := be.SumSquares(b, len(v))
		if w == 1 {
			want = got
			var ref float64
			for _, x := range v {
				ref += float64(x) * float64(x)
			}
			if math.Abs(got-ref) > 1e-9*ref {
				t.Fatalf("SumSquares = %g, want %g", got, ref)
			}
		} else if got != want {
			t.Fatalf("SumSquares on %d workers = %v, on 1 worker %v", w, got, want)
		}
	}
}
