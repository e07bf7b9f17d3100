package httpserve

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The two-step GOAWAY of RFC 9113 §6.8, on every HTTP/2 connection the
// drain ends, h2c and h2 over TLS alike.
//
// net/http's HTTP/2 server shuts a connection down with one GOAWAY that
// names the last stream it processed. A client that opened streams just
// before reading it sees them refused unprocessed: Go's client retries
// them, h2load and haproxy (retries 0) report them failed. The RFC's way
// is a GOAWAY with last stream ID 2^31-1 first ("open no more streams"),
// then, one round trip later, the final GOAWAY with the real last stream
// ID: every stream the client opened before it read the first one is
// then processed.
//
// The server stays net/http's own HTTP/2 server; an h2Conn sits between it
// and the connection (above TLS) and follows the frame boundaries of both
// directions, which costs a few comparisons per frame and no system call
// or allocation. When the drain begins, it:
//
//  1. writes GOAWAY(2^31-1, NO_ERROR) and a PING with a payload of its
//     own at the next frame boundary of the server's output (after the
//     server's SETTINGS, which must come first);
//  2. watches the client's frames for the PING's ACK. The client sends it
//     after every frame it wrote before it read the GOAWAY, so every
//     stream it opened in the round trip is on the wire before the ACK;
//  3. right after the ACK, hands the server a GOAWAY as if the client had
//     sent it. net/http's server processes a connection's frames strictly
//     in order, one at a time, so all the streams before the ACK are
//     processed by then; on a GOAWAY from its peer it begins its own
//     graceful shutdown: it sends the final GOAWAY with the highest stream
//     ID it processed, refuses later streams, and finishes the others;
//  4. once the final GOAWAY is out, the last frame of every stream it kept
//     written (the h2Conn follows which streams the client opened and
//     which the server ended) and all of it acknowledged by the client's
//     TCP, the connection is half-closed, and closed when the half-close
//     is acknowledged too (finishGoneAway): no drain waits out net/http's
//     one-second GOAWAY timeout.
//
// A client that does not answer the PING within ServerConfig.GoawayAckTimeout
// gets step 3 all the same: the server's read is woken by a read deadline
// in the past, and the GOAWAY handed to it at the next frame boundary.
//
// The connection is handed to net/http's HTTP/2 server through its
// "unencrypted_http2" TLSNextProto entry, the hand-off net/http and
// golang.org/x/net/http2 share for connections they pass to each other as
// net.Conns; when a Go release lacks it, the Server falls back to the
// single GOAWAY (installTwoStep returns false).

// HTTP/2 frame layout (RFC 9113 §4.1) and the frames the two-step uses.
const (
	frameHeaderLen     = 9
	frameTypeData      = 0x0
	frameTypeHeaders   = 0x1
	frameTypeRstStream = 0x3
	frameTypePing      = 0x6
	frameTypeGoaway    = 0x7
	flagAck            = 0x1
	flagEndStream      = 0x1
	maxStreamID        = 1<<31 - 1
	// http2Preface is the client connection preface (RFC 9113 §3.4).
	http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	// prefaceTimeout bounds the wait for a TLS client's preface, as
	// net/http's HTTP/2 server does for its own read of it.
	prefaceTimeout = 10 * time.Second
)

// DefaultGoawayAckTimeout is ServerConfig.GoawayAckTimeout's default.
const DefaultGoawayAckTimeout = time.Second

// nextProtoUnencryptedHTTP2 is the TLSNextProto key under which net/http
// (and x/net/http2) serve an HTTP/2 connection handed over as a net.Conn.
const nextProtoUnencryptedHTTP2 = "unencrypted_http2"

// frameCursor follows the frame boundaries of one direction of an HTTP/2
// connection.
type frameCursor struct {
	hdr    [frameHeaderLen]byte
	nhdr   int    // header bytes collected
	left   uint32 // payload bytes of the current frame still to come
	frames int64  // complete frame headers seen
}

// atBoundary reports whether the next byte begins a frame.
func (c *frameCursor) atBoundary() bool { return c.nhdr == 0 && c.left == 0 }

