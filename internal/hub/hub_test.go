package hub

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testCommit = "0123456789abcdef0123456789abcdef01234567"

// fakeHub serves the hub's resolve URL layout: small files directly (ETag:
// the git blob id), LFS files as a 302 to /cdn/<sha256> with X-Linked-Etag
// and X-Linked-Size, as huggingface.co does.
type fakeHub struct {
	t      *testing.T
	srv    *httptest.Server
	repos  map[string]map[string][]byte // repo -> file -> bytes
	lfs    map[string]bool              // file names served through /cdn
	commit string
	token  string // required Bearer token when not ""

	mu          sync.Mutex
	log         []string          // "METHOD PATH RANGE"
	abortAfter  map[string]int    // sha -> bytes sent before the connection is cut (once)
	ignoreRange bool              // answer Range requests with 200 and the whole file
	fakeSHA     map[string]string // file -> sha256 reported instead of the real one
	auths       []string
}

func newFakeHub(t *testing.T) *fakeHub {
	h := &fakeHub{t: t, repos: map[string]map[string][]byte{}, lfs: map[string]bool{}, commit: testCommit,
		abortAfter: map[string]int{}, fakeSHA: map[string]string{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func sum256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func gitBlobID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func (h *fakeHub) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.log...)
}

func (h *fakeHub) count(prefix string) int {
	n := 0
	for _, r := range h.requests() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func (h *fakeHub) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.log = append(h.log, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+r.Header.Get("Range")))
	h.auths = append(h.auths, r.Header.Get("Authorization"))
	h.mu.Unlock()
	if sha, ok := strings.CutPrefix(r.URL.Path, "/cdn/"); ok {
		h.serveBlob(w, r, sha)
		return
	}
	repo, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/resolve/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	rev, file, _ := strings.Cut(rest, "/")
	files, ok := h.repos[repo]
	if !ok {
		if h.token == "" {
			w.Header().Set("X-Error-Code", "RepositoryNotFound")
			w.WriteHeader(http.StatusNotFound)
		} else { // the hub answers 401 for private or missing repos
			w.Header().Set("X-Error-Code", "RepositoryNotFound")
			w.WriteHeader(http.StatusUnauthorized)
		}
		return
	}
	if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token {
		w.Header().Set("X-Error-Code", "GatedRepo")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rev != "main" && rev != "v1.0" && rev != h.commit {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", h.commit)
	b, ok := files[file]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if h.lfs[file] {
		sha := sum256(b)
		h.blobs(sha, b)
		reported := sha
		if f, ok := h.fakeSHA[file]; ok {
			reported = f
		}
		w.Header().Set("X-Linked-Etag", `"`+reported+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(b)))
		w.Header().Set("Location", h.srv.URL+"/cdn/"+sha)
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+gitBlobID(b)+`"`)
	http.ServeContent(w, r, file, time.Time{}, bytes.NewReader(b))
}

var cdn sync.Map // sha -> []byte

func (h *fakeHub) blobs(sha string, b []byte) { cdn.Store(sha, b) }

func (h *fakeHub) serveBlob(w http.ResponseWriter, r *http.Request, sha string) {
	v, ok := cdn.Load(sha)
	if !ok {
		http.NotFound(w, r)
		return
	}
	b := v.([]byte)
	h.mu.Lock()
	cut, abort := h.abortAfter[sha]
	delete(h.abortAfter, sha)
	ignore := h.ignoreRange
	h.mu.Unlock()
	if abort {
		// Promise the whole file, send part of it, cut the connection.
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusOK)
		w.Write(b[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	if ignore {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusOK)
		w.Write(b)
		return
	}
	http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(b))
}

// tinyRepo is a model repository with an LFS weights file.
func tinyRepo(weights []byte) map[string][]byte {
	return map[string][]byte{
		"config.json":           []byte(`{"model_type":"bert","hidden_size":4}`),
		"vocab.txt":             []byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n"),
		"tokenizer_config.json": []byte(`{"do_lower_case":true}`),
		"model.safetensors":     weights,
	}
}

func weightsBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// isolate points every Hugging Face variable at a fresh folder.
func isolate(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "HF_ENDPOINT"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return home
}

func opts(h *fakeHub) Options {
	return Options{Endpoint: h.srv.URL, RetryDelay: time.Millisecond, Retries: 2}
}

func TestDownloadFullModelThenResolve(t *testing.T) {
	home := isolate(t)
	h := newFakeHub(t)
	weights := weightsBytes(100_000)
	h.repos["org/tiny"] = tinyRepo(weights)
	h.lfs["model.safetensors"] = true

	var logBuf bytes.Buffer
	o := opts(h)
	o.Log = &logBuf
	var progressed bool
	o.Progress = func(file string, done, total int64) {
		if file == "model.safetensors" && done == total && total == int64(len(weights)) {
			progressed = true
		}
	}
	dir, err := Download(context.Background(), "org/tiny", "main", o)
	if err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(home, "hub", "models--org--tiny")
	if want := filepath.Join(folder, "snapshots", testCommit); dir != want {
		t.Fatalf("dir %s, want %s", dir, want)
	}
	if !progressed {
		t.Error("no progress reported for model.safetensors")
	}
	ref, err := os.ReadFile(filepath.Join(folder, "refs", "main"))
	if err != nil || string(ref) != testCommit {
		t.Fatalf("refs/main = %q, %v", ref, err)
	}
	for name, content := range h.repos["org/tiny"] {
		p := filepath.Join(dir, name)
		target, err := os.Readlink(p)
		if err != nil {
			t.Fatalf("%s is not a symlink: %v", name, err)
		}
		blobID := gitBlobID(content)
		if name == "model.safetensors" {
			blobID = sum256(content)
		}
		if want := filepath.Join("..", "..", "blobs", blobID); target != want {
			t.Errorf("%s -> %s, want %s", name, target, want)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("%s: content differs (%v)", name, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(folder, "blobs"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".incomplete") {
			t.Errorf("left %s", e.Name())
		}
	}

	got, err := ResolveModel("org/tiny", nil)
	if err != nil || got != dir {
		t.Fatalf("ResolveModel = %q, %v; want %s", got, err, dir)
	}

	// Again: only the metadata requests, no file body.
	before := h.count("GET")
	dir2, err := Download(context.Background(), "org/tiny", "main", opts(h))
	if err != nil || dir2 != dir {
		t.Fatalf("second download: %q %v", dir2, err)
	}
	if n := h.count("GET") - before; n != 0 {
		t.Errorf("second download made %d GET requests, want 0 (files are cached)", n)
	}
}

func TestLegacyNameMapsToCanonicalRepo(t *testing.T) {
	home := isolate(t)
	h := newFakeHub(t)
	h.repos["google-bert/bert-base-uncased"] = tinyRepo(weightsBytes(1000))
	dir, err := Download(context.Background(), "bert-base-uncased", "", opts(h))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dir, "models--google-bert--bert-base-uncased") {
		t.Fatalf("stored in %s", dir)
	}
	for _, name := range []string{"bert-base-uncased", "google-bert/bert-base-uncased"} {
		if got, err := ResolveModel(name, nil); err != nil || got != dir {
			t.Errorf("ResolveModel(%s) = %q, %v", name, got, err)
		}
	}

	// A transformers cache that kept the legacy name's folder is found too.
	legacy := filepath.Join(home, "hub", "models--bert-large-cased")
	snap := filepath.Join(legacy, "snapshots", "abc")
	os.MkdirAll(snap, 0o755)
	os.MkdirAll(filepath.Join(legacy, "refs"), 0o755)
	os.WriteFile(filepath.Join(legacy, "refs", "main"), []byte("abc"), 0o644)
	for _, f := range []string{"config.json", "vocab.txt", "model.safetensors"} {
		os.WriteFile(filepath.Join(snap, f), []byte("x"), 0o644)
	}
	if got, err := ResolveModel("bert-large-cased", nil); err != nil || got != snap {
		t.Errorf("legacy folder: %q, %v", got, err)
	}
}

func TestResumeAfterConnectionCut(t *testing.T) {
	isolate(t)
	h := newFakeHub(t)
	weights := weightsBytes(300_000)
	h.repos["org/tiny"] = tinyRepo(weights)
	h.lfs["model.safetensors"] = true
	sha := sum256(weights)
	const cut = 120_000
	h.abortAfter[sha] = cut

	var logBuf bytes.Buffer
	o := opts(h)
	o.Log = &logBuf
	dir, err := Download(context.Background(), "org/tiny", "main", o)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if !bytes.Equal(got, weights) {
		t.Fatal("resumed file differs")
	}
	want := fmt.Sprintf("GET /cdn/%s bytes=%d-", sha, cut)
	found := false
	for _, r := range h.requests() {
		found = found || r == want
	}
	if !found {
		t.Fatalf("no %q request; requests: %q\nlog:\n%s", want, h.requests(), logBuf.String())
	}
}

func TestResumeAcrossRuns(t *testing.T) {
	home := isolate(t)
	h := newFakeHub(t)
	weights := weightsBytes(200_000)
	h.repos["org/tiny"] = tinyRepo(weights)
	h.lfs["model.safetensors"] = true
	sha := sum256(weights)
	h.abortAfter[sha] = 50_000

	o := opts(h)
	o.Retries = -1 // no retry: the first run fails
	_, err := Download(context.Background(), "org/tiny", "main", o)
	if err == nil || !strings.Contains(err.Error(), "again to resume") {
		t.Fatalf("interrupted download: err = %v", err)
	}
	part := filepath.Join(home, "hub", "models--org--tiny", "blobs", sha+".incomplete")
	if st, err := os.Stat(part); err != nil || st.Size() != 50_000 {
		t.Fatalf("partial file: %v %v", st, err)
	}
	if _, err := ResolveModel("org/tiny", nil); err == nil {
		t.Fatal("an incomplete snapshot resolved")
	}
	dir, err := Download(context.Background(), "org/tiny", "main", o)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, weights) {
		t.Fatal("resumed file differs")
	}
	if h.count(fmt.Sprintf("GET /cdn/%s bytes=50000-", sha)) != 1 {
		t.Fatalf("second run did not resume with Range: %q", h.requests())
	}
}

func TestServerIgnoringRange(t *testing.T) {
	home := isolate(t)
	h := newFakeHub(t)
	weights := weightsBytes(100_000)
	h.repos["org/tiny"] = tinyRepo(weights)
	h.lfs["model.safetensors"] = true
	h.ignoreRange = true
	sha := sum256(weights)
	blobs := filepath.Join(home, "hub", "models--org--tiny", "blobs")
	os.MkdirAll(blobs, 0o755)
	os.WriteFile(filepath.Join(blobs, sha+".incomplete"), weights[:40_000], 0o644)
	dir, err := Download(context.Background(), "org/tiny", "main", opts(h))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, weights) {
		t.Fatal("file differs after a 200 answer to a Range request")
	}
}

