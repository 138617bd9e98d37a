package cpu

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// cacheInfo is what the machine reports of its data caches (bytes; 0
// where it reports nothing).
type cacheInfo struct{ l1d, l2 int }

// readCaches reads the data and unified caches of CPU 0 from sysfs under
// root (/sys/devices/system/cpu/cpu0/cache).
func readCaches(root string) cacheInfo {
	var ci cacheInfo
	dirs, _ := filepath.Glob(filepath.Join(root, "index*"))
	for _, d := range dirs {
		read := func(name string) string {
			b, _ := os.ReadFile(filepath.Join(d, name))
			return strings.TrimSpace(string(b))
		}
		size := parseCacheSize(read("size"))
		switch typ := read("type"); {
		case read("level") == "1" && typ == "Data":
			ci.l1d = size
		case read("level") == "2" && (typ == "Unified" || typ == "Data"):
			ci.l2 = size
		}
	}
	return ci
}

// parseCacheSize parses sysfs's "32K", "1024K", "2M"; 0 when it cannot.
func parseCacheSize(s string) int {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0
	}
	return n * mult
}

// machineCaches is readCaches of this machine, read once.
var machineCaches = sync.OnceValue(func() cacheInfo { return readCaches("/sys/devices/system/cpu/cpu0/cache") })

// blocking derives a kernel's k and row blocks from the caches, for
// operands of bytesPerK bytes per k step and element: the B micro-panel
// (kc × nr) fills L1d, where it stays while the kernel walks down the A
// block, and the A block (mc × kc) half of L2, leaving room for C and B.
// kc is a multiple of 32 in [128, 1024], mc a multiple of mr in [mr, 1024].
// ok is false when the machine reports no L1d or L2 (keep the defaults).
func blocking(ci cacheInfo, mr, nr, bytesPerK int) (kc, mc int, ok bool) {
	if ci.l1d <= 0 || ci.l2 <= 0 {
		return 0, 0, false
	}
	kc = min(max(ci.l1d/(nr*bytesPerK)/32*32, 128), 1024)
	mc = min(max(ci.l2/2/(kc*bytesPerK)/mr*mr, mr), 1024/mr*mr)
	return kc, mc, true
}

// tuneBlocking sets every kernel's kc and mc from the machine's caches,
// once, and says what it chose and why (blockingNote).
var tuneBlocking = sync.OnceFunc(func() {
	ci := machineCaches()
	fks := kernels()
	bks, _ := bf16Kernels()
	var parts []string
	for _, k := range fks {
		if kc, mc, ok := blocking(ci, k.mr, k.nr, 4); ok {
			k.kc, k.mc = kc, mc
		}
	}
	for _, k := range bks {
		if kc, mc, ok := blocking(ci, k.mr, k.nr, 2); ok {
			k.kc, k.mc = kc, mc
		}
	}
	if ci.l1d > 0 && ci.l2 > 0 {
		parts = append(parts, fmt.Sprintf("L1d %d KiB, L2 %d KiB (sysfs): B panel kc×nr fills L1d, A block mc×kc half of L2", ci.l1d>>10, ci.l2>>10))
	} else {
		parts = append(parts, "no cache sizes in sysfs: built-in blocks")
	}
	blockingNote = strings.Join(parts, "; ")
})

// blockingNote says where the kernels' blocks came from.
var blockingNote string

// Blocking describes the cache blocks of the GEMM kernel in use and where
// they came from.
func (be *Backend) Blocking() string {
	tuneBlocking()
	mr, nr, kc, mc, nc := be.kern.mr, be.kern.nr, be.kern.kc, be.kern.mc, be.kern.nc
	if be.prec == BF16 {
		mr, nr, kc, mc, nc = be.bkern.mr, be.bkern.nr, be.bkern.kc, be.bkern.mc, be.bkern.nc
	}
	return fmt.Sprintf("tile %d×%d, kc %d, mc %d, nc %d (%s)", mr, nr, kc, mc, nc, blockingNote)
}
