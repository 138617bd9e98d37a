package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mixft/mixft/internal/atomicfile"
)

// FetchOptions configures FetchFile.
type FetchOptions struct {
	// Client does the requests; nil means NewClient(0).
	Client *http.Client
	// Stall is how long a response may keep the client waiting (for its
	// headers, or between two pieces of its body) before the transfer
	// counts as broken off and is retried (resuming); 0: DefaultTimeout.
	Stall time.Duration
	// Header is added to every request (Authorization, User-Agent).
	Header http.Header
	// Size is the expected length in bytes, or -1 when unknown (then the
	// response's Content-Length, when there is one, is checked instead).
	Size int64
	// SHA256 is the expected hex sha256 of the whole file; "" skips the check.
	SHA256 string
	// Retries is how many more times a download that broke off (a closed
	// connection, a server error) is resumed before FetchFile gives up. The
	// partial file is kept either way, so a later call resumes it.
	Retries int
	// RetryDelay is the pause before the first retry, doubled each time
	// (0: one second).
	RetryDelay time.Duration
	// Progress, when set, is called as bytes arrive with the bytes held so
	// far and the expected total (-1 when unknown).
	Progress func(done, total int64)
	// Logf, when set, receives one-line notes (resuming, retrying).
	Logf func(format string, args ...any)
}

// HTTPError is a response with a status FetchFile or Download did not expect.
type HTTPError struct {
	Method     string // "" means GET
	URL        string
	StatusCode int
	Status     string
	Header     http.Header
}

func (e *HTTPError) Error() string {
	m := e.Method
	if m == "" {
		m = http.MethodGet
	}
	return fmt.Sprintf("%s %s: HTTP %s", m, e.URL, e.Status)
}

// ChecksumError says a downloaded file is not the one expected: its sha256
// (WantSHA256 set) or its size differs. The file was deleted.
type ChecksumError struct {
	Path                  string
	WantSHA256, GotSHA256 string
	WantSize, GotSize     int64
}

func (e *ChecksumError) Error() string {
	if e.WantSHA256 != "" {
		return fmt.Sprintf("%s: sha256 %s, expected %s: the download is damaged or not the published file (deleted it)", e.Path, e.GotSHA256, e.WantSHA256)
	}
	return fmt.Sprintf("%s: %d bytes, expected %d: the download is damaged (deleted it)", e.Path, e.GotSize, e.WantSize)
}

// errRestart asks for the download to start again from byte 0.
var errRestart = errors.New("restart from the beginning")

