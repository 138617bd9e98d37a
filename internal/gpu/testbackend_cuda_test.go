//go:build cuda

package gpu

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mixft/mixft/internal/backend"
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
	t.Logf("%v", be.Info())
	return be
}

// checkInfo: a card's description names the card, a compute capability,
// the driver, the PTX target it runs and the libcublas file loaded.
func checkInfo(t *testing.T, i backend.DeviceInfo) {
	t.Helper()
	if i.Name == "" || !regexp.MustCompile(`^[0-9]+\.[0-9]+$`).MatchString(i.Capability) || i.Multiprocessors < 1 ||
		i.MemoryBytes <= 0 || i.Driver <= 0 || !regexp.MustCompile(`^sm_[0-9]+$`).MatchString(i.PTXTarget) ||
		!strings.Contains(filepath.Base(i.GEMMLibrary), "libcublas") || i.GEMMLibraryVersion <= 0 {
		t.Fatalf("incomplete device description %+v", i)
	}
}