// step advances over the start of p up to the end of the current header
// or payload and returns how many bytes it took; header is true when a
// header was completed (c.hdr holds it).
func (c *frameCursor) step(p []byte) (n int, header bool) {
	if c.left > 0 {
		n = len(p)
		if uint32(n) > c.left {
			n = int(c.left)
		}
		c.left -= uint32(n)
		return n, false
	}
	n = copy(c.hdr[c.nhdr:], p)
	c.nhdr += n
	if c.nhdr < frameHeaderLen {
		return n, false
	}
	c.nhdr = 0
	c.left = uint32(c.hdr[0])<<16 | uint32(c.hdr[1])<<8 | uint32(c.hdr[2])
	c.frames++
	return n, true
}

// h2Conn is an HTTP/2 connection under net/http's HTTP/2 server that can
// take part in the two-step GOAWAY (see above).
type h2Conn struct {
	net.Conn // the connection net/http accepted (*tls.Conn above TLS)

	// Written by the server (one Write at a time) and by announce.
	wmu       sync.Mutex
	out       frameCursor
	ending    uint32 // the stream the frame being written ends, or 0
	goawayOut bool   // the frame being written is the server's GOAWAY
	lastOut   [4]byte
	nlast     int

	// The client's streams whose last frame from the server has not been
	// written yet (ended): opened by the reader, ended by the writer or
	// by the client's RST_STREAM. Allocated once, at most the server's
	// concurrent streams long.
	smu   sync.Mutex
	open  []uint32
	maxIn uint32 // highest stream the client opened (reader only)

	// Read by the server, one Read at a time.
	in        frameCursor
	pingAck   bool // the frame being read is a PING ACK
	ackData   [8]byte
	nack      int
	handed    bool   // the handed GOAWAY was begun
	synthLeft int    // bytes of the handed GOAWAY still to return
	stash     []byte // bytes read past a frame boundary the handed GOAWAY goes before

	// Shared with the drain.
	askOnce       sync.Once
	announceAsked atomic.Bool   // the drain began for this connection
	announced     atomic.Bool   // GOAWAY(2^31-1)+PING written (or tried)
	askedAt       atomic.Int64  // UnixNano of announceAsked
	ping          [8]byte       // set before announceAsked
	acked         atomic.Bool   // the client acknowledged the PING
	handIn        atomic.Bool   // hand the server a GOAWAY at the next boundary
	waking        atomic.Bool   // a read deadline in the past is set to wake the reader
	finalAsked    atomic.Bool   // the server was handed its GOAWAY
	finalSent     atomic.Bool   // the server's own GOAWAY went out, all of it
	finalLast     atomic.Uint32 // its last stream ID
	closed        atomic.Bool   // closed by finishTwoStep
}

// h2TLSConn is an h2Conn above TLS: net/http's HTTP/2 server finds the TLS
// state through ConnectionState, for r.TLS and its TLS checks.
type h2TLSConn struct {
	*h2Conn
	tc *tls.Conn
}

