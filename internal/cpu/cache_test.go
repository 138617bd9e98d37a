package cpu

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReadCaches reads a sysfs cache tree as Linux lays it out, and the
// blocks follow the sizes: the B micro-panel fills L1d, the A block half
// of L2.
func TestReadCaches(t *testing.T) {
	root := t.TempDir()
	for i, c := range [][3]string{{"1", "Data", "48K"}, {"1", "Instruction", "32K"}, {"2", "Unified", "2048K"}, {"3", "Unified", "105M"}} {
		d := filepath.Join(root, "index"+string(rune('0'+i)))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]string{"level": c[0], "type": c[1], "size": c[2]} {
			if err := os.WriteFile(filepath.Join(d, name), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ci := readCaches(root)
	if ci != (cacheInfo{l1d: 48 << 10, l2: 2 << 20}) {
		t.Fatalf("readCaches = %+v", ci)
	}
	for _, c := range []struct {
		mr, nr, bytes, kc, mc int
	}{
		{8, 32, 4, 384, 680},    // fp32 8×32: 384·32·4 = 48 KiB; 680·384·4 ≤ 1 MiB
		{12, 32, 2, 768, 672},   // bf16 12×32
		{32, 32, 2, 768, 672},   // AMX 32×32
		{4, 16, 4, 768, 340},    // go 4×16
		{6, 16, 4, 768, 336},    // avx2 6×16
		{8, 4096, 4, 128, 1024}, // clamped: kc at least 128, mc at most 1024
	} {
		kc, mc, ok := blocking(ci, c.mr, c.nr, c.bytes)
		if !ok || kc != c.kc || mc != c.mc {
			t.Errorf("blocking(%d×%d, %d bytes) = kc %d mc %d, want %d %d", c.mr, c.nr, c.bytes, kc, mc, c.kc, c.mc)
		}
	}
	if _, _, ok := blocking(readCaches(filepath.Join(root, "missing")), 8, 32, 4); ok {
		t.Error("blocking without cache sizes: ok")
	}
}