func TestWrongChecksumPlacesNothing(t *testing.T) {
	home := isolate(t)
	h := newFakeHub(t)
	weights := weightsBytes(50_000)
	h.repos["org/tiny"] = tinyRepo(weights)
	h.lfs["model.safetensors"] = true
	bad := sum256([]byte("something else"))
	h.fakeSHA["model.safetensors"] = bad
	_, err := Download(context.Background(), "org/tiny", "main", opts(h))
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.WantSHA256 != bad || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("err = %v, want a checksum error", err)
	}
	folder := filepath.Join(home, "hub", "models--org--tiny")
	for _, p := range []string{
		filepath.Join(folder, "blobs", bad),
		filepath.Join(folder, "blobs", bad+".incomplete"),
		filepath.Join(folder, "snapshots", testCommit, "model.safetensors"),
	} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists after a checksum failure", p)
		}
	}
	if _, err := ResolveModel("org/tiny", nil); err == nil {
		t.Error("model resolved after a failed download")
	}
}

func TestNotFound(t *testing.T) {
	isolate(t)
	h := newFakeHub(t)
	files := tinyRepo(weightsBytes(10))
	delete(files, "vocab.txt")
	h.repos["org/novocab"] = files

	_, err := Download(context.Background(), "org/missing", "main", opts(h))
	if err == nil || !strings.Contains(err.Error(), "repository org/missing not found") {
		t.Errorf("missing repo: %v", err)
	}
	_, err = Download(context.Background(), "org/novocab", "main", opts(h))
	if err == nil || !strings.Contains(err.Error(), "org/novocab@main has no tokenizer files: expected vocab.txt (WordPiece), tokenizer.json, vocab.json and merges.txt (byte-level BPE), or a SentencePiece model spm.model, spiece.model or sentencepiece.bpe.model") {
		t.Errorf("missing tokenizer: %v", err)
	}
	// A byte-level BPE repository (RoBERTa's files, no vocab.txt) downloads.
	files["vocab.json"], files["merges.txt"] = []byte(`{"a": 0}`), []byte("#version: 0.2\n")
	h.repos["org/bpe"] = files
	dir, err := Download(context.Background(), "org/bpe", "main", opts(h))
	if err != nil {
		t.Fatalf("BPE repository: %v", err)
	}
	if err := CheckModelDir(dir); err != nil {
		t.Errorf("BPE repository: %v", err)
	}
	for _, f := range []string{"vocab.json", "merges.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("BPE repository: %v", err)
		}
	}
	delete(files, "vocab.json")
	delete(files, "merges.txt")
	// A SentencePiece repository (DeBERTa-v3's spm.model alone) downloads.
	spmFiles := tinyRepo(weightsBytes(10))
	delete(spmFiles, "vocab.txt")
	spmFiles["spm.model"] = []byte("model bytes")
	h.repos["org/spm"] = spmFiles
	dir, err = Download(context.Background(), "org/spm", "main", opts(h))
	if err != nil {
		t.Fatalf("SentencePiece repository: %v", err)
	}
	if err := CheckModelDir(dir); err != nil {
		t.Errorf("SentencePiece repository: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "spm.model")); err != nil {
		t.Errorf("SentencePiece repository: %v", err)
	}
	_, err = Download(context.Background(), "org/novocab", "nope", opts(h))
	if err == nil || !strings.Contains(err.Error(), "org/novocab has no revision nope") {
		t.Errorf("missing revision: %v", err)
	}
	// Neither weights file: name what mixft needs.
	delete(files, "model.safetensors")
	files["vocab.txt"] = []byte("a\n")
	_, err = Download(context.Background(), "org/novocab", "main", opts(h))
	if err == nil || !strings.Contains(err.Error(), "none of model.safetensors, model.safetensors.index.json or pytorch_model.bin") {
		t.Errorf("no weights: %v", err)
	}
	// An older repository with pytorch_model.bin only: fetched.
	files["pytorch_model.bin"] = []byte("state dict")
	dir, err = Download(context.Background(), "org/novocab", "main", opts(h))
	if err != nil {
		t.Fatalf("pytorch_model.bin only: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "pytorch_model.bin")); err != nil || string(b) != "state dict" {
		t.Errorf("pytorch_model.bin only: %q %v", b, err)
	}
}

func TestGatedRepoNeedsToken(t *testing.T) {
	home := isolate(t)
	h := newFakeHub(t)
	h.repos["org/gated"] = tinyRepo(weightsBytes(5000))
	h.lfs["model.safetensors"] = true
	h.token = "hf_secret"

	_, err := Download(context.Background(), "org/gated", "main", opts(h))
	if err == nil || !strings.Contains(err.Error(), "gated or private") || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Fatalf("without token: %v", err)
	}
	t.Setenv("HF_TOKEN", "hf_wrong")
	_, err = Download(context.Background(), "org/gated", "main", opts(h))
	if err == nil || !strings.Contains(err.Error(), "with the token from HF_TOKEN") {
		t.Fatalf("wrong token: %v", err)
	}
	t.Setenv("HF_TOKEN", "hf_secret")
	if _, err := Download(context.Background(), "org/gated", "main", opts(h)); err != nil {
		t.Fatalf("with HF_TOKEN: %v", err)
	}

	// The token file huggingface-cli login writes serves too.
	os.Unsetenv("HF_TOKEN")
	os.WriteFile(filepath.Join(home, "token"), []byte("hf_secret\n"), 0o600)
	os.RemoveAll(filepath.Join(home, "hub"))
	if _, err := Download(context.Background(), "org/gated", "main", opts(h)); err != nil {
		t.Fatalf("with HF_HOME/token: %v", err)
	}
}