func (c *h2TLSConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// h2ConnOf returns the h2Conn c is, or nil.
func h2ConnOf(c net.Conn) *h2Conn {
	switch w := c.(type) {
	case *h2Conn:
		return w
	case *h2TLSConn:
		return w.h2Conn
	}
	return nil
}

// NetConn returns the connection net/http accepted.
func (c *h2Conn) NetConn() net.Conn { return c.Conn }

// goawayFrame returns a GOAWAY frame with last stream ID last and
// NO_ERROR.
func goawayFrame(last uint32) [frameHeaderLen + 8]byte {
	var f [frameHeaderLen + 8]byte
	f[2] = 8
	f[3] = frameTypeGoaway
	binary.BigEndian.PutUint32(f[9:], last)
	return f
}

// handedGoaway is the GOAWAY handed to the server as if from the client.
var handedGoaway = goawayFrame(0)

func (c *h2Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	n, err := c.writeLocked(p)
	c.wmu.Unlock()
	if c.announceAsked.Load() && !c.announced.Load() {
		c.tryAnnounce() // this Write may have ended the frame an announce waited for
	}
	return n, err
}

func (c *h2Conn) writeLocked(p []byte) (int, error) {
	if !c.announceAsked.Load() || c.announced.Load() {
		n, err := c.Conn.Write(p)
		c.scanOut(p[:n])
		return n, err
	}
	// The announce goes in at the first frame boundary after the
	// server's first frame (its SETTINGS, RFC 9113 §3.4).
	off := 0
	for !c.canAnnounce() && off < len(p) {
		off += c.stepOut(p[off:])
	}
	n := 0
	if off > 0 {
		var err error
		if n, err = c.Conn.Write(p[:off]); err != nil {
			return n, err
		}
	}
	if !c.canAnnounce() {
		return n, nil // all of p, and no boundary yet
	}
	if err := c.announceLocked(); err != nil {
		return n, err
	}
	if off == len(p) {
		return n, nil
	}
	m, err := c.Conn.Write(p[off:])
	c.scanOut(p[off : off+m])
	return n + m, err
}

// canAnnounce reports whether the announce can be written now.
func (c *h2Conn) canAnnounce() bool { return c.out.frames > 0 && c.out.atBoundary() }

// stepOut follows the server's frames over the start of p and returns how
// many bytes it took.
func (c *h2Conn) stepOut(p []byte) int {
	payload := c.out.left > 0
	n, header := c.out.step(p)
	if header {
		h := &c.out.hdr
		c.ending, c.goawayOut, c.nlast = 0, h[3] == frameTypeGoaway, 0
		if id := streamID(h); id&1 == 1 && (h[3] == frameTypeRstStream ||
			(h[3] == frameTypeData || h[3] == frameTypeHeaders) && h[4]&flagEndStream != 0) {
			c.ending = id
		}
	} else if payload && c.goawayOut && c.nlast < len(c.lastOut) {
		c.nlast += copy(c.lastOut[c.nlast:], p[:n])
	}
	if c.out.left == 0 && c.out.nhdr == 0 { // the frame is all written
		if c.ending != 0 {
			c.endStream(c.ending)
			c.ending = 0
		}
		if c.goawayOut {
			c.goawayOut = false
			c.finalLast.Store(binary.BigEndian.Uint32(c.lastOut[:]) & maxStreamID)
			c.finalSent.Store(true)
		}
	}
	return n
}

// streamID returns the stream of a frame header.
func streamID(h *[frameHeaderLen]byte) uint32 {
	return binary.BigEndian.Uint32(h[5:]) & maxStreamID
}

// openStream records a stream the client opened.
func (c *h2Conn) openStream(id uint32) {
	c.smu.Lock()
	if c.open == nil {
		c.open = make([]uint32, 0, 16)
	}
	c.open = append(c.open, id)
	c.smu.Unlock()
}

// endStream records that the stream needs nothing more from the server.
func (c *h2Conn) endStream(id uint32) {
	c.smu.Lock()
	if i := slices.Index(c.open, id); i >= 0 {
		c.open[i] = c.open[len(c.open)-1]
		c.open = c.open[:len(c.open)-1]
	}
	c.smu.Unlock()
}

// streamsDone reports whether every stream up to last has had its last
// frame from the server written to the connection (streams above it were
// refused by the final GOAWAY: the server never answers them).
func (c *h2Conn) streamsDone(last uint32) bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	for _, id := range c.open {
		if id <= last {
			return false
		}
	}
	return true
}

// scanOut follows the server's frames in p.
func (c *h2Conn) scanOut(p []byte) {
	for len(p) > 0 {
		p = p[c.stepOut(p):]
	}
}

// ask begins the two-step for this connection and reports whether it
// was the first to; the announce itself is written by tryAnnounce or by
// the server's next Write.
func (c *h2Conn) ask(now time.Time) (first bool) {
	c.askOnce.Do(func() {
		binary.LittleEndian.PutUint64(c.ping[:], rand.Uint64())
		c.askedAt.Store(now.UnixNano())
		c.announceAsked.Store(true)
		first = true
	})
	return first
}

// tryAnnounce writes the announce if the server's output is at a frame
// boundary. When a Write of the server's holds the lock, that Write
// announces instead, at its first boundary or once it returns.
func (c *h2Conn) tryAnnounce() {
	if !c.wmu.TryLock() {
		return
	}
	if !c.announced.Load() && c.canAnnounce() {
		_ = c.announceLocked() // a failed write fails the server's next one too
	}
	c.wmu.Unlock()
}

