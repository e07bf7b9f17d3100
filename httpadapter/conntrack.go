package httpadapter

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// staleNewConn is how long a connection may stay in http.StateNew and
// still be waited for: net/http's own Shutdown treats such connections as
// idle after 5 seconds, and an HTTP/2 connection stays "new" to a
// ConnState hook forever (net/http runs no hooks for its later states).
const staleNewConn = 5 * time.Second

// connTracker follows every connection of a server through its ConnState
// hook. New connections and closes take a map store or delete; the
// per-request transitions (active, idle) on a kept-alive connection are a
// lock-free map load and one atomic store. Only while draining does the
// idle transition also read the clock, to give each idle connection its
// own grace period.
type connTracker struct {
	conns    sync.Map    // net.Conn -> *connRecord
	draining atomic.Bool // set once the drain begins: responses carry Connection: close, idle times are recorded
}

type connRecord struct {
	state     atomic.Int32 // http.ConnState
	idleSince atomic.Int64 // UnixNano; set only while draining
	since     time.Time    // accepted; read only while state is StateNew
}

func (t *connTracker) track(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		r := &connRecord{since: time.Now()}
		r.state.Store(int32(st))
		t.conns.Store(c, r)
	case http.StateActive, http.StateIdle:
		if v, ok := t.conns.Load(c); ok {
			r := v.(*connRecord)
			if st == http.StateIdle && t.draining.Load() {
				r.idleSince.Store(time.Now().UnixNano())
			}
			r.state.Store(int32(st))
		}
	case http.StateHijacked, http.StateClosed:
		t.conns.Delete(c)
	}
}

// connCounts is how many tracked connections are in each state.
type connCounts struct {
	New, StaleNew, Active, Idle int
}

// waitFor is how many connections the drain still waits for.
func (c connCounts) waitFor() int { return c.New + c.Active + c.Idle }

func (c connCounts) total() int { return c.New + c.StaleNew + c.Active + c.Idle }

func (t *connTracker) counts(now time.Time) connCounts {
	var c connCounts
	t.conns.Range(func(_, v any) bool {
		r := v.(*connRecord)
		switch http.ConnState(r.state.Load()) {
		case http.StateNew:
			if now.Sub(r.since) > staleNewConn {
				c.StaleNew++
			} else {
				c.New++
			}
		case http.StateActive:
			c.Active++
		case http.StateIdle:
			c.Idle++
		}
		return true
	})
	return c
}

// closeIdle closes the connections that have been idle for at least grace,
// counting from notBefore for those idle since before the drain, and that
// have no request bytes waiting: a client whose request is already in the
// socket buffer gets its answer instead of a reset.
func (t *connTracker) closeIdle(now, notBefore time.Time, grace time.Duration) (closed int) {
	t.conns.Range(func(k, v any) bool {
		r := v.(*connRecord)
		if http.ConnState(r.state.Load()) != http.StateIdle {
			return true
		}
		since := max(r.idleSince.Load(), notBefore.UnixNano())
		if now.Sub(time.Unix(0, since)) < grace {
			return true
		}
		c := k.(net.Conn)
		if pendingInput(c) {
			return true // about to become active
		}
		c.Close() // net/http's read fails, and it reports StateClosed
		closed++
		return true
	})
	return closed
}
