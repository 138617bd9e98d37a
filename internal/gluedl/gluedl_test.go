package gluedl

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mixft/mixft/internal/fixture"
)

// sharedMRPC is ../shared/glue/MRPC (internal/fixture finds it).
var sharedMRPC = filepath.Join(fixture.Root(), "glue", "MRPC")

// needShared ends the test as internal/fixture says when the shared GLUE
// copy is missing.
func needShared(t *testing.T) {
	t.Helper()
	fixture.Path(t, "glue", "MRPC")
}

func readShared(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedMRPC, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFormatMRPCReproducesOfficialFiles: the conversion of the SentEval
// files gives GLUE's MRPC train/dev/test.tsv byte for byte.
func TestFormatMRPCReproducesOfficialFiles(t *testing.T) {
	needShared(t)
	train, dev, test, err := FormatMRPC(readShared(t, "msr_paraphrase_train.txt"),
		readShared(t, "msr_paraphrase_test.txt"), readShared(t, "dev_ids.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"train.tsv": train, "dev.tsv": dev, "test.tsv": test} {
		want := readShared(t, name)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, official %d; first difference at byte %d", name, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestFormatMRPCPythonSemantics(t *testing.T) {
	trainTxt := "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n" +
		"1\t10\t11\ta b\tc d \r\n" + // \r\n ends a line; trailing space stripped
		"0\t12\t13\te\tf\r" + // a lone \r ends a line too
		"1\t14\t15\tg\th" // no final newline
	testTxt := "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t20\t21\tx\ty\n0\t22\t23\tz\tw\n"
	devIDs := "12\t13\n \n99\t98\t97\n"
	train, dev, test, err := FormatMRPC([]byte(trainTxt), []byte(testTxt), []byte(devIDs))
	if err != nil {
		t.Fatal(err)
	}
	header := "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
	if want := header + "1\t10\t11\ta b\tc d\n1\t14\t15\tg\th\n"; string(train) != want {
		t.Errorf("train = %q, want %q", train, want)
	}
	if want := header + "0\t12\t13\te\tf\n"; string(dev) != want {
		t.Errorf("dev = %q, want %q", dev, want)
	}
	if want := MRPCTestHeader + "0\t20\t21\tx\ty\n1\t22\t23\tz\tw\n"; string(test) != want {
		t.Errorf("test = %q, want %q", test, want)
	}
	_, _, _, err = FormatMRPC([]byte("h\n1\t2\t3\n"), []byte(testTxt), []byte(devIDs))
	if err == nil || !strings.Contains(err.Error(), "msr_paraphrase_train.txt:2: 3 tab-separated fields, expected 5") {
		t.Errorf("short row: %v", err)
	}
}

// rows makes a TSV with a header and n rows.
func rows(header string, n int) string {
	var b strings.Builder
	if header != "" {
		b.WriteString(header + "\n")
	}
	for i := range n {
		fmt.Fprintf(&b, "%d\tsentence one %d\tsentence two\tentailment\n", i, i)
	}
	return b.String()
}

type zipEntry struct {
	name string
	body string
	mode fs.FileMode // 0: regular file
}

func makeZip(t *testing.T, entries []zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(e.body))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func rteZip(t *testing.T, trainRows int, extra ...zipEntry) []byte {
	h := "index\tsentence1\tsentence2\tlabel"
	entries := []zipEntry{
		{name: "RTE/", mode: fs.ModeDir | 0o755},
		{name: "RTE/train.tsv", body: rows(h, trainRows)},
		{name: "RTE/dev.tsv", body: rows(h, 277)},
		{name: "RTE/test.tsv", body: rows("index\tsentence1\tsentence2", 3000)},
	}
	return makeZip(t, append(entries, extra...))
}

// mirror serves files by name at /NAME, as Options.BaseURL expects, with
// Range support; cut[name] sends that many bytes once, then drops the
// connection; stall[name] sends that many bytes once, then nothing until
// the client gives up; busy[name] answers 503 that many times.
type mirror struct {
	srv   *httptest.Server
	files map[string][]byte
	mu    sync.Mutex
	cut   map[string]int
	stall map[string]int
	busy  map[string]int
	log   []string
}

func newMirror(t *testing.T, files map[string][]byte) *mirror {
	m := &mirror{files: files, cut: map[string]int{}, stall: map[string]int{}, busy: map[string]int{}}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		m.mu.Lock()
		m.log = append(m.log, strings.TrimSpace(r.URL.Path+" "+r.Header.Get("Range")))
		if m.busy[name] > 0 {
			m.busy[name]--
			m.mu.Unlock()
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		n, cut := m.cut[name]
		delete(m.cut, name)
		stallAt, stall := m.stall[name]
		delete(m.stall, name)
		m.mu.Unlock()
		b, ok := m.files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if stall {
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b[:stallAt])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		if cut {
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b[:n])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *mirror) opts() Options {
	return Options{BaseURL: m.srv.URL, SkipChecksums: true, RetryDelay: time.Millisecond, Retries: 2}
}

func TestDownloadZipTask(t *testing.T) {
	m := newMirror(t, map[string][]byte{"RTE.zip": rteZip(t, 2490, zipEntry{name: "__MACOSX/._RTE", body: "x"})})
	m.cut["RTE.zip"] = 1000
	dataDir := t.TempDir()
	res, err := Download(context.Background(), dataDir, []string{"rte"}, m.opts())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Dir != filepath.Join(dataDir, "RTE") || res[0].Skipped {
		t.Fatalf("results %+v", res)
	}
	if n, err := CountRows(filepath.Join(dataDir, "RTE", "train.tsv"), true); err != nil || n != 2490 {
		t.Fatalf("train rows %d %v", n, err)
	}
	resumed := false
	for _, l := range m.log {
		resumed = resumed || l == "/RTE.zip bytes=1000-"
	}
	if !resumed {
		t.Errorf("interrupted archive not resumed with Range: %q", m.log)
	}
	entries, _ := os.ReadDir(dataDir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %v, want only RTE (no staging or download leftovers)", names(entries))
	}
	// Again: skipped; with Force: replaced.
	res, err = Download(context.Background(), dataDir, []string{"rte"}, m.opts())
	if err != nil || !res[0].Skipped {
		t.Fatalf("second run: %+v %v", res, err)
	}
	os.WriteFile(filepath.Join(dataDir, "RTE", "stale.txt"), nil, 0o644)
	o := m.opts()
	o.Force = true
	if _, err := Download(context.Background(), dataDir, []string{"rte"}, o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "RTE", "stale.txt")); err == nil {
		t.Error("--force did not replace the folder")
	}
}

// TestStalledAndBusyServerRetried: a body that stops sending counts as
// broken off after the time-out, and like a 503 is retried with backoff,
// the partial file resumed.
func TestStalledAndBusyServerRetried(t *testing.T) {
	m := newMirror(t, map[string][]byte{"RTE.zip": rteZip(t, 2490)})
	m.busy["RTE.zip"] = 1
	m.stall["RTE.zip"] = 1000
	o := m.opts()
	o.Timeout = 100 * time.Millisecond
	var log strings.Builder
	o.Log = &log
	if _, err := Download(context.Background(), t.TempDir(), []string{"rte"}, o); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(m.log, "/RTE.zip bytes=1000-") {
		t.Errorf("stalled archive not resumed with Range: %q", m.log)
	}
	for _, want := range []string{"503", "stalled"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log does not mention %q:\n%s", want, log.String())
		}
	}
}

func names(es []os.DirEntry) []string {
	var n []string
	for _, e := range es {
		n = append(n, e.Name())
	}
	return n
}

func TestMaliciousZipEntriesRefused(t *testing.T) {
	for _, bad := range []zipEntry{
		{name: "../evil", body: "x"},
		{name: "RTE/../../evil", body: "x"},
		{name: "/abs/evil", body: "x"},
		{name: `..\evil`, body: "x"},
		{name: "C:/evil", body: "x"},
		{name: "RTE/link", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777},
	} {
		t.Run(bad.name, func(t *testing.T) {
			m := newMirror(t, map[string][]byte{"RTE.zip": rteZip(t, 2490, bad)})
			root := t.TempDir()
			dataDir := filepath.Join(root, "glue")
			_, err := Download(context.Background(), dataDir, []string{"rte"}, m.opts())
			if err == nil || !strings.Contains(err.Error(), "refusing to extract") || !strings.Contains(err.Error(), strconv.Quote(bad.name)) {
				t.Fatalf("err = %v", err)
			}
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if d != nil && (d.Name() == "evil" || d.Name() == "link" || d.Name() == "RTE") {
					t.Errorf("%s was written", p)
				}
				return nil
			})
			if _, err := os.Stat("/abs/evil"); err == nil {
				t.Error("/abs/evil was written")
			}
		})
	}
}

