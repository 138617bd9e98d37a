//go:build cuda

package gpu

import (
	"os"
	"strconv"
	"testing"
)

// newTestBackend is the CUDA backend on $MIXFT_TEST_DEVICE (default 0),
// checking every launch (MIXFT_CUDA_SYNC semantics) unless
// MIXFT_TEST_NOSYNC=1.
func newTestBackend(t testing.TB, prec Precision) *Backend {
	t.Helper()
	ordinal := 0
	if s := os.Getenv("MIXFT_TEST_DEVICE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("MIXFT_TEST_DEVICE=%q: %v", s, err)
		}
		ordinal = n
	}
	be, err := New(ordinal, prec)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("MIXFT_TEST_NOSYNC") != "1" {
		be.SetDebugSync(true)
	}
	t.Cleanup(be.Close)
	return be
}
