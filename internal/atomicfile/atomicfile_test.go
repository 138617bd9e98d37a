package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteReplacesAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "new" {
		t.Fatalf("content %q, want %q", got, "new")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only out.txt", len(entries))
	}
}

func TestWriteFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, 0o644, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "old" {
		t.Fatalf("content %q after failed write, want the old one", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries after failure, want 1", len(entries))
	}
}

// TestRecoverDirFromEveryState: each state a crash in ReplaceDir can leave
// is restored to the newest complete copy, and CompleteDir finds that copy
// without changing anything.
func TestRecoverDirFromEveryState(t *testing.T) {
	cases := []struct {
		name  string
		have  map[string]string // dir suffix -> content of its file
		want  string            // content after recovery ("" = no dir)
		found bool
	}{
		{"saved", map[string]string{"": "new"}, "new", true},
		{"writing tmp", map[string]string{"": "old", ".tmp": "partial"}, "old", true},
		{"between renames", map[string]string{".old": "old", ".tmp": "new"}, "new", true},
		{"before removing old", map[string]string{"": "new", ".old": "old"}, "new", true},
		{"old alone", map[string]string{".old": "old"}, "old", true},
		{"first save cut short", map[string]string{".tmp": "partial"}, "", false},
		{"nothing", map[string]string{}, "", false},
	}
	for _, c := range cases {
		root := t.TempDir()
		dir := filepath.Join(root, "last")
		for suffix, content := range c.have {
			os.MkdirAll(dir+suffix, 0o755)
			os.WriteFile(filepath.Join(dir+suffix, "f"), []byte(content), 0o644)
		}
		p, ok := CompleteDir(dir)
		if got, _ := os.ReadFile(filepath.Join(p, "f")); ok != c.found || (ok && string(got) != c.want) {
			t.Errorf("%s: CompleteDir = %s (%v) holding %q, want %q", c.name, p, ok, got, c.want)
		}
		if err := RecoverDir(dir); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "f"))
		if (err == nil) != c.found || string(got) != c.want {
			t.Errorf("%s: after recovery %q (%v), want %q", c.name, got, err, c.want)
		}
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			if e.Name() != "last" {
				t.Errorf("%s: %s left after recovery", c.name, e.Name())
			}
		}
	}
}

// TestReplaceDirStepsKeepACompleteCopy stops ReplaceDir before each of its
// steps (a panic stands for the kill) and checks that a complete copy,
// old or new, is found.
func TestReplaceDirStepsKeepACompleteCopy(t *testing.T) {
	fill := func(content string) func(string) error {
		return func(tmp string) error {
			os.MkdirAll(tmp, 0o755)
			return WriteFile(filepath.Join(tmp, "f"), []byte(content), 0o644)
		}
	}
	for stop := 1; ; stop++ {
		dir := filepath.Join(t.TempDir(), "last")
		if err := ReplaceDir(dir, fill("old"), nil); err != nil {
			t.Fatal(err)
		}
		n, name := 0, ""
		completed := func() (done bool) {
			defer func() { recover() }()
			ReplaceDir(dir, fill("new"), func(s string) {
				if n++; n == stop {
					name = s
					panic("killed")
				}
			})
			return true
		}()
		p, ok := CompleteDir(dir)
		got, _ := os.ReadFile(filepath.Join(p, "f"))
		if !ok || (string(got) != "old" && string(got) != "new") {
			t.Fatalf("stopped before %q: complete copy %s (%v) holds %q", name, p, ok, got)
		}
		if completed {
			if string(got) != "new" {
				t.Fatalf("finished replacement holds %q", got)
			}
			break
		}
	}
}

func TestRemoveTempRemovesOnlyTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".metrics.json.tmp-123", "metrics.json", ".keep", "a.tmp-1"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	if err := RemoveTemp(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{".keep", "a.tmp-1", "metrics.json"}; !slices.Equal(names, want) {
		t.Errorf("left %v, want %v", names, want)
	}
}
