//go:build unix

package cpu

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/mixft/mixft/internal/philox"
)

// BenchmarkRotaryAttention times ModernBERT-base's attention (12 heads of
// 64, batch 1) forward and backward, for a sliding-window layer (window
// 64 each side) and a global one, at 512..8192 tokens. Metrics:
// fwd-cpu-ms and bwd-cpu-ms are the process's CPU time (user + system) per
// forward and per backward, which a machine shared with other work
// inflates less than the wall time; scratch-KiB is the attention's working
// memory, the rotary scratch its workers hold after the run (Q', K', dQ',
// dK' of one head and the score blocks of rotaryBlock queries: O(seq) for
// both kinds, against 12·seq² floats for a full score matrix); B/op is what
// one forward and backward allocate (the scratch on the first call only).
//
//	go test ./internal/cpu/ -run '^$' -bench RotaryAttention -benchtime 1s -benchmem
func BenchmarkRotaryAttention(b *testing.B) {
	const heads, hd = 12, 64
	for _, kind := range []struct {
		name   string
		window int
	}{{"local", 64}, {"global", -1}} {
		for _, seq := range []int{512, 1024, 2048, 4096, 8192} {
			b.Run(fmt.Sprintf("%s/S%d", kind.name, seq), func(b *testing.B) {
				be := New(0)
				rng := rand.New(rand.NewPCG(1, 2))
				n := seq * heads * hd
				fill := func(m int) *Tensor {
					t := &Tensor{Data: make([]float32, m)}
					for i := range t.Data {
						t.Data[i] = float32(rng.NormFloat64())
					}
					return t
				}
				qkv, dctx := fill(3*n), fill(n)
				mask := &Tensor{Data: make([]float32, seq)}
				for i := range mask.Data {
					mask.Data[i] = 1
				}
				ctx, lse, dqkv := &Tensor{Data: make([]float32, n)}, &Tensor{Data: make([]float32, heads*seq)}, &Tensor{Data: make([]float32, 3*n)}
				b.ReportAllocs()
				b.ResetTimer()
				var fwd, bwd time.Duration
				for range b.N {
					t0 := cpuTime()
					be.RotaryAttention(ctx, lse, qkv, mask, 1, seq, heads, hd, kind.window, 160000, 0.125, 0, philox.Stream{})
					t1 := cpuTime()
					be.RotaryAttentionBackward(dqkv, dctx, ctx, lse, qkv, mask, 1, seq, heads, hd, kind.window, 160000, 0.125, 0, philox.Stream{})
					fwd, bwd = fwd+t1-t0, bwd+cpuTime()-t1
				}
				b.ReportMetric(float64(fwd.Microseconds())/1e3/float64(b.N), "fwd-cpu-ms")
				b.ReportMetric(float64(bwd.Microseconds())/1e3/float64(b.N), "bwd-cpu-ms")
				b.ReportMetric(float64(be.rotaryScratchBytes())/1024, "scratch-KiB")
			})
		}
	}
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rotaryScratchBytes is the memory the backend's rotary scratch holds.
func (be *Backend) rotaryScratchBytes() int {
	be.mu.Lock()
	defer be.mu.Unlock()
	n := 0
	for _, s := range be.rotary {
		n += 4*(cap(s.q)+cap(s.k)+cap(s.dq)+cap(s.dk)+cap(s.s)+cap(s.g)+cap(s.dd)) + 4*cap(s.words)
	}
	return n
}
