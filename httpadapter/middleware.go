package httpadapter

import (
	"net/http"
	"unsafe"
)

// Middleware returns next wrapped so that every request through it is
// counted. It fits chi's r.Use and any func(http.Handler) http.Handler
// chain.
//
// A handler that returns without writing anything counts as 200, as
// net/http sends 200 then. A hijacked connection counts as ClassOther. A
// handler that panics (http.ErrAbortHandler included) is counted and the
// panic continues unchanged to net/http, which logs it and closes the
// connection: the middleware never recovers, so stack traces and
// net/http's ErrAbortHandler handling stay exactly as without it.
func (c *Counters) Middleware(next http.Handler) http.Handler {
	return &countingHandler{c: c, next: next}
}

type countingHandler struct {
	c    *Counters
	next http.Handler
}

func (h *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sh := h.c.shardFor(unsafe.Pointer(r))
	rw := sh.claim()
	if rw == nil {
		rw = h.c.overflow(sh)
	}
	rw.w = w
	defer h.finish(rw)
	h.next.ServeHTTP(rw, r)
	rw.returned = true
}

// finish counts the request once the handler returned or panicked.
// Without recover a deferred call cannot tell a panic from
// runtime.Goexit; both abort the request, so both count as panics.
func (h *countingHandler) finish(rw *responseWriter) {
	// The common case, a 2xx (or nothing written: net/http sends 200) on
	// an inline wrapper, is one atomic addition that both frees the
	// wrapper and counts the request. The bit is clear while the wrapper
	// is out, so adding it sets it without carrying into the count.
	if rw.returned && !rw.hijacked && rw.slot >= 0 && (rw.code == 0 || uint(rw.code-200) < 100) {
		sh, bit := rw.shard, uint64(1)<<uint(rw.slot)
		rw.w, rw.code, rw.returned = nil, 0, false
		sh.word.Add(bit + ok2xx)
		return
	}
	class := Class2xx
	switch {
	case rw.hijacked:
		class = ClassOther
	case rw.code != 0:
		class = classOf(rw.code)
	case !rw.returned:
		class = Class5xx // aborted before a status was sent
	}
	h.c.release(rw, class, !rw.returned)
}