func TestRowCountMismatch(t *testing.T) {
	m := newMirror(t, map[string][]byte{"RTE.zip": rteZip(t, 2489)})
	dataDir := t.TempDir()
	// An older, complete copy stays untouched when the new one is wrong.
	old := filepath.Join(dataDir, "RTE")
	os.MkdirAll(old, 0o755)
	os.WriteFile(filepath.Join(old, "train.tsv"), []byte("old"), 0o644)
	o := m.opts()
	o.Force = true
	_, err := Download(context.Background(), dataDir, []string{"rte"}, o)
	var rc *RowCountError
	if !errors.As(err, &rc) || rc.File != "RTE/train.tsv" || rc.Got != 2489 || rc.Want != 2490 {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"RTE.zip", "RTE/train.tsv", "2489 rows", "expected 2490"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(old, "train.tsv")); string(b) != "old" {
		t.Error("the old folder was changed")
	}
	entries, _ := os.ReadDir(dataDir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %v after a failure", names(entries))
	}
}

func TestArchiveChecksumChecked(t *testing.T) {
	m := newMirror(t, map[string][]byte{"RTE.zip": rteZip(t, 2490)})
	o := m.opts()
	o.SkipChecksums = false
	dataDir := t.TempDir()
	_, err := Download(context.Background(), dataDir, []string{"rte"}, o)
	if err == nil || !strings.Contains(err.Error(), "expected "+srcRTE.SHA256) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "RTE")); err == nil {
		t.Fatal("RTE placed despite a checksum mismatch")
	}
}