func TestOffline(t *testing.T) {
	isolate(t)
	h := newFakeHub(t)
	h.repos["org/tiny"] = tinyRepo(weightsBytes(1000))
	dir, err := Download(context.Background(), "org/tiny", "main", opts(h))
	if err != nil {
		t.Fatal(err)
	}
	n := len(h.requests())
	t.Setenv("HF_HUB_OFFLINE", "1")
	got, err := Download(context.Background(), "org/tiny", "main", opts(h))
	if err != nil || got != dir {
		t.Fatalf("offline, cached: %q %v", got, err)
	}
	_, err = Download(context.Background(), "org/other", "main", opts(h))
	if err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") || !strings.Contains(err.Error(), "models--org--other") {
		t.Fatalf("offline, not cached: %v", err)
	}
	if m := len(h.requests()); m != n {
		t.Fatalf("offline mode made %d requests", m-n)
	}
	if got, err := ResolveModel("org/tiny", nil); err != nil || got != dir {
		t.Fatalf("ResolveModel offline: %q %v", got, err)
	}
}

func TestUnreachableHubUsesCache(t *testing.T) {
	isolate(t)
	h := newFakeHub(t)
	h.repos["org/tiny"] = tinyRepo(weightsBytes(1000))
	dir, err := Download(context.Background(), "org/tiny", "main", opts(h))
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Close()
	got, err := Download(context.Background(), "org/tiny", "main", opts(h))
	if err != nil || got != dir {
		t.Fatalf("hub down, cached: %q %v", got, err)
	}
	if _, err := Download(context.Background(), "org/other", "main", opts(h)); err == nil {
		t.Fatal("hub down, not cached: no error")
	}
}

