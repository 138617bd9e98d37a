package gluedl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/hub"
)

// Options configures Download.
type Options struct {
	// BaseURL, when set, replaces the official addresses: every file is
	// fetched from BaseURL/<official file name> (CoLA.zip, SST-2.zip,
	// QQP-clean.zip, STS-B.zip, MNLI.zip, QNLIv2.zip, RTE.zip, WNLI.zip,
	// AX.tsv, mrpc_dev_ids.tsv, msr_paraphrase_train.txt,
	// msr_paraphrase_test.txt), e.g. a local mirror.
	BaseURL string
	// Client does the requests; nil means hub.NewClient(Timeout).
	Client *http.Client
	// Timeout bounds each wait: connecting, the TLS handshake, response
	// headers, and the gap between two pieces of a body; 0:
	// hub.DefaultTimeout.
	Timeout time.Duration
	// Force downloads a task again even when its folder is already there
	// with the official row counts.
	Force bool
	// SkipChecksums accepts files whose sha256 differs from the official
	// one (a mirror's repacked archives); row counts are still checked.
	SkipChecksums bool
	// Retries and RetryDelay: see hub.FetchOptions (defaults 5 and 1s).
	Retries    int
	RetryDelay time.Duration
	// Progress, when set, is called as bytes of a file arrive.
	Progress func(file string, done, total int64)
	// Log, when set, receives one line per step.
	Log io.Writer
}

// Result is what Download did for one task.
type Result struct {
	Task string // canonical task name
	Dir  string // the task's folder (DATA_DIR/RTE)
	// Skipped is true when the folder was already there, complete.
	Skipped bool
}

// AllTasks lists the tasks --task all downloads, in GLUE's order.
func AllTasks() []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Task
	}
	return names
}

// ParseTasks reads a --task value: "all", or task names separated by
// commas (any spelling package data accepts: rte, SST-2, sst2, sts-b,
// diagnostic, ...). mnli-mm is MNLI's folder. Repeats are dropped.
func ParseTasks(s string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if strings.EqualFold(part, "all") {
			for _, n := range AllTasks() {
				if !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
			continue
		}
		t, err := data.LookupTask(part)
		if err != nil {
			return nil, fmt.Errorf("%v (or all)", err)
		}
		name := t.Name
		if name == "mnli-mm" {
			name = "mnli"
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no task given: name one or more of %s, or all", strings.Join(AllTasks(), ", "))
	}
	return out, nil
}

func specFor(task string) (*spec, error) {
	for i := range specs {
		if specs[i].Task == task {
			return &specs[i], nil
		}
	}
	return nil, fmt.Errorf("no download known for task %q", task)
}

// Download puts the GLUE folders of tasks (canonical names, see
// ParseTasks) under dataDir, as download_glue_data.py does. For each task
// the files are fetched into dataDir/.mixft-download (resuming partial
// files), checked (sha256 where known, then the archive's entries), built
// in a temporary folder (extracted, or for MRPC converted by FormatMRPC),
// checked against the official row counts, and only then renamed into
// place, replacing an older copy. A task whose folder is already there
// with the official row counts is skipped unless Force is set. Download
// stops at the first task that fails; the results of the tasks before it
// are returned with the error.
func Download(ctx context.Context, dataDir string, tasks []string, o Options) ([]Result, error) {
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("GLUE base URL %q is not an http(s) URL", o.BaseURL)
		}
	}
	if o.Retries == 0 {
		o.Retries = 5
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	// The download folder stays only while it holds partial files to resume.
	defer os.Remove(filepath.Join(dataDir, workDir))
	var results []Result
	for _, name := range tasks {
		r, err := downloadTask(ctx, dataDir, name, o)
		if err != nil {
			return results, err
		}
		results = append(results, *r)
	}
	return results, nil
}

// workDir holds downloads in progress, under the data folder.
const workDir = ".mixft-download"

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