// TestMRPCEndToEnd serves the MSR Paraphrase files and the dev ids (the
// official ones, so their sha256 checks pass) and checks the folder.
func TestMRPCEndToEnd(t *testing.T) {
	needShared(t)
	m := newMirror(t, map[string][]byte{
		"msr_paraphrase_train.txt": readShared(t, "msr_paraphrase_train.txt"),
		"msr_paraphrase_test.txt":  readShared(t, "msr_paraphrase_test.txt"),
		"mrpc_dev_ids.tsv":         readShared(t, "dev_ids.tsv"),
	})
	o := m.opts()
	o.SkipChecksums = false
	dataDir := t.TempDir()
	if _, err := Download(context.Background(), dataDir, []string{"mrpc"}, o); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"train.tsv", "dev.tsv", "test.tsv", "dev_ids.tsv", "msr_paraphrase_train.txt", "msr_paraphrase_test.txt"} {
		got, err := os.ReadFile(filepath.Join(dataDir, "MRPC", name))
		if err != nil || !bytes.Equal(got, readShared(t, name)) {
			t.Errorf("MRPC/%s differs from the official file (%v)", name, err)
		}
	}
}

func TestDiagnostic(t *testing.T) {
	m := newMirror(t, map[string][]byte{"AX.tsv": []byte(rows("index\tsentence1\tsentence2", 1104))})
	dataDir := t.TempDir()
	res, err := Download(context.Background(), dataDir, []string{"ax"}, m.opts())
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Dir != filepath.Join(dataDir, "diagnostic") {
		t.Fatalf("dir %s", res[0].Dir)
	}
	if n, _ := CountRows(filepath.Join(dataDir, "diagnostic", "diagnostic.tsv"), true); n != 1104 {
		t.Fatalf("rows %d", n)
	}
}

func TestNextAddressAfterFailure(t *testing.T) {
	m := newMirror(t, map[string][]byte{"ok/f.txt": []byte("hello")})
	src := source{"f.txt", []string{m.srv.URL + "/gone/f.txt", m.srv.URL + "/ok/f.txt"}, ""}
	o := Options{RetryDelay: time.Millisecond}
	p, err := fetchSource(context.Background(), t.TempDir(), src, o)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "hello" {
		t.Fatalf("got %q", b)
	}
	src.URLs = src.URLs[:1]
	if _, err := fetchSource(context.Background(), t.TempDir(), src, o); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("404: %v", err)
	}
}

func TestParseTasks(t *testing.T) {
	got, err := ParseTasks("RTE, sst2,mnli-mm,mnli,diagnostic")
	if err != nil || strings.Join(got, " ") != "rte sst-2 mnli ax" {
		t.Fatalf("%v %v", got, err)
	}
	got, err = ParseTasks("all")
	if err != nil || strings.Join(got, " ") != "cola sst-2 mrpc sts-b qqp mnli qnli rte wnli ax" {
		t.Fatalf("all: %v %v", got, err)
	}
	if _, err := ParseTasks("rte,nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := ParseTasks(" , "); err == nil {
		t.Fatal("empty accepted")
	}
}

// TestOfficialSources pins the addresses to those of download_glue_data.py.
func TestOfficialSources(t *testing.T) {
	for _, sp := range specs {
		for _, s := range sp.Sources {
			first := s.URLs[0]
			switch {
			case strings.HasPrefix(first, firebase):
				if !strings.Contains(first, "data%2F"+s.Name+"?alt=media&token=") {
					t.Errorf("%s: %s", s.Name, first)
				}
			case strings.HasPrefix(first, "https://dl.fbaipublicfiles.com/senteval/senteval_data/"+s.Name),
				strings.HasPrefix(first, "https://storage.googleapis.com/mtl-sentence-representations.appspot.com/tsvsWithoutLabels%2FAX.tsv?"):
			default:
				t.Errorf("%s: unexpected address %s", s.Name, first)
			}
			if s.SHA256 != "" && len(s.SHA256) != 64 {
				t.Errorf("%s: bad sha256", s.Name)
			}
		}
	}
}

// TestRowCountsMatchSharedCopies checks the table against the real files
// in ../shared/glue (those that are there).
func TestRowCountsMatchSharedCopies(t *testing.T) {
	needShared(t)
	for _, sp := range specs {
		dir := map[string]string{"cola": "CoLA", "sst-2": "SST-2", "mrpc": "MRPC", "sts-b": "STS-B", "qnli": "QNLI", "rte": "RTE", "wnli": "WNLI"}[sp.Task]
		if dir == "" {
			continue
		}
		for _, f := range sp.Files {
			p := filepath.Join(sharedMRPC, "..", dir, f.Name)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			if n, err := CountRows(p, f.Header); err != nil || n != f.Rows {
				t.Errorf("%s/%s: %d rows (%v), table says %d", dir, f.Name, n, err, f.Rows)
			}
		}
	}
}