// announceLocked writes GOAWAY(2^31-1, NO_ERROR) and the PING.
func (c *h2Conn) announceLocked() error {
	var b [2 * (frameHeaderLen + 8)]byte
	g := goawayFrame(maxStreamID)
	copy(b[:], g[:])
	ping := b[len(g):]
	ping[2] = 8
	ping[3] = frameTypePing
	copy(ping[frameHeaderLen:], c.ping[:])
	c.announced.Store(true)
	_, err := c.Conn.Write(b[:])
	return err
}

// cut hands the server its GOAWAY without waiting any longer for the
// PING's ACK: the server's read, wherever it waits, is woken by a read
// deadline in the past (Read lifts it again). Before a TLS client's
// preface was read, the wait for it fails and the connection is closed.
// It reports whether this was the first cut of a connection whose client
// had not acknowledged the PING.
func (c *h2Conn) cut() (first bool) {
	first = !c.handIn.Swap(true) && !c.acked.Load()
	c.waking.Store(true)
	_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
	return first
}

// pending reports whether the connection's two-step began and the server
// was not handed its GOAWAY yet (nor sent one of its own).
func (c *h2Conn) pending() bool {
	return c.announceAsked.Load() && !c.finalAsked.Load() && !c.finalSent.Load()
}

// overdue reports whether the client had bound to acknowledge the PING.
func (c *h2Conn) overdue(now time.Time, bound time.Duration) bool {
	return now.Sub(time.Unix(0, c.askedAt.Load())) >= bound
}

// Read gives the server the client's bytes, with the handed GOAWAY
// (step 3 above) put in at the first frame boundary after handIn: the
// bytes read past that boundary wait in stash until it is out. A read
// woken by the drain's deadline in the past (waking) is not an error.
//
// One loop over the reader's states, in the order they take turns (the
// handed GOAWAY being returned, due, the stash, the socket), keeps the
// order of the bytes visible in one place; it is the server's hot read
// path and stays one function (cyclomatic 15).
func (c *h2Conn) Read(p []byte) (int, error) {
	for {
		if c.synthLeft > 0 {
			n := copy(p, handedGoaway[len(handedGoaway)-c.synthLeft:])
			c.synthLeft -= n
			if c.synthLeft == 0 {
				c.finalAsked.Store(true)
			}
			return n, nil
		}
		if !c.handed && c.handIn.Load() && c.in.atBoundary() {
			c.handed = true
			c.synthLeft = len(handedGoaway)
			continue
		}
		if len(c.stash) > 0 {
			n := copy(p, c.stash)
			c.stash = c.stash[n:]
			if k := c.scanIn(p, n); k > 0 {
				return k, nil
			}
			continue
		}
		n, err := c.Conn.Read(p)
		if err != nil && c.waking.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
			c.waking.Store(false)
			_ = c.Conn.SetReadDeadline(time.Time{})
			err = nil
			if n == 0 {
				continue
			}
		}
		if k := c.scanIn(p, n); k > 0 || n == 0 {
			return k, err
		}
		// Everything read goes after the handed GOAWAY.
	}
}

// scanIn follows the client's frames in p[:n] and returns how many of
// those bytes the server gets now: when the handed GOAWAY is due at a
// frame boundary within them, the bytes after it are kept for later
// Reads.
func (c *h2Conn) scanIn(p []byte, n int) int {
	for off := 0; off < n; {
		if !c.handed && c.in.atBoundary() && c.handIn.Load() {
			rest := append([]byte(nil), p[off:n]...)
			c.stash = append(rest, c.stash...)
			return off
		}
		off += c.stepIn(p[off:n])
	}
	return n
}

