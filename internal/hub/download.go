package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mixft/mixft/internal/atomicfile"
	"github.com/mixft/mixft/internal/fsutil"
)

// Options configures Download. Zero values take the Hugging Face
// environment variables, as huggingface_hub reads them.
type Options struct {
	// Endpoint is the hub's address; "" means HF_ENDPOINT, else
	// https://huggingface.co.
	Endpoint string
	// Token is sent as "Authorization: Bearer TOKEN"; "" means HF_TOKEN,
	// else the token file `huggingface-cli login` writes (HF_TOKEN_PATH,
	// else HF_HOME/token).
	Token string
	// CacheDir is the hub cache; "" means CacheDir().
	CacheDir string
	// Offline, or HF_HUB_OFFLINE=1, forbids network access: Download then
	// only finds the revision in the cache.
	Offline bool
	// Client does the requests; nil means NewClient(Timeout).
	Client *http.Client
	// Timeout bounds each wait: connecting, the TLS handshake, response
	// headers, and the gap between two pieces of a body; 0: DefaultTimeout.
	Timeout time.Duration
	// Retries and RetryDelay: see FetchOptions (defaults 5 and 1s).
	Retries    int
	RetryDelay time.Duration
	// Progress, when set, is called as bytes of file arrive.
	Progress func(file string, done, total int64)
	// Log, when set, receives one line per step.
	Log io.Writer
}

// OfflineFromEnv reports whether HF_HUB_OFFLINE is set to a true value
// (1, ON, YES or TRUE, in any case), as huggingface_hub reads it.
func OfflineFromEnv() bool {
	switch strings.ToUpper(strings.TrimSpace(os.Getenv("HF_HUB_OFFLINE"))) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// EndpointFromEnv is HF_ENDPOINT, else DefaultEndpoint.
func EndpointFromEnv() string {
	if e := strings.TrimSpace(os.Getenv("HF_ENDPOINT")); e != "" {
		return strings.TrimRight(e, "/")
	}
	return DefaultEndpoint
}

// tokenFromEnv is HF_TOKEN, else the contents of HF_TOKEN_PATH, else of
// HF_HOME/token; the second result names where it came from.
func tokenFromEnv() (string, string) {
	if t := strings.TrimSpace(os.Getenv("HF_TOKEN")); t != "" {
		return t, "HF_TOKEN"
	}
	p := os.Getenv("HF_TOKEN_PATH")
	if p == "" {
		p = filepath.Join(hfHome(), "token")
	}
	if b, err := fsutil.ReadFile(expandHome(p), fsutil.MaxConfig); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, p
		}
	}
	return "", ""
}

// downloader holds one Download's settings.
type downloader struct {
	ctx       context.Context
	repo      string
	endpoint  string
	token     string
	tokenFrom string
	folder    string
	head      *http.Client // follows only relative redirects
	get       *http.Client
	o         Options
}

// fileMeta is what the hub says about one file before sending it.
type fileMeta struct {
	commit string // X-Repo-Commit
	etag   string // X-Linked-Etag (LFS: the sha256) or ETag, unquoted
	size   int64  // X-Linked-Size or Content-Length; -1 unknown
}

// NotFoundError is a 404 from the hub; Code is its X-Error-Code
// (EntryNotFound, RevisionNotFound, RepositoryNotFound) when it sent one.
type NotFoundError struct {
	Repo, Revision, File, Code string
}

func (e *NotFoundError) Error() string {
	switch e.Code {
	case "RepositoryNotFound":
		return fmt.Sprintf("repository %s not found on the hub (HTTP 404)", e.Repo)
	case "RevisionNotFound":
		return fmt.Sprintf("%s has no revision %s (HTTP 404)", e.Repo, e.Revision)
	}
	return fmt.Sprintf("%s: file %s not found at revision %s (HTTP 404)", e.Repo, e.File, e.Revision)
}

