package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// marker is the file the tests' copies hold when complete.
const marker = "state.json"

// makeCopy writes a copy of a checkpoint at p: a file f holding content,
// and the marker when complete.
func makeCopy(t *testing.T, p, content string, complete bool) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "f"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if complete {
		if err := os.WriteFile(filepath.Join(p, marker), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecoverDirTable: every combination of last/, last.tmp/ and last.old/
// being complete, partial or absent. CompleteDir names the newest complete
// copy (last.tmp, then last, then last.old) without changing anything;
// RecoverDir moves that copy to last/, removes the partial ones, and never
// removes a complete copy unless a newer complete one is kept at last/;
// with no complete copy, nothing is left.
func TestRecoverDirTable(t *testing.T) {
	const (
		absent = iota
		partial
		complete
	)
	word := []string{"absent", "partial", "complete"}
	names := []string{TmpSuffix, "", OldSuffix} // newest first
	n := 0
	for st := range 27 {
		state := [3]int{st % 3, st / 3 % 3, st / 9} // tmp, dir, old
		var desc []string
		want := -1 // index into names of the copy that resumes
		for i, s := range state {
			desc = append(desc, "last"+names[i]+" "+word[s])
			if s == complete && want < 0 {
				want = i
			}
		}
		t.Run(strings.Join(desc, ", "), func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "last")
			for i, s := range state {
				if s != absent {
					makeCopy(t, dir+names[i], "last"+names[i], s == complete)
				}
			}
			p, ok := CompleteDir(dir, marker)
			if ok != (want >= 0) || (ok && p != dir+names[want]) {
				t.Fatalf("CompleteDir = %s, %v; want the newest complete copy", p, ok)
			}
			for i, s := range state { // CompleteDir changed nothing
				if _, err := os.Stat(dir + names[i]); (err == nil) != (s != absent) {
					t.Fatalf("CompleteDir changed last%s", names[i])
				}
			}
			if err := RecoverDir(dir, marker); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "f"))
			if want < 0 {
				if err == nil {
					t.Fatalf("no complete copy, yet last/ holds %q", got)
				}
			} else if string(got) != "last"+names[want] || !Complete(dir, marker) {
				t.Fatalf("last/ holds %q (complete %v), want the complete last%s", got, Complete(dir, marker), names[want])
			}
			entries, _ := os.ReadDir(root)
			for _, e := range entries {
				if e.Name() != "last" {
					t.Errorf("%s left after recovery", e.Name())
				}
			}
			// Recovering again changes nothing.
			if err := RecoverDir(dir, marker); err != nil {
				t.Fatal(err)
			}
			if again, _ := os.ReadFile(filepath.Join(dir, "f")); string(again) != string(got) {
				t.Fatalf("second recovery: %q, was %q", again, got)
			}
		})
		n++
	}
	if n != 27 {
		t.Fatalf("%d states", n)
	}
}

// TestReplaceDirStepsKeepACompleteCopy stops ReplaceDir before each of its
// steps (a panic stands for the kill) and checks that a complete copy,
// old or new, is found, and that recovering from there keeps it.
func TestReplaceDirStepsKeepACompleteCopy(t *testing.T) {
	fill := func(content string) func(string) error {
		return func(tmp string) error {
			os.MkdirAll(tmp, 0o755)
			if err := WriteFile(filepath.Join(tmp, "f"), []byte(content), 0o644); err != nil {
				return err
			}
			return WriteFile(filepath.Join(tmp, marker), nil, 0o644)
		}
	}
	for stop := 1; ; stop++ {
		dir := filepath.Join(t.TempDir(), "last")
		if err := ReplaceDir(dir, marker, fill("old"), nil); err != nil {
			t.Fatal(err)
		}
		n, name := 0, ""
		completed := func() (done bool) {
			defer func() { recover() }()
			ReplaceDir(dir, marker, fill("new"), func(s string) {
				if n++; n == stop {
					name = s
					panic("killed")
				}
			})
			return true
		}()
		p, ok := CompleteDir(dir, marker)
		got, _ := os.ReadFile(filepath.Join(p, "f"))
		if !ok || (string(got) != "old" && string(got) != "new") {
			t.Fatalf("stopped before %q: complete copy %s (%v) holds %q", name, p, ok, got)
		}
		if err := RecoverDir(dir, marker); err != nil {
			t.Fatal(err)
		}
		if again, _ := os.ReadFile(filepath.Join(dir, "f")); string(again) != string(got) {
			t.Fatalf("stopped before %q: recovered %q, CompleteDir found %q", name, again, got)
		}
		if completed {
			if string(got) != "new" {
				t.Fatalf("finished replacement holds %q", got)
			}
			break
		}
	}
}

