package httpserve

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// staleNewConn is how long a connection may stay in http.StateNew and
// still be waited for: net/http's own Shutdown treats such connections as
// idle after 5 seconds.
const staleNewConn = 5 * time.Second

// connProto is what a tracked connection speaks, as far as the drain
// cares.
type connProto int32

const (
	protoUnknown connProto = iota // plain: HTTP/1, or h2c before its first request; TLS: handshake under way
	protoHTTP1                    // TLS connections only: plain ones stay protoUnknown

	protoHTTP2    // drained by GOAWAY, not waited for like HTTP/1
	protoHijacked // taken over by a handler
)

// connTracker follows every connection of a server through its ConnState
// hook. New connections and closes take a map store or delete; the
// per-request transitions (active, idle) on a kept-alive connection are a
// lock-free map load and one atomic store. Only while draining does the
// idle transition also read the clock, to give each idle connection its
// own grace period.
//
// HTTP/2 connections report their states too (active while a stream is
// open, idle otherwise); what matters for the drain is to know them
// apart from HTTP/1 ones (see tlsProto and markHTTP2).
type connTracker struct {
	conns    sync.Map     // net.Conn -> *connRecord
	draining atomic.Bool  // set once the drain begins: responses carry Connection: close, idle times are recorded
	answered atomic.Int64 // HTTP/1 responses with "Connection: close" while draining

	// Hijacked connections stay in conns until the drain closes them, or
	// until a sweep finds their owner closed them.
	hijacked atomic.Int64 // hijacked records in conns
	sweepAt  atomic.Int64 // sweep when hijacked exceeds this
	sweeping sync.Mutex

	// The two-step GOAWAY's announce goroutines (goaway2.go).
	announcing   sync.WaitGroup
	announceMu   sync.Mutex
	announceDone bool
	goawayCut    atomic.Int64 // two-steps cut at GoawayAckTimeout, the PING unanswered
}

type connRecord struct {
	state     atomic.Int32 // http.ConnState
	proto     atomic.Int32 // connProto
	idleSince atomic.Int64 // UnixNano; set only while draining
	since     time.Time    // accepted; read only while state is StateNew
	goaway    atomic.Bool  // HTTP/2: a response during the drain asked for GOAWAY
	cut       atomic.Bool  // closeHeaderless ended its header read
	finSent   atomic.Bool  // HTTP/2: half-closed by finishGoneAway
	// HTTP/2, idle when http.Server.Shutdown began: the bytes the peer
	// had acknowledged then, plus one (0: not taken). More acknowledged
	// since means the GOAWAY Shutdown sends arrived.
	ackedBefore atomic.Uint64
	h2          atomic.Pointer[h2Conn] // HTTP/2 with the two-step GOAWAY (goaway2.go)
}

// minSweep is the number of hijacked connections below which closed ones
// are not looked for.
const minSweep = 64

type connKey struct{}

// accepted registers a connection net/http just accepted (its
// ConnContext hook, which runs before the StateNew one) and returns ctx
// carrying its record, for markHTTP2.
func (t *connTracker) accepted(ctx context.Context, c net.Conn) context.Context {
	r := &connRecord{since: time.Now()} // state: StateNew (0)
	t.conns.Store(c, r)
	return context.WithValue(ctx, connKey{}, r)
}

func (t *connTracker) track(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew: // registered by accepted
	case http.StateActive, http.StateIdle:
		v, ok := t.conns.Load(c)
		if !ok {
			return
		}
		r := v.(*connRecord)
		if connProto(r.proto.Load()) == protoUnknown {
			if tc, ok := c.(*tls.Conn); ok {
				r.proto.Store(int32(tlsProto(tc)))
			}
		}
		if st == http.StateIdle {
			if pc, ok := c.(*parkConn); ok {
				pc.idle()
			}
			if t.draining.Load() {
				r.idleSince.Store(time.Now().UnixNano())
			}
		}
		r.state.Store(int32(st))
	case http.StateHijacked:
		v, ok := t.conns.Load(c)
		if !ok {
			return
		}
		r := v.(*connRecord)
		r.proto.Store(int32(protoHijacked))
		r.state.Store(int32(st))
		if t.hijacked.Add(1) > max(t.sweepAt.Load(), minSweep) {
			t.sweepHijacked()
		}
	case http.StateClosed:
		t.conns.Delete(c)
	}
}

// tlsProto is what a TLS connection speaks, by ALPN. net/http runs the
// ConnState hooks of a TLS connection only after its handshake.
func tlsProto(c *tls.Conn) connProto {
	if c.ConnectionState().NegotiatedProtocol == "h2" {
		return protoHTTP2
	}
	return protoHTTP1
}