// stepIn follows the client's frames over the start of p and returns how
// many bytes it took; it notes the ACK of the announce's PING.
func (c *h2Conn) stepIn(p []byte) int {
	payload := c.in.left > 0
	n, header := c.in.step(p)
	switch {
	case header:
		h := &c.in.hdr
		c.pingAck = h[3] == frameTypePing && h[4]&flagAck != 0 && c.in.left == 8
		c.nack = 0
		switch id := streamID(h); {
		case id&1 == 0:
		case h[3] == frameTypeHeaders && id > c.maxIn:
			c.maxIn = id
			c.openStream(id)
		case h[3] == frameTypeRstStream:
			c.endStream(id)
		}
	case payload && c.pingAck:
		c.nack += copy(c.ackData[c.nack:], p[:n])
		if c.in.left == 0 {
			c.pingAck = false
			if c.announceAsked.Load() && c.ackData == c.ping {
				c.acked.Store(true)
				c.handIn.Store(true)
			}
		}
	}
	return n
}

// handOff wraps an HTTP/2 connection for net/http's "unencrypted_http2"
// TLSNextProto entry, which takes a *tls.Conn whose NetConn has an
// UnencryptedNetConn method returning the connection to serve.
func handOff(c net.Conn) *tls.Conn {
	return tls.Client(handOffConn{c: c}, nil)
}

type handOffConn struct {
	net.Conn // nil: never used as a connection
	c        net.Conn
}

func (h handOffConn) UnencryptedNetConn() net.Conn { return h.c }

// unencrypted returns the connection net/http handed over in tc, or nil.
func unencrypted(tc *tls.Conn) net.Conn {
	if u, ok := tc.NetConn().(interface{ UnencryptedNetConn() net.Conn }); ok {
		return u.UnencryptedNetConn()
	}
	return nil
}

// setupListener fails Accept at once: serving it only sets net/http up.
type setupListener struct{}

var errNoAccept = errors.New("httpadapter: no connection")

func (setupListener) Accept() (net.Conn, error) { return nil, errNoAccept }
func (setupListener) Close() error              { return nil }
func (setupListener) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// twoStepInstall is installTwoStep; tests replace it to serve HTTP/2 as
// on a Go release without the "unencrypted_http2" entry (one GOAWAY).
var twoStepInstall = installTwoStep

// installTwoStep makes every HTTP/2 connection srv serves an h2Conn
// registered with t (registerH2), and reports whether it could: net/http
// must provide its "unencrypted_http2" entry, as Go 1.24 and later do.
// It must run before srv serves.
func installTwoStep(srv *http.Server, t *connTracker) bool {
	// net/http fills TLSNextProto with its HTTP/2 server when it first
	// serves: make it do so now, with a listener that fails at once.
	base := srv.BaseContext
	srv.BaseContext = nil
	_ = srv.Serve(setupListener{})
	srv.BaseContext = base
	serve := srv.TLSNextProto[nextProtoUnencryptedHTTP2]
	if serve == nil {
		return false
	}
	srv.TLSNextProto[nextProtoUnencryptedHTTP2] = func(hs *http.Server, tc *tls.Conn, h http.Handler) {
		nc := unencrypted(tc)
		if nc == nil {
			serve(hs, tc, h) // it says why
			return
		}
		w := &h2Conn{Conn: nc}
		t.registerH2(nc, w)
		serve(hs, handOff(w), h)
	}
	if _, ok := srv.TLSNextProto["h2"]; ok {
		srv.TLSNextProto["h2"] = func(hs *http.Server, tc *tls.Conn, h http.Handler) {
			w := &h2Conn{Conn: tc}
			t.registerH2(tc, w)
			if !readPreface(tc) {
				tc.Close()
				return
			}
			serve(hs, handOff(&h2TLSConn{h2Conn: w, tc: tc}), h)
		}
	}
	return true
}

// readPreface reads a TLS client's connection preface, which net/http's
// "unencrypted_http2" entry expects read already. A drain that cuts the
// connection (h2Conn.cut) ends the wait.
func readPreface(tc *tls.Conn) bool {
	var buf [len(http2Preface)]byte
	if tc.SetReadDeadline(time.Now().Add(prefaceTimeout)) != nil {
		return false
	}
	if _, err := io.ReadFull(tc, buf[:]); err != nil || !bytes.Equal(buf[:], []byte(http2Preface)) {
		return false
	}
	return tc.SetReadDeadline(time.Time{}) == nil
}

