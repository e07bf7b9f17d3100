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
// lock-free map load and one atomic store, without reading the clock.
type connTracker struct {
	conns sync.Map // net.Conn -> *connRecord
}

type connRecord struct {
	state atomic.Int32 // http.ConnState
	since time.Time    // accepted; read only while state is StateNew
}

func (t *connTracker) track(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		r := &connRecord{since: time.Now()}
		r.state.Store(int32(st))
		t.conns.Store(c, r)
	case http.StateActive, http.StateIdle:
		if v, ok := t.conns.Load(c); ok {
			v.(*connRecord).state.Store(int32(st))
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
