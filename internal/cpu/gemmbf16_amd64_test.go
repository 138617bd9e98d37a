//go:build amd64 && !purego

package cpu

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// disassemble returns the instructions (AT&T syntax, no addresses) of the
// assembly function fn (its Go function value) in the running test binary:
// the bytes of the ABI0 body its wrapper calls, read from the executable's
// .text and decoded by GNU objdump; the test skips where objdump is missing.
func disassemble(t *testing.T, name string, fn any) []string {
	t.Helper()
	if _, err := exec.LookPath("objdump"); err != nil {
		t.Skip("SKIP: no objdump (binutils) to check the hand-encoded instructions")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	sec := ef.Section(".text")
	if sec == nil {
		t.Fatal("the test binary has no .text")
	}
	text, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	at := func(pc uintptr) []byte {
		off := int(pc) - int(sec.Addr)
		if off < 0 || off >= len(text) {
			t.Fatalf("address %#x is outside .text", pc)
		}
		return text[off:]
	}
	// The wrapper of an assembly function calls its ABI0 body: find the
	// first CALL rel32 whose target starts a function of that name.
	wrapper := reflect.ValueOf(fn).Pointer()
	var entry uintptr
	code := at(wrapper)
	for i := 0; i+5 <= min(len(code), 256) && entry == 0; i++ {
		if code[i] != 0xe8 {
			continue
		}
		target := uintptr(int(wrapper) + i + 5 + int(int32(binary.LittleEndian.Uint32(code[i+1:]))))
		if f := runtime.FuncForPC(target); f != nil && f.Entry() == target && strings.HasSuffix(f.Name(), "."+name) {
			entry = target
		}
	}
	if entry == 0 {
		t.Fatalf("no call of %s's body in its wrapper", name)
	}
	f := runtime.FuncForPC(entry)
	n := uintptr(0)
	for runtime.FuncForPC(entry+n) == f && n < 1<<16 {
		n++
	}
	path := filepath.Join(t.TempDir(), name+".bin")
	if err := os.WriteFile(path, at(entry)[:n], 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("objdump", "-D", "--no-show-raw-insn", "-b", "binary", "-m", "i386:x86-64", path).Output()
	if err != nil {
		t.Fatalf("objdump %s: %v", name, err)
	}
	var insns []string
	line := regexp.MustCompile(`^\s*[0-9a-f]+:\s+(.*)$`)
	for _, l := range strings.Split(string(out), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			insns = append(insns, strings.Join(strings.Fields(m[1]), " "))
		}
	}
	for _, in := range insns {
		if strings.Contains(in, "(bad)") {
			t.Fatalf("%s: objdump cannot decode an instruction: %s", name, in)
		}
	}
	return insns
}

// only keeps the instructions whose mnemonic is one of names.
func only(insns []string, names ...string) []string {
	var out []string
	for _, in := range insns {
		for _, n := range names {
			if strings.HasPrefix(in, n+" ") || in == n {
				out = append(out, in)
			}
		}
	}
	return out
}

// TestBF16KernelEncoding: the VDPBF16PS bytes of the AVX512-BF16 kernel
// decode, in GNU objdump, to the intended operands: each k-pair multiplies
// B's two vectors (Z0, Z1) by row r's broadcast (Z2..Z7 in turn) into
// accumulators Z(8+2r) and Z(9+2r); four unrolled k-pairs and the tail.
// The packing's VCVTNE2PS2BF16 put a row's first 16 values in the low half.
func TestBF16KernelEncoding(t *testing.T) {
	got := only(disassemble(t, "bf16Kernel12x32", bf16Kernel12x32), "vdpbf16ps")
	var step []string
	for r := 0; r < 12; r++ {
		a := 2 + r%6
		step = append(step, fmt.Sprintf("vdpbf16ps %%zmm%d,%%zmm0,%%zmm%d", a, 8+2*r), fmt.Sprintf("vdpbf16ps %%zmm%d,%%zmm1,%%zmm%d", a, 9+2*r))
	}
	if len(got) != 5*len(step) {
		t.Fatalf("%d VDPBF16PS, want %d", len(got), 5*len(step))
	}
	for i, in := range got {
		if want := step[i%len(step)]; in != want {
			t.Fatalf("VDPBF16PS %d is %q, want %q", i, in, want)
		}
	}
	pair := []string{"vcvtne2ps2bf16 %zmm0,%zmm1,%zmm2", "vpermw %zmm2,%zmm31,%zmm3"}
	if got, want := only(disassemble(t, "cvtBF16PairsPanels", cvtBF16PairsPanels), "vcvtne2ps2bf16", "vpermw"), append(pair, pair...); strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("cvtBF16PairsPanels: %q, want %q (r0 in Z0 rounded into the low half, whole and last pieces)", got, want)
	}
	var rows []string
	for r := 0; r < 16; r++ {
		rows = append(rows, fmt.Sprintf("vcvtne2ps2bf16 %%zmm16,%%zmm17,%%zmm%d", r))
	}
	if got := only(disassemble(t, "cvtBF16Transpose", cvtBF16Transpose), "vcvtne2ps2bf16"); strings.Join(got, ";") != strings.Join(rows, ";") {
		t.Fatalf("cvtBF16Transpose: %q, want %q (a row's first 16 values, in Z16, rounded into the low half of Z(row))", got, rows)
	}
}

// TestAMXKernelEncoding: the AMX kernel cannot run on a machine without
// AMX, but its bytes can be checked: GNU objdump decodes them to the
// intended tile program (configure, zero the four C tiles, per 16 k-pairs
// load A rows 0-15 and 16-31 with the A row stride and B columns 0-15 and
// 16-31 with B's, four products, then store the C tiles 64 bytes and 16
// rows apart and release the tiles).
func TestAMXKernelEncoding(t *testing.T) {
	got := only(disassemble(t, "amxTile32x32", amxTile32x32), "ldtilecfg", "tilezero", "tileloadd", "tdpbf16ps", "tilestored", "tilerelease")
	want := []string{
		"ldtilecfg (%rax)",
		"tilezero %tmm0", "tilezero %tmm1", "tilezero %tmm2", "tilezero %tmm3",
		"tileloadd (%rax,%rcx,1),%tmm4", "tileloadd (%rbx,%rcx,1),%tmm5",
		"tileloadd (%rsi,%rdx,1),%tmm6", "tileloadd (%rdi,%rdx,1),%tmm7",
		"tdpbf16ps %tmm6,%tmm4,%tmm0", "tdpbf16ps %tmm7,%tmm4,%tmm1",
		"tdpbf16ps %tmm6,%tmm5,%tmm2", "tdpbf16ps %tmm7,%tmm5,%tmm3",
		"tilestored %tmm0,(%rax,%rcx,1)", "tilestored %tmm1,(%rax,%rcx,1)",
		"tilestored %tmm2,(%rax,%rcx,1)", "tilestored %tmm3,(%rax,%rcx,1)",
		"tilerelease",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("AMX kernel decodes to\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ok, why := amxStatus(); !ok {
		t.Logf("SKIP running the AMX kernel: %s (encoding checked only; it has not run on AMX hardware here)", why)
	}
}
