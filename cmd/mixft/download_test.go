package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mixft/mixft/internal/hub"
	"github.com/mixft/mixft/internal/model"
)

// hubServer serves dir's files in the hub's resolve layout: model weights
// as a redirect to /cdn/<sha256> with X-Linked-Etag and X-Linked-Size,
// the rest directly; token, when set, is required.
func hubServer(t *testing.T, repo, dir, token string) *httptest.Server {
	t.Helper()
	const commit = "aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd"
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sha, ok := strings.CutPrefix(r.URL.Path, "/cdn/"); ok {
			b, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
			if err != nil || sha256Hex(b) != sha {
				http.NotFound(w, r)
				return
			}
			http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(b))
			return
		}
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		file, ok := strings.CutPrefix(r.URL.Path, "/"+repo+"/resolve/main/")
		if !ok {
			file, ok = strings.CutPrefix(r.URL.Path, "/"+repo+"/resolve/"+commit+"/")
		}
		if !ok {
			w.Header().Set("X-Error-Code", "RepositoryNotFound")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("X-Repo-Commit", commit)
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if file == "model.safetensors" {
			w.Header().Set("X-Linked-Etag", `"`+sha256Hex(b)+`"`)
			w.Header().Set("X-Linked-Size", strconv.Itoa(len(b)))
			w.Header().Set("Location", srv.URL+"/cdn/"+sha256Hex(b))
			w.WriteHeader(http.StatusFound)
			return
		}
		http.ServeContent(w, r, file, time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// isolateHF points the Hugging Face variables at a fresh cache.
func isolateHF(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "HF_ENDPOINT"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return home
}

// tinyCheckpoint writes a real (random) BERT checkpoint with mixft init.
func tinyCheckpoint(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	vocab := filepath.Join(tmp, "vocab.txt")
	os.WriteFile(vocab, []byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nsat\n"), 0o644)
	out := filepath.Join(tmp, "model")
	if code, _, stderr := mixft(t, "init", "--preset", "tiny", "--vocab", vocab, "--task", "rte", "--out", out); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	return out
}

// TestDownloadModelCommand: a checkpoint served in the hub's layout is
// downloaded into HF_HOME, printed, found by hub.ResolveModel, and loads.
func TestDownloadModelCommand(t *testing.T) {
	home := isolateHF(t)
	src := tinyCheckpoint(t)
	srv := hubServer(t, "org/tiny-bert", src, "")

	code, stdout, stderr := mixft(t, "download", "model", "org/tiny-bert", "--endpoint", srv.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	dir := strings.TrimSpace(stdout)
	if !strings.HasPrefix(dir, filepath.Join(home, "hub", "models--org--tiny-bert", "snapshots")) {
		t.Fatalf("printed %q", stdout)
	}
	if got, err := hub.ResolveModel("org/tiny-bert", nil); err != nil || got != dir {
		t.Fatalf("ResolveModel: %q %v", got, err)
	}
	for _, f := range []string{"config.json", "vocab.txt", "model.safetensors"} {
		a, _ := os.ReadFile(filepath.Join(src, f))
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from the served file", f)
		}
	}
	if _, err := model.Load(dir, model.LoadOptions{}); err != nil {
		t.Fatalf("loading the downloaded snapshot: %v", err)
	}

	// Offline: served from the cache; an uncached model is a clear error.
	t.Setenv("HF_HUB_OFFLINE", "1")
	srv.Close()
	code, stdout, _ = mixft(t, "download", "model", "org/tiny-bert", "--endpoint", srv.URL)
	if code != 0 || strings.TrimSpace(stdout) != dir {
		t.Fatalf("offline: %d %q", code, stdout)
	}
	code, _, stderr = mixft(t, "download", "model", "org/other", "--endpoint", srv.URL)
	if code == 0 || !strings.Contains(stderr, "HF_HUB_OFFLINE") {
		t.Fatalf("offline, not cached: %d %q", code, stderr)
	}
}

func TestDownloadModelNeedsToken(t *testing.T) {
	isolateHF(t)
	src := tinyCheckpoint(t)
	srv := hubServer(t, "org/gated", src, "hf_abc")
	code, _, stderr := mixft(t, "download", "model", "org/gated", "--endpoint", srv.URL)
	if code == 0 || !strings.Contains(stderr, "gated or private") || !strings.Contains(stderr, "HF_TOKEN") {
		t.Fatalf("without token: %d %q", code, stderr)
	}
	t.Setenv("HF_TOKEN", "hf_abc")
	t.Setenv("HF_ENDPOINT", srv.URL) // the endpoint from the environment
	if code, _, stderr := mixft(t, "download", "model", "org/gated"); code != 0 {
		t.Fatalf("with HF_TOKEN: %s", stderr)
	}
	code, _, stderr = mixft(t, "download", "model", "org/missing")
	if code == 0 || !strings.Contains(stderr, "org/missing") {
		t.Fatalf("missing repo: %d %q", code, stderr)
	}
}

// TestDownloadGlueCommand builds MRPC from the official source files
// served by a local mirror (MIXFT_GLUE_BASE_URL) and compares with GLUE's.
func TestDownloadGlueCommand(t *testing.T) {
	needShared(t)
	mrpc := filepath.Join(shared, "glue", "MRPC")
	files := map[string]string{
		"/msr_paraphrase_train.txt": "msr_paraphrase_train.txt",
		"/msr_paraphrase_test.txt":  "msr_paraphrase_test.txt",
		"/mrpc_dev_ids.tsv":         "dev_ids.tsv",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(mrpc, name))
	}))
	defer srv.Close()
	t.Setenv("MIXFT_GLUE_BASE_URL", srv.URL)
	dataDir := filepath.Join(t.TempDir(), "glue_data")
	code, stdout, stderr := mixft(t, "download", "glue", "--task", "mrpc", "--data-dir", dataDir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.TrimSpace(stdout) != filepath.Join(dataDir, "MRPC") {
		t.Fatalf("printed %q", stdout)
	}
	for _, f := range []string{"train.tsv", "dev.tsv", "test.tsv"} {
		want, _ := os.ReadFile(filepath.Join(mrpc, f))
		got, err := os.ReadFile(filepath.Join(dataDir, "MRPC", f))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("MRPC/%s differs from GLUE's (%v)", f, err)
		}
	}
	// The folder is what eval reads: a second run skips it.
	code, _, stderr = mixft(t, "download", "glue", "--task", "mrpc", "--data-dir", dataDir)
	if code != 0 || !strings.Contains(stderr, "skipping") {
		t.Fatalf("second run: %d %q", code, stderr)
	}
	code, _, stderr = mixft(t, "download", "glue", "--task", "nope", "--data-dir", dataDir)
	if code == 0 || !strings.Contains(stderr, `unknown GLUE task "nope"`) {
		t.Fatalf("unknown task: %d %q", code, stderr)
	}
	code, _, stderr = mixft(t, "download", "glue", "--data-dir", dataDir)
	if code == 0 || !strings.Contains(stderr, "task: required (give --task") {
		t.Fatalf("no task: %d %q", code, stderr)
	}
}
