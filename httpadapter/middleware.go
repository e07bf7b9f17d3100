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
	var anchor byte // its address identifies this goroutine's stack
	sh := h.c.shardFor(unsafe.Pointer(&anchor))
	rw := sh.claim()
	if rw == nil {
		rw = h.c.overflow(sh)
	}
	rw.w = w
	returned := false
	defer func() {
		// The common case, a handler that returned on an inline wrapper,
		// is written out here rather than called, because it runs for
		// every request. A 2xx (or nothing written: net/http sends 200)
		// is then one atomic addition that both frees the wrapper and
		// counts the request: the bit is clear while the wrapper is out,
		// so adding it sets it without carrying into the count above.
		if returned && rw.slot >= 0 {
			code, sh, bit := rw.code, rw.shard, uint64(1)<<uint(rw.slot)
			rw.w, rw.code = nil, 0
			if code == 0 || uint(code-200) < 100 {
				sh.word.Add(bit + ok2xx)
				return
			}
			sh.done[classOf(code)].Add(1)
			sh.word.Add(bit)
			return
		}
		h.finish(rw, returned)
	}()
	h.next.ServeHTTP(rw, r)
	returned = true
}

// finish counts the requests that panicked or used a pooled wrapper. Without
// recover a deferred call cannot tell a panic from runtime.Goexit; both
// abort the request (returned is false), so both count as panics.
func (h *countingHandler) finish(rw *responseWriter, returned bool) {
	class := Class2xx // nothing written: net/http sends 200
	switch {
	case rw.code != 0: // codeHijacked is ClassOther
		class = classOf(rw.code)
	case !returned:
		class = Class5xx // aborted before a status was sent
	}
	h.c.release(rw, class, !returned)
}
