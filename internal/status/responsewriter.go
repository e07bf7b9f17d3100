package status

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
)

// responseWriter records the status a handler sends. Counters keep them
// in a sync.Pool; each one counts its requests in one shard for its whole
// life.
//
// It implements http.Flusher, http.Hijacker, io.ReaderFrom,
// io.StringWriter and http.Pusher statically, so type assertions on it succeed even when the
// wrapped writer lacks the capability; the method then falls back to
// http.ResponseController (which follows Unwrap chains) and finally
// reports http.ErrNotSupported (Hijack, Push, FlushError), copies (ReadFrom,
// WriteString) or does nothing (Flush, which has no way to report). One
// static type is what keeps the wrapper allocation-free; net/http's own
// writer has all of them for HTTP/1 (Pusher for HTTP/2), so in practice
// nothing is lost.
type responseWriter struct {
	w     http.ResponseWriter
	shard *shard
	code  int // final status sent; 0 until then; codeHijacked after Hijack
}

var (
	_ http.ResponseWriter                       = (*responseWriter)(nil)
	_ http.Flusher                              = (*responseWriter)(nil)
	_ http.Hijacker                             = (*responseWriter)(nil)
	_ http.Pusher                               = (*responseWriter)(nil)
	_ io.ReaderFrom                             = (*responseWriter)(nil)
	_ io.StringWriter                           = (*responseWriter)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*responseWriter)(nil)
	_ interface{ FlushError() error }           = (*responseWriter)(nil)
)

// codeHijacked marks a hijacked connection; classOf puts it in ClassOther.
const codeHijacked = -1

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

// WriteHeader records the first final status. Informational 1xx codes
// (except 101 Switching Protocols) may precede it, as in net/http. The
// code is recorded after the call so that a code net/http rejects with a
// panic is not recorded.
func (rw *responseWriter) WriteHeader(code int) {
	rw.w.WriteHeader(code)
	if rw.code == 0 && (uint(code-100) > 99 || code == http.StatusSwitchingProtocols) {
		rw.code = code
	}
}

func (rw *responseWriter) Write(b []byte) (int, error) {
	if rw.code == 0 {
		rw.code = http.StatusOK // net/http sends 200 on the first write
	}
	return rw.w.Write(b)
}

// WriteString passes strings through to a writer that takes them, as
// net/http's does, so that io.WriteString in a handler does not copy the
// string into a new byte slice.
func (rw *responseWriter) WriteString(s string) (int, error) {
	if rw.code == 0 {
		rw.code = http.StatusOK
	}
	if sw, ok := rw.w.(io.StringWriter); ok {
		return sw.WriteString(s)
	}
	return io.WriteString(rw.w, s)
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

func (rw *responseWriter) Flush() { _ = rw.FlushError() }

// FlushError is what http.ResponseController.Flush calls first.
func (rw *responseWriter) FlushError() error {
	if rw.code == 0 {
		rw.code = http.StatusOK // flushing sends the header
	}
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
		return nil
	}
	return http.NewResponseController(rw.w).Flush()
}

func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	var (
		c   net.Conn
		brw *bufio.ReadWriter
		err error
	)
	if h, ok := rw.w.(http.Hijacker); ok {
		c, brw, err = h.Hijack()
	} else {
		c, brw, err = http.NewResponseController(rw.w).Hijack()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("httpadapter: hijack: %w", err)
	}
	rw.code = codeHijacked
	return c, brw, nil
}

func (rw *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if rw.code == 0 {
		rw.code = http.StatusOK
	}
	if rf, ok := rw.w.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(rw.w, r)
}

func (rw *responseWriter) Push(target string, opts *http.PushOptions) error {
	if p, ok := rw.w.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}