func TestShardedModel(t *testing.T) {
	isolate(t)
	h := newFakeHub(t)
	files := tinyRepo(nil)
	delete(files, "model.safetensors")
	s1, s2 := weightsBytes(30_000), weightsBytes(20_000)
	files["model-00001-of-00002.safetensors"] = s1
	files["model-00002-of-00002.safetensors"] = s2
	files["model.safetensors.index.json"] = []byte(`{"metadata":{"total_size":50000},"weight_map":{
		"a.weight":"model-00001-of-00002.safetensors",
		"b.weight":"model-00002-of-00002.safetensors",
		"c.weight":"model-00001-of-00002.safetensors"}}`)
	h.repos["org/big"] = files
	h.lfs["model-00001-of-00002.safetensors"] = true
	h.lfs["model-00002-of-00002.safetensors"] = true

	dir, err := Download(context.Background(), "org/big", "main", opts(h))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"model-00001-of-00002.safetensors": s1, "model-00002-of-00002.safetensors": s2} {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(got, want) {
			t.Errorf("%s differs", name)
		}
	}
	if got, err := ResolveModel("org/big", nil); err != nil || got != dir {
		t.Fatalf("ResolveModel: %q %v", got, err)
	}
	// Removing a shard's blob makes the snapshot incomplete.
	os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors"))
	if _, err := ResolveModel("org/big", nil); err == nil || !strings.Contains(err.Error(), "model-00002-of-00002.safetensors") {
		t.Fatalf("missing shard: %v", err)
	}
}