// The drain's side of the two-step (see Server.Shutdown), in steps that
// any drain of a Server's connections can take as they are, the
// hand-over to a new process on an upgrade among them: announceGoaways
// when it begins, then pressGoaways until none is pending (every
// connection had its final GOAWAY) and finishGoneAway until every HTTP/2
// connection closed (twoStepOpen).

// registerH2 records the h2Conn that serves the connection c net/http
// accepted; during the drain its two-step begins at once.
func (t *connTracker) registerH2(c net.Conn, w *h2Conn) {
	v, ok := t.conns.Load(c)
	if !ok {
		return
	}
	r := v.(*connRecord)
	r.h2.Store(w)
	if t.draining.Load() {
		t.announce(w, time.Now())
	}
	// Only now: the drain waits for it as a new connection until it
	// waits for its two-step (pressGoaways).
	r.proto.Store(int32(protoHTTP2))
}

// announce begins w's two-step; the write of the announce runs in a
// goroutine of the tracker's (a client that does not read may block it
// until the connection closes), which waitAnnounces waits for.
func (t *connTracker) announce(w *h2Conn, now time.Time) {
	if !w.ask(now) {
		return
	}
	t.announceMu.Lock()
	defer t.announceMu.Unlock()
	if t.announceDone {
		return // the drain ended: the connection is being closed
	}
	t.announcing.Go(w.tryAnnounce)
}

// waitAnnounces waits for the announce goroutines once every connection
// was closed.
func (t *connTracker) waitAnnounces() {
	t.announceMu.Lock()
	t.announceDone = true
	t.announceMu.Unlock()
	t.announcing.Wait()
}

// announceGoaways begins the two-step on every HTTP/2 connection: the
// first step of the drain for them.
func (t *connTracker) announceGoaways(now time.Time) {
	t.conns.Range(func(_, v any) bool {
		if w := v.(*connRecord).h2.Load(); w != nil {
			t.announce(w, now)
		}
		return true
	})
}

// twoStepOpen returns how many connections with the two-step are open.
func (t *connTracker) twoStepOpen() (n int) {
	t.conns.Range(func(_, v any) bool {
		if v.(*connRecord).h2.Load() != nil {
			n++
		}
		return true
	})
	return n
}

// pressGoaways cuts the two-step short on the connections whose client
// did not acknowledge the PING within bound, and returns how many
// connections have not had their final GOAWAY yet.
func (t *connTracker) pressGoaways(now time.Time, bound time.Duration) (pending int) {
	t.conns.Range(func(_, v any) bool {
		w := v.(*connRecord).h2.Load()
		if w == nil || !w.pending() {
			return true
		}
		pending++
		if w.overdue(now, bound) && w.cut() { // again on every round: the server may lift the deadline
			t.goawayCut.Add(1)
		}
		return true
	})
	return pending
}

// finishTwoStep ends an HTTP/2 connection whose final GOAWAY went out
// once the last frame of every stream it did not refuse has been written
// to the connection (not merely buffered by the server: its idle state
// comes before its last flush) and the client's TCP acknowledged all of
// it: first a half-close (after TLS's close_notify), so that the client
// reads GOAWAY, then the end of the stream, and closes its side; then,
// once the half-close is acknowledged as well and the client has sent
// nothing since, a close, for a client that keeps its side open.
// Everything sent is in the client's socket buffer by then, and a close
// with nothing unread sends no reset. It returns 1 when it half-closed.
func finishTwoStep(r *connRecord, w *h2Conn, c net.Conn) int {
	if !w.finalSent.Load() || !w.streamsDone(w.finalLast.Load()) || !sendQueueEmpty(c) {
		return 0
	}
	if !r.finSent.Load() {
		if cw, ok := c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			r.finSent.Store(true)
			return 1
		}
		return 0
	}
	if !pendingInput(c) && w.closed.CompareAndSwap(false, true) {
		_ = c.Close() // net/http's HTTP/2 server sees its read fail and ends
	}
	return 0
}

// twoStep reports whether r came on a connection that gets the two-step
// GOAWAY: its handler must not ask net/http for a GOAWAY of its own
// ("Connection: close"), which would refuse the streams in flight.
func twoStep(r *http.Request) bool {
	rec, ok := r.Context().Value(connKey{}).(*connRecord)
	return ok && rec.h2.Load() != nil
}