// TestReplaceDirNeedsTheMarker: a fill that does not write the marker
// leaves the old copy in place.
func TestReplaceDirNeedsTheMarker(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "last")
	makeCopy(t, dir, "old", true)
	err := ReplaceDir(dir, marker, func(tmp string) error {
		return WriteFile(filepath.Join(tmp, "f"), []byte("new"), 0o644)
	}, nil)
	if err == nil || !strings.Contains(err.Error(), marker) {
		t.Fatalf("err = %v, want one naming %s", err, marker)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); string(got) != "old" {
		t.Fatalf("last/ holds %q", got)
	}
	if _, err := os.Stat(dir + TmpSuffix); err == nil {
		t.Fatal("last.tmp left")
	}
}

// TestDiscardCutShortLooksIncomplete: a removal that stops after its first
// step (the marker) leaves a copy that is no longer complete.
func TestDiscardCutShortLooksIncomplete(t *testing.T) {
	p := filepath.Join(t.TempDir(), "last.old")
	makeCopy(t, p, "old", true)
	if err := os.Remove(filepath.Join(p, marker)); err != nil { // discard's first step
		t.Fatal(err)
	}
	if Complete(p, marker) {
		t.Fatal("copy without its marker counts as complete")
	}
	if err := discard(p, marker); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err == nil {
		t.Fatal("copy left")
	}
}

func TestMoveDir(t *testing.T) {
	build := func(t *testing.T, root, content string) string {
		b, err := os.MkdirTemp(root, ".build-")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(b, "f"), []byte(content), 0o644)
		return b
	}
	read := func(p string) string { b, _ := os.ReadFile(filepath.Join(p, "f")); return string(b) }
	t.Run("absent", func(t *testing.T) {
		root := t.TempDir()
		if err := MoveDir(build(t, root, "new"), filepath.Join(root, "RTE")); err != nil {
			t.Fatal(err)
		}
		if got := read(filepath.Join(root, "RTE")); got != "new" {
			t.Fatalf("holds %q", got)
		}
	})
	t.Run("directory", func(t *testing.T) {
		root := t.TempDir()
		target := filepath.Join(root, "RTE")
		makeCopy(t, target, "old", false)
		if err := MoveDir(build(t, root, "new"), target); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(root)
		if got := read(target); got != "new" || len(entries) != 1 {
			t.Fatalf("holds %q, %d entries", got, len(entries))
		}
	})
	t.Run("link to a directory", func(t *testing.T) {
		root := t.TempDir()
		real := filepath.Join(root, "disk", "RTE")
		makeCopy(t, real, "old", false)
		link := filepath.Join(root, "RTE")
		os.Symlink(filepath.Join("disk", "RTE"), link)
		if err := MoveDir(build(t, root, "new"), link); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Fatal("the link was replaced")
		}
		if got := read(real); got != "new" {
			t.Fatalf("the link's directory holds %q", got)
		}
	})
	t.Run("file", func(t *testing.T) {
		root := t.TempDir()
		target := filepath.Join(root, "RTE")
		os.WriteFile(target, []byte("mine"), 0o644)
		b := build(t, root, "new")
		err := MoveDir(b, target)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Fatalf("err = %v, want one line", err)
		}
		if got, _ := os.ReadFile(target); string(got) != "mine" {
			t.Fatalf("file holds %q", got)
		}
		if read(b) != "new" {
			t.Fatal("built directory lost")
		}
	})
}

func ExampleCompleteDir() {
	root, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(root)
	last := filepath.Join(root, "last")
	// A crash left a complete last.old beside a partial last.tmp.
	os.MkdirAll(last+OldSuffix, 0o755)
	os.WriteFile(filepath.Join(last+OldSuffix, marker), nil, 0o644)
	os.MkdirAll(last+TmpSuffix, 0o755)
	p, ok := CompleteDir(last, marker)
	fmt.Println(filepath.Base(p), ok)
	// Output: last.old true
}