func TestIndexNamingFilesOutsideRepoIsRefused(t *testing.T) {
	isolate(t)
	h := newFakeHub(t)
	files := tinyRepo(nil)
	delete(files, "model.safetensors")
	files["model.safetensors.index.json"] = []byte(`{"weight_map":{"a":"../../evil.safetensors"}}`)
	h.repos["org/evil"] = files
	_, err := Download(context.Background(), "org/evil", "main", opts(h))
	if err == nil || !strings.Contains(err.Error(), "not a relative path inside the repository") {
		t.Fatalf("err = %v", err)
	}
}

func TestTagRevisionWritesRef(t *testing.T) {
	home := isolate(t)
	h := newFakeHub(t)
	h.repos["org/tiny"] = tinyRepo(weightsBytes(100))
	dir, err := Download(context.Background(), "org/tiny", "v1.0", opts(h))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := os.ReadFile(filepath.Join(home, "hub", "models--org--tiny", "refs", "v1.0"))
	if string(ref) != testCommit {
		t.Fatalf("refs/v1.0 = %q", ref)
	}
	if got, err := ResolveModel("org/tiny@v1.0", nil); err != nil || got != dir {
		t.Fatalf("ResolveModel(org/tiny@v1.0) = %q %v", got, err)
	}
	if got, err := ResolveModel("org/tiny@"+testCommit, nil); err != nil || got != dir {
		t.Fatalf("ResolveModel by commit = %q %v", got, err)
	}
	if _, err := ResolveModel("org/tiny", nil); err == nil || !strings.Contains(err.Error(), "mixft download model org/tiny") {
		t.Fatalf("main not downloaded: %v", err)
	}
}

