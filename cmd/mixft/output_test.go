package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// vocabInput writes a small text file for mixft vocab.
func vocabInput(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "text.tsv")
	if err := os.WriteFile(p, []byte("the cat sat\tthe dog ran\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOutputTargets: what an output path names decides how the command
// writes it (atomicfile.Write): through a symbolic link, streamed into a
// named pipe or a character device, to stdout for -, refused for a
// directory; nothing else at the path changes.
func TestOutputTargets(t *testing.T) {
	in := vocabInput(t)
	vocab := func(out string) (int, string, string) {
		return mixft(t, "vocab", "--size", "30", "--out", out, in)
	}
	isVocab := func(s string) bool { return strings.HasPrefix(s, "[PAD]\n") && strings.Contains(s, "\ncat\n") }

	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		link := filepath.Join(dir, "vocab.txt")
		os.Symlink("real.txt", link)
		if code, _, stderr := vocab(link); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		st, err := os.Lstat(link)
		got, _ := os.ReadFile(filepath.Join(dir, "real.txt"))
		if err != nil || st.Mode()&os.ModeSymlink == 0 || !isVocab(string(got)) {
			t.Fatalf("link %v, target holds %q", err, got)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "pipe")
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		read := make(chan string)
		go func() {
			f, err := os.Open(p)
			if err != nil {
				read <- err.Error()
				return
			}
			b, _ := io.ReadAll(f)
			f.Close()
			read <- string(b)
		}()
		if code, _, stderr := vocab(p); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if got := <-read; !isVocab(got) {
			t.Fatalf("reader got %q", got)
		}
		if st, _ := os.Lstat(p); st.Mode()&os.ModeNamedPipe == 0 {
			t.Fatalf("pipe became %v", st.Mode())
		}
	})
	t.Run("character device", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "null") // a private /dev/null: (1, 3)
		if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Skipf("mknod (needs root): %v", err)
		}
		if code, _, stderr := vocab(p); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if st, _ := os.Lstat(p); st.Mode()&os.ModeCharDevice == 0 {
			t.Fatalf("device became %v", st.Mode())
		}
	})
	t.Run("stdout", func(t *testing.T) {
		code, stdout, stderr := vocab("-")
		if code != 0 || !isVocab(stdout) || !strings.Contains(stderr, "wrote -") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "keep"), nil, 0o644)
		code, _, stderr := vocab(dir)
		if code == 0 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, dir+": is a directory") {
			t.Fatalf("exit %d: %q", code, stderr)
		}
		if es, _ := os.ReadDir(dir); len(es) != 1 {
			t.Fatalf("directory holds %d entries", len(es))
		}
	})
}

// TestOutputFoldersAreCreated: predict --output dir/x and eval --split test
// --output-dir DIR write into folders that do not exist yet.
func TestOutputFoldersAreCreated(t *testing.T) {
	model := tinyCheckpoint(t)
	data := t.TempDir()
	test := filepath.Join(data, "test.tsv")
	os.WriteFile(test, []byte("index\tsentence1\tsentence2\n0\tthe cat sat\tthe cat\n1\tthe cat\tsat\n"), 0o644)
	root := t.TempDir()

	preds := filepath.Join(root, "preds", "rte", "test.jsonl")
	if code, _, stderr := mixft(t, "predict", "--model", model, "--task", "rte", "--input", test, "--split", "test", "--output", preds); code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(preds); strings.Count(string(b), "\n") != 2 {
		t.Fatalf("predictions: %q", b)
	}
	sub := filepath.Join(root, "submission") + "/"
	if code, _, stderr := mixft(t, "eval", "--model", model, "--task", "rte", "--data-dir", data, "--split", "test", "--output-dir", sub); code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(sub, "RTE.tsv")); !strings.HasPrefix(string(b), "index\tprediction\n") {
		t.Fatalf("submission: %q", b)
	}
}