// markHTTP2 records that the connection of an HTTP/2 request speaks
// HTTP/2. On a TLS connection the ConnState hook knows it already; an
// h2c connection (HTTP/2 with prior knowledge) is told apart from
// HTTP/1 by its requests only: net/http reports both with the same
// states on the same net.Conn.
func markHTTP2(r *http.Request) {
	if r.ProtoMajor != 2 || r.TLS != nil {
		return
	}
	if rec, ok := r.Context().Value(connKey{}).(*connRecord); ok && connProto(rec.proto.Load()) != protoHTTP2 {
		rec.proto.Store(int32(protoHTTP2))
	}
}

// markGoaway records that the HTTP/2 connection of r was asked to go away
// (a response with "Connection: close" during the drain), for
// finishGoneAway.
func markGoaway(r *http.Request) {
	if rec, ok := r.Context().Value(connKey{}).(*connRecord); ok {
		rec.goaway.Store(true)
	}
}

// noteIdleHTTP2 records, for each idle HTTP/2 connection, how many bytes
// its client has acknowledged, just before http.Server.Shutdown sends it
// GOAWAY: finishGoneAway then knows when the GOAWAY arrived.
func (t *connTracker) noteIdleHTTP2() {
	t.conns.Range(func(k, v any) bool {
		r := v.(*connRecord)
		if connProto(r.proto.Load()) == protoHTTP2 && !r.goaway.Load() &&
			http.ConnState(r.state.Load()) == http.StateIdle {
			if acked, ok := bytesAcked(k.(net.Conn)); ok {
				r.ackedBefore.Store(acked + 1)
			}
		}
		return true
	})
}

// goneAway reports whether the HTTP/2 connection's client has received
// its GOAWAY: one sent with a response during the drain, or the one
// http.Server.Shutdown sent to it idle (noteIdleHTTP2).
func (r *connRecord) goneAway(c net.Conn) bool {
	if r.goaway.Load() {
		return true
	}
	before := r.ackedBefore.Load()
	if before == 0 {
		return false
	}
	acked, ok := bytesAcked(c)
	return ok && acked+1 > before
}

// finishGoneAway half-closes (FIN, after TLS's close_notify) each HTTP/2
// connection that got its GOAWAY (goneAway), has no stream left, and
// whose client has acknowledged every byte sent, the GOAWAY among them: the
// client reads GOAWAY, then the end of the stream, and closes its side;
// a request it sent meanwhile is still read, and refused by GOAWAY's
// rules, so it retries it elsewhere. Without this, a client that keeps an
// idle connection open after GOAWAY (Go's does) holds the drain for
// net/http's fixed one-second GOAWAY timeout. It returns how many it
// half-closed.
func (t *connTracker) finishGoneAway() (n int) {
	t.conns.Range(func(k, v any) bool {
		r := v.(*connRecord)
		if connProto(r.proto.Load()) != protoHTTP2 {
			return true
		}
		c := k.(net.Conn)
		if w := r.h2.Load(); w != nil {
			n += finishTwoStep(r, w, c)
			return true
		}
		if http.ConnState(r.state.Load()) != http.StateIdle || r.finSent.Load() || !r.goneAway(c) || !sendQueueEmpty(c) {
			return true
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			r.finSent.Store(true)
			n++
		}
		return true
	})
	return n
}

// sweepHijacked forgets the hijacked connections their owners closed, so
// a long-running server with many short WebSockets does not keep them
// all. It runs when their number doubled since the last sweep.
func (t *connTracker) sweepHijacked() {
	if !t.sweeping.TryLock() {
		return
	}
	defer t.sweeping.Unlock()
	t.conns.Range(func(k, v any) bool {
		r := v.(*connRecord)
		if connProto(r.proto.Load()) == protoHijacked && isClosed(k.(net.Conn)) {
			t.conns.Delete(k)
			t.hijacked.Add(-1)
		}
		return true
	})
	t.sweepAt.Store(2 * t.hijacked.Load())
}

// isClosed reports whether c was closed, without a system call: Control
// fails on a closed descriptor. A connection without a descriptor counts
// as open.
func isClosed(c net.Conn) bool {
	err := control(c, func(uintptr) {})
	return err != nil && !errors.Is(err, errNoDescriptor)
}

// closeHijacked closes the hijacked connections still open and returns
// how many there were.
func (t *connTracker) closeHijacked() (closed int) {
	t.conns.Range(func(k, v any) bool {
		r := v.(*connRecord)
		if connProto(r.proto.Load()) != protoHijacked {
			return true
		}
		c := k.(net.Conn)
		if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
			c = nc.NetConn() // no TLS alert: the peer may not be reading
		}
		if c.Close() == nil {
			closed++
		}
		t.conns.Delete(k)
		t.hijacked.Add(-1)
		return true
	})
	return closed
}