func TestCacheDirEnvironment(t *testing.T) {
	isolate(t)
	os.Unsetenv("HF_HOME")
	t.Setenv("HOME", "/home/u")
	t.Setenv("XDG_CACHE_HOME", "")
	os.Unsetenv("XDG_CACHE_HOME")
	if got := CacheDir(); got != "/home/u/.cache/huggingface/hub" {
		t.Errorf("default: %s", got)
	}
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := CacheDir(); got != "/xdg/huggingface/hub" {
		t.Errorf("XDG_CACHE_HOME: %s", got)
	}
	t.Setenv("HF_HOME", "/hf")
	if got := CacheDir(); got != "/hf/hub" {
		t.Errorf("HF_HOME: %s", got)
	}
	t.Setenv("HF_HUB_CACHE", "/cache")
	if got := CacheDir(); got != "/cache" {
		t.Errorf("HF_HUB_CACHE: %s", got)
	}
}

func TestResolveModelDirectoryAndErrors(t *testing.T) {
	home := isolate(t)
	dir := t.TempDir()
	if got, err := ResolveModel(dir, nil); err != nil || got != dir {
		t.Fatalf("directory: %q %v", got, err)
	}
	// A checkpoint save cut short between its renames: last.old and a
	// complete last.tmp (config.json, written last); the newer, last.tmp,
	// is loaded. Before last.tmp is complete, last.old is.
	last := filepath.Join(dir, "last")
	for _, suffix := range []string{".old", ".tmp"} {
		os.MkdirAll(last+suffix, 0o755)
		os.WriteFile(filepath.Join(last+suffix, ConfigFile), []byte("{}"), 0o644)
	}
	var warned string
	if got, err := ResolveModel(last, func(msg string) { warned = msg }); err != nil || got != last+".tmp" {
		t.Fatalf("interrupted save: %q %v, want %s.tmp", got, err, last)
	}
	if !strings.Contains(warned, "using the complete copy "+last+".tmp") {
		t.Errorf("interrupted save: warning %q does not name the copy used", warned)
	}
	os.Remove(filepath.Join(last+".tmp", ConfigFile))
	if got, err := ResolveModel(last, nil); err != nil || got != last+".old" {
		t.Fatalf("partial last.tmp: %q %v, want %s.old", got, err, last)
	}
	_, err := ResolveModel("bert-large-uncased", nil)
	if err == nil {
		t.Fatal("no error for a model not in the cache")
	}
	for _, want := range []string{
		"google-bert/bert-large-uncased@main",
		filepath.Join(home, "hub", "models--google-bert--bert-large-uncased"),
		"`mixft download model bert-large-uncased`",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	_, err = ResolveModel("runs/rte/best", nil)
	if err == nil || !strings.Contains(err.Error(), "model directory runs/rte/best does not exist") {
		t.Errorf("missing path: %v", err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := ResolveModel(f, nil); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("file: %v", err)
	}
}

func TestRepoAndRevisionValidation(t *testing.T) {
	for _, bad := range []string{"", "a/b/c", "../x", "org/..", "org/-x", "org/x.", "a b"} {
		if _, err := CanonicalRepo(bad); err == nil {
			t.Errorf("CanonicalRepo(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", "/abs", "a/../b", "..", `a\b`} {
		if validRevision(bad) == nil {
			t.Errorf("revision %q accepted", bad)
		}
	}
	if c, err := CanonicalRepo("bert-base-cased"); err != nil || c != "google-bert/bert-base-cased" {
		t.Errorf("legacy: %q %v", c, err)
	}
	if c, err := CanonicalRepo("prajjwal1/bert-tiny"); err != nil || c != "prajjwal1/bert-tiny" {
		t.Errorf("org/name: %q %v", c, err)
	}
}

func TestFetchFileSizeMismatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("0123456789"))
	}))
	defer srv.Close()
	dst := filepath.Join(t.TempDir(), "f")
	_, err := FetchFile(context.Background(), srv.URL, dst, FetchOptions{Size: 5})
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	for _, p := range []string{dst, dst + ".incomplete"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
	sum, err := FetchFile(context.Background(), srv.URL, dst, FetchOptions{Size: -1, SHA256: sum256([]byte("0123456789"))})
	if err != nil || sum != sum256([]byte("0123456789")) {
		t.Fatalf("unknown size: %q %v", sum, err)
	}
}