// FetchFile downloads url into dst. Bytes go to dst+".incomplete" first; an
// existing .incomplete file is resumed with an HTTP Range request (a server
// that ignores Range and answers 200 is handled by starting over). Once all
// bytes are there, the size and (when given) the sha256 are checked, and
// only then is the file renamed to dst, so dst is either absent or
// complete and verified. A file that fails the checks is deleted. It
// returns the file's hex sha256.
func FetchFile(ctx context.Context, url, dst string, o FetchOptions) (string, error) {
	client := o.Client
	if client == nil {
		client = NewClient(o.Stall)
	}
	part := dst + ".incomplete"
	delay := o.RetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var lastErr error
	restarted := false
	for attempt := 0; ; {
		size, err := fetchOnce(ctx, client, url, part, o, logf)
		if err == nil {
			return finish(part, dst, size, o)
		}
		if ctx.Err() != nil {
			removeIfEmpty(part)
			return "", ctx.Err()
		}
		if errors.Is(err, errRestart) {
			os.Remove(part)
			if !restarted { // once for free: the partial file was unusable
				restarted = true
				logf("%s: %v", shortName(dst), err)
				continue
			}
		}
		var he *HTTPError
		var ce *ChecksumError
		if (errors.As(err, &he) && !retryableStatus(he.StatusCode)) || errors.As(err, &ce) {
			removeIfEmpty(part)
			return "", err
		}
		lastErr = err
		if attempt >= o.Retries || (isDialError(err) && attempt >= 1) {
			break
		}
		attempt++
		logf("%s: %v; retrying in %v (%d of %d)", shortName(dst), err, delay, attempt, o.Retries)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
	if st, err := os.Stat(part); err == nil && st.Size() > 0 {
		return "", fmt.Errorf("%w (%d bytes kept in %s; run the command again to resume)", lastErr, st.Size(), part)
	}
	os.Remove(part)
	return "", lastErr
}

// isDialError reports a failure to connect at all (retried only once:
// unlike a transfer that broke off, it rarely mends in seconds).
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func removeIfEmpty(p string) {
	if st, err := os.Stat(p); err == nil && st.Size() == 0 {
		os.Remove(p)
	}
}

func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

func shortName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// fetchOnce makes one request and appends what arrives to part. It returns
// the number of bytes part holds when the body ended cleanly.
func fetchOnce(ctx context.Context, client *http.Client, url, part string, o FetchOptions, logf func(string, ...any)) (int64, error) {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if o.Size >= 0 && have > o.Size {
		have = 0
		if err := f.Truncate(0); err != nil {
			return 0, err
		}
	}
	if o.Size >= 0 && have == o.Size && have > 0 {
		return have, nil // a previous run got every byte but stopped before the rename
	}

	stall := o.Stall
	if stall <= 0 {
		stall = DefaultTimeout
	}
	watch, rctx := watchStall(ctx, url, stall)
	defer watch.stop()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	for k, vs := range o.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	// identity: Content-Length and byte ranges must be those of the file.
	req.Header.Set("Accept-Encoding", "identity")
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		logf("%s: resuming at byte %d", shortName(strings.TrimSuffix(part, ".incomplete")), have)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, watch.cause(err)
	}
	defer resp.Body.Close()
	body := watch.body(resp.Body)

	total := o.Size
	switch resp.StatusCode {
	case http.StatusOK:
		if have > 0 {
			logf("%s: the server ignored the Range request; starting over", shortName(strings.TrimSuffix(part, ".incomplete")))
		}
		have = 0
		if err := f.Truncate(0); err != nil {
			return 0, err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		if total < 0 && resp.ContentLength >= 0 {
			total = resp.ContentLength
		}
	case http.StatusPartialContent:
		start, _, whole, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			return 0, fmt.Errorf("%w: server answered Range bytes=%d- with Content-Range %q", errRestart, have, resp.Header.Get("Content-Range"))
		}
		if total < 0 {
			total = whole
		} else if whole >= 0 && whole != total {
			return 0, fmt.Errorf("%w: server reports %d bytes, expected %d", errRestart, whole, total)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// "bytes */N" with N == have: every byte is already here.
		if cr := resp.Header.Get("Content-Range"); strings.HasPrefix(cr, "bytes */") {
			if n, err := strconv.ParseInt(cr[len("bytes */"):], 10, 64); err == nil && n == have && (total < 0 || total == n) {
				return have, nil
			}
		}
		return 0, fmt.Errorf("%w: server refused Range bytes=%d-", errRestart, have)
	default:
		return 0, &HTTPError{URL: url, StatusCode: resp.StatusCode, Status: resp.Status, Header: resp.Header}
	}

	if o.Progress != nil {
		o.Progress(have, total)
	}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if total >= 0 && have+int64(n) > total {
				f.Close()
				os.Remove(part)
				return 0, &ChecksumError{Path: part, GotSize: have + int64(n), WantSize: total}
			}
			if _, err := f.Write(buf[:n]); err != nil {
				return 0, err
			}
			have += int64(n)
			if o.Progress != nil {
				o.Progress(have, total)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return 0, fmt.Errorf("download broke off after %d bytes: %w", have, rerr)
		}
	}
	if total >= 0 && have < total {
		return 0, fmt.Errorf("download broke off after %d of %d bytes: %w", have, total, io.ErrUnexpectedEOF)
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return have, nil
}

// finish verifies part (size, sha256) and moves it to dst (atomicfile.Move).
func finish(part, dst string, size int64, o FetchOptions) (string, error) {
	if o.Size >= 0 && size != o.Size {
		os.Remove(part)
		return "", &ChecksumError{Path: dst, GotSize: size, WantSize: o.Size}
	}
	f, err := os.Open(part)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if o.SHA256 != "" && !strings.EqualFold(sum, o.SHA256) {
		os.Remove(part)
		return "", &ChecksumError{Path: dst, WantSHA256: strings.ToLower(o.SHA256), GotSHA256: sum}
	}
	if err := atomicfile.Move(part, dst); err != nil {
		return "", err
	}
	return sum, nil
}

// parseContentRange reads "bytes START-END/TOTAL" (TOTAL may be "*": -1).
func parseContentRange(s string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err error
	if start, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, 0, false
	}
	if end, err = strconv.ParseInt(b, 10, 64); err != nil {
		return 0, 0, 0, false
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return 0, 0, 0, false
		}
	}
	return start, end, total, true
}