// connCounts is how many tracked connections are in each state.
type connCounts struct {
	New, StaleNew, Active, Idle int // HTTP/1, or not known yet
	HTTP2                       int // HTTP/2, idle or not
	Hijacked                    int // hijacked and not closed by their owner
}

// waitFor is how many connections the drain still waits for.
func (c connCounts) waitFor() int { return c.New + c.Active + c.Idle }

func (c connCounts) total() int {
	return c.New + c.StaleNew + c.Active + c.Idle + c.HTTP2 + c.Hijacked
}

func (t *connTracker) counts(now time.Time) connCounts {
	var c connCounts
	t.conns.Range(func(k, v any) bool {
		r := v.(*connRecord)
		switch connProto(r.proto.Load()) {
		case protoHTTP2:
			c.HTTP2++
			return true
		case protoHijacked:
			if !isClosed(k.(net.Conn)) {
				c.Hijacked++
			}
			return true
		}
		pc, _ := k.(*parkConn)
		switch st := http.ConnState(r.state.Load()); {
		case st == http.StateNew && betweenRequests(r, pc):
			c.Idle++ // handed over by an earlier process, silent since
		case st == http.StateNew:
			if now.Sub(r.since) > staleNewConn {
				c.StaleNew++
			} else {
				c.New++
			}
		case st == http.StateActive:
			c.Active++
		case st == http.StateIdle:
			c.Idle++
		}
		return true
	})
	return c
}

// closeIdle closes the HTTP/1 connections that have been idle for at
// least grace, counting from notBefore for those idle since before the
// drain, and that have no request bytes waiting: a client whose request
// is already in the socket buffer gets its answer instead of a reset.
// HTTP/2 connections are left to GOAWAY.
func (t *connTracker) closeIdle(now, notBefore time.Time, grace time.Duration) (closed int) {
	t.conns.Range(func(k, v any) bool {
		r := v.(*connRecord)
		pc, _ := k.(*parkConn)
		if !betweenRequests(r, pc) || connProto(r.proto.Load()) == protoHTTP2 {
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

// headerTimeUp reports whether a connection without a complete request
// header, since into the drain, has had its time. One that has sent part
// of a header (known on Linux, for plain TCP: the handshake bytes of a
// TLS connection say nothing) has it once it has received nothing for
// headerGrace, and at the latest headerGrace into the drain. Any other,
// one that has sent nothing (its request may be on its way) or a TLS one,
// has it idleGrace into the drain, as an idle keep-alive connection.
func headerTimeUp(c net.Conn, since, headerGrace, idleGrace time.Duration) bool {
	if _, isTLS := c.(*tls.Conn); !isTLS {
		if got, quiet, ok := received(c); ok && got {
			return since >= headerGrace || quiet >= headerGrace
		}
	}
	return since >= idleGrace
}

// closeHeaderless ends the connections that have not sent a complete
// request header (those net/http still reads a first header from: it has
// reported nothing since StateNew, and a TLS connection stays there until
// its handshake and its header are done; and those an earlier process
// handed over that have sent part of a header since) once their time is
// up (headerTimeUp; the drain began at notBefore). A connection with
// bytes waiting in its socket buffer is left to read them; a later call
// ends it if they did not complete its header. It returns how many it
// ended for the first time.
//
// It puts the socket's read deadline in the past instead of closing it:
// net/http's blocked read of the header (or the TLS handshake's) fails at
// once and net/http closes the connection quietly, while a header that
// net/http has just read in full, not yet reported as StateActive, is
// still answered (only its next read would fail). net/http may set its
// own deadline after this one when its goroutine for the connection has
// only just started: calls are repeated on every tick of the drain while
// the connection stays.
func (t *connTracker) closeHeaderless(now, notBefore time.Time, headerGrace, idleGrace time.Duration) (n int) {
	since := now.Sub(notBefore)
	t.conns.Range(func(k, v any) bool {
		r := v.(*connRecord)
		pc, _ := k.(*parkConn)
		if http.ConnState(r.state.Load()) != http.StateNew || betweenRequests(r, pc) ||
			connProto(r.proto.Load()) != protoUnknown {
			return true
		}
		c := k.(net.Conn)
		switch {
		case !headerTimeUp(c, since, headerGrace, idleGrace):
			return true // may still be sending
		case pendingInput(c):
			return true // bytes on their way to net/http
		}
		if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
			c = nc.NetConn() // under TLS or a parkConn: no deadline bookkeeping of theirs
		}
		if c.SetReadDeadline(time.Unix(1, 0)) == nil && r.cut.CompareAndSwap(false, true) {
			n++
		}
		return true
	})
	return n
}
