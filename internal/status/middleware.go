package status

import "net/http"

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
	rw := h.c.begin(w)
	returned := false
	defer func() { h.c.end(rw, returned) }()
	h.next.ServeHTTP(rw, r)
	returned = true
}