// Download fetches a BERT model's files from the hub into the cache and
// returns the snapshot folder: config.json, vocab.txt, tokenizer_config.json
// (skipped when the repository has none) and model.safetensors, or, when
// the repository has no model.safetensors, model.safetensors.index.json and
// every shard it lists. Each file comes from
// {endpoint}/{repo}/resolve/{revision}/{file} and is stored as
// huggingface_hub stores it (blobs/<etag>, a relative symlink in
// snapshots/<commit>/, refs/<revision>); the first response's X-Repo-Commit
// fixes the commit the other files are read at. Partial files are resumed,
// sizes and the sha256 the hub reports for LFS files are checked before a
// blob is put in place. Files already in the cache are not downloaded
// again. repo may be a legacy name (bert-base-uncased): it is stored under
// its canonical repository. Offline (or HF_HUB_OFFLINE), nothing is
// requested and the revision must already be cached.
func Download(ctx context.Context, repo, revision string, o Options) (string, error) {
	if revision == "" {
		revision = "main"
	}
	canon, err := CanonicalRepo(repo)
	if err != nil {
		return "", err
	}
	if err := validRevision(revision); err != nil {
		return "", err
	}
	if o.CacheDir == "" {
		o.CacheDir = CacheDir()
	}
	if o.Offline || OfflineFromEnv() {
		for _, r := range candidateRepos(repo, canon) {
			if dir, err := CachedSnapshot(o.CacheDir, r, revision); err == nil {
				return dir, nil
			}
		}
		return "", fmt.Errorf("offline (HF_HUB_OFFLINE is set): %s@%s is not in the Hugging Face cache %s; unset HF_HUB_OFFLINE to download it", canon, revision, RepoFolder(o.CacheDir, canon))
	}
	d := &downloader{ctx: ctx, repo: canon, folder: RepoFolder(o.CacheDir, canon), o: o}
	d.endpoint = strings.TrimRight(o.Endpoint, "/")
	if d.endpoint == "" {
		d.endpoint = EndpointFromEnv()
	}
	if u, err := url.Parse(d.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("endpoint %q is not an http(s) URL", d.endpoint)
	}
	d.token, d.tokenFrom = o.Token, "the given token"
	if d.token == "" {
		d.token, d.tokenFrom = tokenFromEnv()
	}
	base := o.Client
	if base == nil {
		base = NewClient(o.Timeout)
	}
	get := *base
	d.get = &get
	head := *base
	head.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		// Follow the hub's relative redirects (a renamed repository) but
		// not the absolute ones to the file storage: the hub's headers
		// (X-Repo-Commit, X-Linked-Etag, X-Linked-Size) are on its own
		// response.
		if len(via) >= 10 {
			return errors.New("too many redirects")
		}
		if req.Response != nil {
			if loc, err := url.Parse(req.Response.Header.Get("Location")); err == nil && (loc.IsAbs() || loc.Host != "") {
				return http.ErrUseLastResponse
			}
		}
		return nil
	}
	d.head = &head
	if d.o.Retries == 0 {
		d.o.Retries = 5
	}
	if d.o.Retries < 0 {
		d.o.Retries = 0
	}
	return d.run(revision)
}

func (d *downloader) logf(format string, args ...any) {
	if d.o.Log != nil {
		fmt.Fprintf(d.o.Log, format+"\n", args...)
	}
}

func (d *downloader) run(revision string) (string, error) {
	ref := revision // the revision the requests name; the commit once known
	commit := ""
	fetch := func(file string) (string, error) {
		first := commit == ""
		meta, err := d.headFile(ref, file, first)
		if err != nil {
			if first && isNetworkError(err) {
				// Like huggingface_hub: without a connection, a cached
				// copy of the revision still serves.
				if dir, cerr := CachedSnapshot(d.o.CacheDir, d.repo, revision); cerr == nil {
					d.logf("cannot reach %s (%v); using the cached snapshot", d.endpoint, err)
					return "", &usedCache{dir}
				}
			}
			return "", err
		}
		if first {
			commit = meta.commit
			if commit == "" {
				commit = revision
			} else {
				ref = commit
			}
			if err := validRevision(commit); err != nil || strings.Contains(commit, "/") {
				return "", fmt.Errorf("%s: the hub sent X-Repo-Commit %q, which is not a commit", d.repo, commit)
			}
		}
		return d.fetchFile(ref, commit, file, meta)
	}

	if _, err := fetch(ConfigFile); err != nil {
		var uc *usedCache
		if errors.As(err, &uc) {
			return uc.dir, nil
		}
		if isNetworkError(err) {
			return "", fmt.Errorf("cannot reach the hub at %s (%v), and %s@%s is not in the cache %s; check the network or HF_ENDPOINT", d.endpoint, err, d.repo, revision, d.folder)
		}
		return "", err
	}
	// The tokenizer: the first complete set of files, as the loader picks.
	found := false
	for _, set := range tokenizerSets {
		complete := true
		for _, f := range set {
			if _, err := fetch(f); err != nil {
				if !isEntryNotFound(err) {
					return "", err
				}
				complete = false
				break
			}
		}
		if complete {
			found = true
			break
		}
	}
	if !found {
		return "", noTokenizerError(fmt.Sprintf("%s@%s", d.repo, revision))
	}
	if _, err := fetch(TokenizerConfigFile); err != nil && !isEntryNotFound(err) {
		return "", err
	} else if err != nil {
		d.logf("%s: no %s (optional)", d.repo, TokenizerConfigFile)
	}
	if _, err := fetch(WeightsFile); err != nil {
		if !isEntryNotFound(err) {
			return "", err
		}
		d.logf("%s: no %s; looking for the sharded %s", d.repo, WeightsFile, WeightsIndexFile)
		blob, err := fetch(WeightsIndexFile)
		switch {
		case err == nil:
			b, err := fsutil.ReadFile(blob, fsutil.MaxConfig)
			if err != nil {
				return "", err
			}
			shards, err := ParseIndex(b)
			if err != nil {
				return "", fmt.Errorf("%s: %s: %w", d.repo, WeightsIndexFile, err)
			}
			for _, s := range shards {
				if _, err := fetch(s); err != nil {
					return "", err
				}
			}
		case !isEntryNotFound(err):
			return "", err
		default:
			d.logf("%s: no %s; looking for the older %s", d.repo, WeightsIndexFile, TorchWeightsFile)
			if _, err := fetch(TorchWeightsFile); err != nil {
				if isEntryNotFound(err) {
					return "", fmt.Errorf("%s@%s has none of %s, %s or %s", d.repo, revision, WeightsFile, WeightsIndexFile, TorchWeightsFile)
				}
				return "", err
			}
		}
	}
	if revision != commit {
		refPath := filepath.Join(d.folder, "refs", filepath.FromSlash(revision))
		if err := os.MkdirAll(filepath.Dir(refPath), 0o755); err != nil {
			return "", err
		}
		if err := atomicfile.WriteFile(refPath, []byte(commit), 0o644); err != nil {
			return "", err
		}
	}
	dir := filepath.Join(d.folder, "snapshots", commit)
	if err := CheckModelDir(dir); err != nil {
		return "", fmt.Errorf("after download: %w", err)
	}
	return dir, nil
}