// TestSilentServerTimesOut: a server that accepts and never answers, or
// stops in the middle of a body, fails the download after the time-out
// instead of blocking it (the watchdog only turns a hang into a failure).
func TestSilentServerTimesOut(t *testing.T) {
	isolate(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("0123456789"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	done := make(chan error, 2)
	go func() {
		_, err := Download(context.Background(), "org/m", "main", Options{Endpoint: srv.URL, Timeout: 50 * time.Millisecond, RetryDelay: time.Millisecond})
		done <- err
	}()
	go func() {
		_, err := FetchFile(context.Background(), srv.URL+"/f", filepath.Join(t.TempDir(), "f"), FetchOptions{Size: -1, Stall: 50 * time.Millisecond, Retries: 1, RetryDelay: time.Millisecond})
		done <- err
	}()
	for i := 0; i < 2; i++ {
		select {
		case err := <-done:
			var se *StallError
			if err == nil || (!strings.Contains(err.Error(), "timeout awaiting response headers") && !errors.As(err, &se)) {
				t.Errorf("err = %v, want a time-out", err)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("download still blocked after a minute")
		}
	}
}

// TestStalledBodyIsResumed: a body that stops sending is retried from the
// byte it reached.
func TestStalledBodyIsResumed(t *testing.T) {
	want := []byte(strings.Repeat("mixout ", 1000))
	var mu sync.Mutex
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := len(ranges) == 0
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		if first {
			w.Header().Set("Content-Length", strconv.Itoa(len(want)))
			w.Write(want[:3000])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(want))
	}))
	defer srv.Close()
	dst := filepath.Join(t.TempDir(), "f")
	var notes []string
	sum, err := FetchFile(context.Background(), srv.URL, dst, FetchOptions{Size: int64(len(want)), Stall: 50 * time.Millisecond, Retries: 2, RetryDelay: time.Millisecond,
		Logf: func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }})
	if err != nil || sum != sum256(want) {
		t.Fatalf("sum %q err %v", sum, err)
	}
	if len(ranges) != 2 || ranges[1] != "bytes=3000-" {
		t.Errorf("requests with Range %q, want a resume at byte 3000", ranges)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "stalled") {
		t.Errorf("notes %q do not say it stalled", notes)
	}
}
