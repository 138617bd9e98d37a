package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// DefaultTimeout is how long a download waits for a connection, a TLS
// handshake, the response headers, or the next bytes of a body before it
// counts as failed (and is retried).
const DefaultTimeout = 60 * time.Second

// NewClient returns an HTTP client that gives up connecting, completing a
// TLS handshake or waiting for the response headers after timeout
// (DefaultTimeout when 0). It uses the proxies of the environment
// (HTTPS_PROXY, NO_PROXY). A stalled body is FetchOptions.Stall's business:
// the client sets no limit on a whole transfer, which may take hours.
func NewClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = timeout
	tr.ResponseHeaderTimeout = timeout
	tr.ExpectContinueTimeout = time.Second
	return &http.Client{Transport: tr}
}

// StallError says that a server sent nothing for the stall time-out.
type StallError struct {
	URL   string
	After time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("no data from %s for %v (stalled)", e.URL, e.After)
}

// stallReader cancels its request when a Read waits longer than after.
type stallReader struct {
	r      io.Reader
	timer  *time.Timer
	after  time.Duration
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// watchStall returns a context for one request that is cancelled, with a
// *StallError as its cause, when the time between start and the response,
// or between two reads of the body (see body), exceeds after.
func watchStall(ctx context.Context, url string, after time.Duration) (*stallReader, context.Context) {
	rctx, cancel := context.WithCancelCause(ctx)
	s := &stallReader{after: after, ctx: rctx, cancel: cancel}
	s.timer = time.AfterFunc(after, func() { cancel(&StallError{URL: url, After: after}) })
	return s, rctx
}

// body wraps a response body so that each chunk restarts the watch.
func (s *stallReader) body(r io.Reader) io.Reader { s.r = r; return s }

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.after)
	}
	if err != nil && err != io.EOF {
		err = s.cause(err)
	}
	return n, err
}

// cause replaces err by the stall, when the watch cancelled the request.
func (s *stallReader) cause(err error) error {
	var se *StallError
	if c := context.Cause(s.ctx); errors.As(c, &se) {
		return se
	}
	return err
}

// stop ends the watch.
func (s *stallReader) stop() {
	s.timer.Stop()
	s.cancel(nil)
}