type usedCache struct{ dir string }

func (u *usedCache) Error() string { return "used the cached snapshot " + u.dir }

func isEntryNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf) && (nf.Code == "" || nf.Code == "EntryNotFound")
}

// isNetworkError reports an error that is not an HTTP answer: the hub
// could not be reached.
func isNetworkError(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) && !errors.Is(err, context.Canceled)
}

// fileURL is {endpoint}/{repo}/resolve/{revision}/{file}.
func (d *downloader) fileURL(revision, file string) string {
	segs := strings.Split(file, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return d.endpoint + "/" + d.repo + "/resolve/" + url.PathEscape(revision) + "/" + strings.Join(segs, "/")
}

func (d *downloader) header() http.Header {
	h := http.Header{}
	h.Set("User-Agent", "mixft (hub client; huggingface_hub cache layout)")
	if d.token != "" {
		h.Set("Authorization", "Bearer "+d.token)
	}
	return h
}

// headFile asks the hub about file without downloading it. Server errors
// are retried; connection errors too, except on the first request (so that
// an unreachable hub falls back to the cache at once).
func (d *downloader) headFile(revision, file string, first bool) (*fileMeta, error) {
	u := d.fileURL(revision, file)
	var resp *http.Response
	var err error
	delay := d.o.RetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	for attempt := 0; ; attempt++ {
		req, rerr := http.NewRequestWithContext(d.ctx, http.MethodHead, u, nil)
		if rerr != nil {
			return nil, rerr
		}
		req.Header = d.header()
		req.Header.Set("Accept-Encoding", "identity")
		resp, err = d.head.Do(req)
		if err == nil {
			resp.Body.Close()
			if !retryableStatus(resp.StatusCode) {
				break
			}
			err = &HTTPError{Method: http.MethodHead, URL: u, StatusCode: resp.StatusCode, Status: resp.Status, Header: resp.Header}
		} else if first {
			return nil, err
		}
		if attempt >= d.o.Retries || d.ctx.Err() != nil {
			return nil, err
		}
		d.logf("%s: %v; retrying in %v", file, err, delay)
		select {
		case <-d.ctx.Done():
			return nil, d.ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
	if err := d.statusError(resp, revision, file); err != nil {
		return nil, err
	}
	h := resp.Header
	m := &fileMeta{commit: strings.TrimSpace(h.Get("X-Repo-Commit")), size: -1}
	m.etag = normalizeETag(h.Get("X-Linked-Etag"))
	if m.etag == "" {
		m.etag = normalizeETag(h.Get("ETag"))
	}
	if s := h.Get("X-Linked-Size"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			m.size = n
		}
	} else if resp.StatusCode == http.StatusOK && resp.ContentLength >= 0 {
		m.size = resp.ContentLength
	}
	return m, nil
}

// statusError turns the hub's refusals into errors that say what to do.
func (d *downloader) statusError(resp *http.Response, revision, file string) error {
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 400:
		return nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		if d.token == "" {
			return fmt.Errorf("%s: access denied (HTTP %d) for %s at %s: the repository is gated or private (or does not exist); request access on its hub page, then set HF_TOKEN to an access token with read permission", d.repo, code, file, revision)
		}
		return fmt.Errorf("%s: access denied (HTTP %d) for %s at %s with the token from %s: check that the token has read access and that you accepted the repository's conditions on its hub page", d.repo, code, file, revision, d.tokenFrom)
	case code == http.StatusNotFound:
		return &NotFoundError{Repo: d.repo, Revision: revision, File: file, Code: resp.Header.Get("X-Error-Code")}
	}
	msg := resp.Header.Get("X-Error-Message")
	if msg != "" {
		msg = ": " + msg
	}
	return fmt.Errorf("%s: %s at %s: HTTP %s from %s%s", d.repo, file, revision, resp.Status, d.fileURL(revision, file), msg)
}

// normalizeETag strips the weak prefix and the quotes of an ETag.
func normalizeETag(e string) string {
	e = strings.TrimSpace(e)
	e = strings.TrimPrefix(e, "W/")
	return strings.Trim(e, `"`)
}

// isSHA256 tells an LFS etag (the file's sha256) from a git blob id.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// validBlobName accepts etags usable as a file name in blobs/.
func validBlobName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 200 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// fetchFile puts file in blobs/ (unless it is there) and links it into
// snapshots/<commit>/; it returns the blob's path.
func (d *downloader) fetchFile(revision, commit, file string, m *fileMeta) (string, error) {
	snapDir := filepath.Join(d.folder, "snapshots", commit)
	pointer := filepath.Join(snapDir, filepath.FromSlash(file))
	blobs := filepath.Join(d.folder, "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return "", err
	}
	etag := m.etag
	if !validBlobName(etag) {
		etag = ""
	}
	if etag != "" {
		blob := filepath.Join(blobs, etag)
		if st, err := os.Stat(blob); err == nil && st.Mode().IsRegular() && (m.size < 0 || st.Size() == m.size) {
			d.logf("%s: in the cache", file)
			return blob, d.link(pointer, blob)
		}
	}
	fo := FetchOptions{
		Client:     d.get,
		Header:     d.header(),
		Size:       m.size,
		Stall:      d.o.Timeout,
		Retries:    d.o.Retries,
		RetryDelay: d.o.RetryDelay,
		Logf:       d.logf,
	}
	if isSHA256(etag) {
		fo.SHA256 = etag // LFS: the hub reports the file's sha256 as its etag
	}
	if d.o.Progress != nil {
		fo.Progress = func(done, total int64) { d.o.Progress(file, done, total) }
	}
	// Without an etag the blob is named by its sha256, known only at the
	// end: download to a name derived from the commit and file.
	tmpName := etag
	if tmpName == "" {
		tmpName = "nometa-" + strings.ReplaceAll(path.Join(commit, file), "/", "--")
	}
	dst := filepath.Join(blobs, tmpName)
	d.logf("%s: downloading %s", file, sizeText(m.size))
	sum, err := FetchFile(d.ctx, d.fileURL(revision, file), dst, fo)
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) {
			fake := &http.Response{StatusCode: he.StatusCode, Status: he.Status, Header: he.Header}
			if serr := d.statusError(fake, revision, file); serr != nil {
				return "", serr
			}
		}
		return "", fmt.Errorf("%s: %s: %w", d.repo, file, err)
	}
	if etag == "" {
		final := filepath.Join(blobs, sum)
		if err := atomicfile.Move(dst, final); err != nil {
			return "", err
		}
		dst = final
	}
	return dst, d.link(pointer, dst)
}

// link makes pointer a relative symlink to blob, replacing what was there
// in one rename; where symlinks cannot be made it copies the blob.
func (d *downloader) link(pointer, blob string) error {
	rel, err := filepath.Rel(filepath.Dir(pointer), blob)
	if err != nil {
		return err
	}
	if cur, err := os.Readlink(pointer); err == nil && cur == rel {
		return nil
	}
	tmp := fmt.Sprintf("%s.tmp-link-%d", pointer, os.Getpid())
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		src, oerr := os.Open(blob)
		if oerr != nil {
			return oerr
		}
		defer src.Close()
		return atomicfile.Write(pointer, 0o644, func(w io.Writer) error {
			_, err := io.Copy(w, src)
			return err
		})
	}
	if err := os.Rename(tmp, pointer); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func sizeText(n int64) string {
	switch {
	case n < 0:
		return "(size unknown)"
	case n >= 1<<30:
		return fmt.Sprintf("(%.2f GiB)", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("(%.1f MiB)", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("(%.1f KiB)", float64(n)/(1<<10))
	}
	return fmt.Sprintf("(%d bytes)", n)
}