func downloadTask(ctx context.Context, dataDir, name string, o Options) (*Result, error) {
	sp, err := specFor(name)
	if err != nil {
		return nil, err
	}
	task, err := data.LookupTask(name)
	if err != nil {
		return nil, err
	}
	target := filepath.Join(dataDir, task.Dir)
	res := &Result{Task: name, Dir: target}
	if !o.Force {
		if st, err := os.Stat(target); err == nil && st.IsDir() {
			if err := checkRows(target, task.Dir, sp.Files); err == nil {
				o.logf("%s: %s is already there with the official row counts; skipping (--force downloads it again)", task.Dir, target)
				res.Skipped = true
				return res, nil
			}
		}
	}
	work := filepath.Join(dataDir, workDir)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, src := range sp.Sources {
		p, err := fetchSource(ctx, work, src, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", task.Dir, err)
		}
		paths = append(paths, p)
	}
	staging, err := os.MkdirTemp(dataDir, "."+task.Dir+".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	built := filepath.Join(staging, task.Dir)
	what := sp.Sources[0].Name
	switch sp.Kind {
	case kindZip:
		o.logf("%s: extracting %s", task.Dir, what)
		if err := ExtractZip(paths[0], staging); err != nil {
			return nil, discard(paths, err)
		}
		if st, err := os.Stat(built); err != nil || !st.IsDir() {
			return nil, discard(paths, fmt.Errorf("%s: the archive has no %s/ folder", what, task.Dir))
		}
	case kindMRPC:
		what = "MRPC"
		if err := buildMRPC(built, paths[0], paths[1], paths[2]); err != nil {
			return nil, discard(paths, err)
		}
	case kindTSV:
		if err := os.MkdirAll(built, 0o755); err != nil {
			return nil, err
		}
		if err := atomicfile.Move(paths[0], filepath.Join(built, sp.Files[0].Name)); err != nil {
			return nil, err
		}
	}
	if err := checkRows(built, task.Dir, sp.Files); err != nil {
		return nil, discard(paths, fmt.Errorf("%s: %w", what, err))
	}
	if err := atomicfile.MoveDir(built, target); err != nil {
		return nil, err
	}
	for _, p := range paths {
		os.Remove(p)
	}
	o.logf("%s: ready in %s", task.Dir, target)
	return res, nil
}

// discard deletes downloaded files whose contents turned out to be wrong,
// so that the next run fetches them again.
func discard(paths []string, err error) error {
	for _, p := range paths {
		os.Remove(p)
	}
	return err
}

// fetchSource downloads one file into work, trying its addresses in
// order, and returns its path.
func fetchSource(ctx context.Context, work string, src source, o Options) (string, error) {
	dst := filepath.Join(work, src.Name)
	sha := src.SHA256
	if o.SkipChecksums {
		sha = ""
	}
	urls := src.URLs
	if o.BaseURL != "" {
		urls = []string{strings.TrimRight(o.BaseURL, "/") + "/" + url.PathEscape(src.Name)}
	}
	os.Remove(dst) // a complete file left by a failed run: fetch it again
	fo := hub.FetchOptions{
		Client:     o.Client,
		Header:     http.Header{"User-Agent": {"mixft (GLUE download)"}},
		Size:       -1,
		Stall:      o.Timeout,
		SHA256:     sha,
		Retries:    o.Retries,
		RetryDelay: o.RetryDelay,
		Logf:       o.logf,
	}
	if o.Progress != nil {
		fo.Progress = func(done, total int64) { o.Progress(src.Name, done, total) }
	}
	var errs []error
	for i, u := range urls {
		o.logf("%s: downloading from %s", src.Name, hostOf(u))
		if _, err := hub.FetchFile(ctx, u, dst, fo); err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			errs = append(errs, err)
			var ce *hub.ChecksumError
			if errors.As(err, &ce) {
				err = fmt.Errorf("%s: %w", src.Name, err)
				errs[len(errs)-1] = err
			}
			if i+1 < len(urls) {
				o.logf("%s: %v; trying the next address", src.Name, err)
				if sha == "" {
					os.Remove(dst + ".incomplete") // unverifiable: do not mix two sources
				}
			}
			continue
		}
		return dst, nil
	}
	return "", errors.Join(errs...)
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Scheme + "://" + p.Host
	}
	return u
}

// buildMRPC writes MRPC's folder from the three source files: train.tsv,
// dev.tsv and test.tsv (FormatMRPC), with the sources kept next to them
// as the script leaves them (msr_paraphrase_*.txt, dev_ids.tsv).
func buildMRPC(dir, trainTxt, testTxt, devIDs string) error {
	var in [3][]byte
	for i, p := range []string{trainTxt, testTxt, devIDs} {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		in[i] = b
	}
	train, dev, test, err := FormatMRPC(in[0], in[1], in[2])
	if err != nil {
		return fmt.Errorf("MRPC: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range map[string][]byte{
		"train.tsv": train, "dev.tsv": dev, "test.tsv": test,
		srcMRPCTrain.Name: in[0], srcMRPCTest.Name: in[1], "dev_ids.tsv": in[2],
	} {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
