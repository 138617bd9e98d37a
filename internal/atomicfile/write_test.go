package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fill writes s.
func fill(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

// entries lists a directory's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteRegularFileKeepsItsMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o600)
	if err := WriteFile(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if got, _ := os.ReadFile(p); string(got) != "new" || st.Mode() != 0o600 {
		t.Fatalf("%q, mode %v; want new, -rw-------", got, st.Mode())
	}
	if n := entries(t, dir); len(n) != 1 {
		t.Fatalf("left %v", n)
	}
}

func TestWriteCreatesMissingDirectories(t *testing.T) {
	p := filepath.Join(t.TempDir(), "submission", "sub", "RTE.tsv")
	if err := WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "x" {
		t.Fatalf("%q", got)
	}
}

// TestWriteThroughSymlinks: the link stays a link; what it leads to gets
// the data, by the rules for what that is.
func TestWriteThroughSymlinks(t *testing.T) {
	t.Run("to a file", func(t *testing.T) {
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, "data"), 0o755)
		real := filepath.Join(dir, "data", "preds.jsonl")
		os.WriteFile(real, []byte("old"), 0o644)
		link := filepath.Join(dir, "preds.jsonl")
		os.Symlink(filepath.Join("data", "preds.jsonl"), link)
		chain := filepath.Join(dir, "latest")
		os.Symlink("preds.jsonl", chain) // a link to the link
		if err := WriteFile(chain, []byte("new"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, l := range []string{link, chain} {
			if st, err := os.Lstat(l); err != nil || st.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("%s is no longer a link", l)
			}
		}
		if got, _ := os.ReadFile(real); string(got) != "new" {
			t.Fatalf("target holds %q", got)
		}
		if n := entries(t, filepath.Join(dir, "data")); len(n) != 1 {
			t.Fatalf("left %v beside the target", n)
		}
	})
	t.Run("dangling", func(t *testing.T) {
		dir := t.TempDir()
		link := filepath.Join(dir, "out")
		os.Symlink("made.txt", link)
		if err := WriteFile(link, []byte("new"), 0o640); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(filepath.Join(dir, "made.txt"))
		if got, _ := os.ReadFile(link); string(got) != "new" || err != nil || st.Mode() != 0o640 {
			t.Fatalf("through the link %q, target %v", got, err)
		}
	})
	t.Run("loop", func(t *testing.T) {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		os.Symlink("b", a)
		os.Symlink("a", b)
		if err := WriteFile(a, []byte("x"), 0o644); !errors.Is(err, syscall.ELOOP) {
			t.Fatalf("err = %v, want ELOOP", err)
		}
	})
}

// TestWriteStreamsToFIFO: a reader of a named pipe gets the data; the pipe
// stays a pipe.
func TestWriteStreamsToFIFO(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		f, err := os.Open(p)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- string(b)
	}()
	if err := WriteFile(p, []byte("through the pipe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "through the pipe\n" {
		t.Fatalf("reader got %q", s)
	}
	if st, _ := os.Lstat(p); st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("fifo became %v", st.Mode())
	}
	if n := entries(t, dir); len(n) != 1 {
		t.Fatalf("left %v", n)
	}
}

// mknodNull makes a private character device with /dev/null's numbers
// (1, 3) in a temporary directory (tests run as root; never the real one).
func mknodNull(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "null")
	if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Skipf("mknod (needs root): %v", err)
	}
	return p
}

func TestWriteStreamsToCharDevice(t *testing.T) {
	p := mknodNull(t)
	link := filepath.Join(filepath.Dir(p), "out")
	os.Symlink("null", link)
	for _, target := range []string{p, link} {
		if err := WriteFile(target, []byte("discarded"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := os.Lstat(p)
	if st.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("device became %v", st.Mode())
	}
	if n := entries(t, filepath.Dir(p)); len(n) != 2 {
		t.Fatalf("left %v", n)
	}
	// A fill that fails after writing part reports it.
	boom := errors.New("boom")
	err := Write(p, 0o644, func(w io.Writer) error { w.Write([]byte("part")); return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

func TestWriteDashIsStdout(t *testing.T) {
	var out bytes.Buffer
	if err := WriteStdout("-", &out, 0o644, fill("to stdout")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "to stdout" {
		t.Fatalf("stdout got %q", out.String())
	}
	if _, err := os.Stat("-"); err == nil {
		t.Fatal("a file named - was made")
	}
}

// TestWriteRefuses: a directory (also through a link), a socket and a
// block device are refused with one line naming the path; nothing changes.
func TestWriteRefuses(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "out")
	os.Mkdir(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "keep"), []byte("k"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink("out", link)
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	targets := map[string]string{sub: "is a directory", link: "is a directory", sock: "is a socket"}
	blk := filepath.Join(dir, "blk")
	if syscall.Mknod(blk, syscall.S_IFBLK|0o600, 7<<8|250) == nil {
		targets[blk] = "is a block device"
	}
	for p, want := range targets {
		err := WriteFile(p, []byte("x"), 0o644)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line saying %q", p, err, want)
		}
	}
	if n := entries(t, sub); len(n) != 1 {
		t.Fatalf("directory now holds %v", n)
	}
	if st, _ := os.Lstat(link); st.Mode()&os.ModeSymlink == 0 {
		t.Fatal("link replaced")
	}
	if n := entries(t, dir); len(n) != len(targets) { // out, link, sock (, blk)
		t.Fatalf("left %v", n)
	}
}

func TestMove(t *testing.T) {
	tmpFile := func(t *testing.T, dir, s string) string {
		p := filepath.Join(dir, ".part")
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	t.Run("over a file", func(t *testing.T) {
		dir := t.TempDir()
		dst := filepath.Join(dir, "blob")
		os.WriteFile(dst, []byte("old"), 0o644)
		if err := Move(tmpFile(t, dir, "new"), dst); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(dst); string(got) != "new" || len(entries(t, dir)) != 1 {
			t.Fatalf("%q, %v", got, entries(t, dir))
		}
	})
	t.Run("through a link", func(t *testing.T) {
		dir := t.TempDir()
		os.Symlink("real", filepath.Join(dir, "dst"))
		if err := Move(tmpFile(t, dir, "new"), filepath.Join(dir, "dst")); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "real")); string(got) != "new" {
			t.Fatalf("%q", got)
		}
		if st, _ := os.Lstat(filepath.Join(dir, "dst")); st.Mode()&os.ModeSymlink == 0 {
			t.Fatal("link replaced")
		}
	})
	t.Run("into a device", func(t *testing.T) {
		dev := mknodNull(t)
		tmp := tmpFile(t, filepath.Dir(dev), "new")
		if err := Move(tmp, dev); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(tmp); err == nil {
			t.Fatal("temporary file left")
		}
		if st, _ := os.Lstat(dev); st.Mode()&os.ModeCharDevice == 0 {
			t.Fatalf("device became %v", st.Mode())
		}
	})
	t.Run("directory refused", func(t *testing.T) {
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, "dst"), 0o755)
		tmp := tmpFile(t, dir, "new")
		if err := Move(tmp, filepath.Join(dir, "dst")); err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Fatalf("err = %v", err)
		}
		if got, _ := os.ReadFile(tmp); string(got) != "new" {
			t.Fatal("the finished file was lost")
		}
	})
}
