package httpserve

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Parking an idle HTTP/1 connection takes it away from net/http without a
// byte of it being read, so that the drain can hand the socket to the fd
// store with every unread byte still in the kernel's buffer: the next
// process then reads the client's next request itself.
//
// An idle keep-alive connection has one net/http goroutine waiting in
// Read for the next request. park asks that read to give up (a read
// deadline in the past). If it returns nothing, net/http gives the
// connection up and closes it, and parkConn.Close keeps the socket open
// instead. If bytes arrive first, the park is abandoned, the deadline
// lifted, and net/http reads and answers the request as usual (with
// "Connection: close", since the drain has begun). The two never meet
// half-way: park and net/http's own deadline calls are serialised, and a
// Read that returns bytes after the park was asked ends it.
//
// Only a connection that is provably between requests can be parked:
// net/http has set its idle deadline after reporting StateIdle and has
// not set the next request's deadline (it does both around the wait for
// the next request), and no byte was read since StateIdle. A client that
// pipelines (sends a request before the previous response arrived) may
// have bytes in net/http's buffers that the socket no longer holds; a
// connection on which net/http's one-byte background read returned data
// is not parked until the request that byte began has been read. A
// reverse proxy's keep-alive pool (nginx's upstream keepalive) does that
// often without pipelining: it sends the next request as soon as it has
// the response, and the request's first byte arrives while net/http,
// the response flushed, has not yet ended that read. A pipelined request
// of which net/http read exactly one to three bytes into its buffer along
// with the previous request is not detectable here; HTTP clients in use
// today do not pipeline.

// parkListener wraps the connections l accepts in parkConns.
type parkListener struct{ net.Listener }

// adoptingListener is a listener that says which connections an earlier
// process handed over (handoverListener).
type adoptingListener interface {
	acceptAdopted() (c net.Conn, adopted bool, err error)
	takeAdopted() []net.Conn
}

// takeAdopted returns the handed-over connections not accepted yet: a
// drain that begins right after the start hands them over again.
func (l parkListener) takeAdopted() []net.Conn {
	if al, ok := l.Listener.(adoptingListener); ok {
		return al.takeAdopted()
	}
	return nil
}

func (l parkListener) Accept() (net.Conn, error) {
	var (
		c       net.Conn
		adopted bool
		err     error
	)
	if al, ok := l.Listener.(adoptingListener); ok {
		c, adopted, err = al.acceptAdopted()
	} else {
		c, err = l.Listener.Accept()
	}
	if err != nil {
		return nil, err
	}
	pc := &parkConn{Conn: c, adopted: adopted}
	if adopted {
		// Between two requests, as it was when the earlier process
		// handed it over: it can be handed over again before its next
		// request, although net/http counts it as new.
		pc.phase.Store(phaseIdle)
	}
	return pc, nil
}

// The park states of a connection.
const (
	parkNone    int32 = iota // serving as usual
	parkAsked                // the drain asked net/http's read to give up
	parkParked               // net/http let go: the socket is the drain's
	parkAborted              // bytes arrived or a request began: served as usual
)

// The phases of an HTTP/1 connection between two requests, as the
// deadline calls show them. net/http sets one deadline between reporting
// StateIdle and waiting for the next request (the idle one), and the next
// once the request's first bytes came (the header one). On a connection
// handed over by an earlier process, which net/http takes for a new one,
// it sets the header deadline before the wait and the next only after
// the headers.
const (
	phaseRequest int32 = iota // reading or serving a request
	phaseIdle                 // StateIdle reported, or adopted; no deadline set since
	phaseWaiting              // the deadline before the wait set: waiting for the next request
)

type parkConn struct {
	net.Conn
	adopted bool // handed over by an earlier process

	mu       sync.Mutex // serialises park with net/http's deadline calls
	state    atomic.Int32
	phase    atomic.Int32
	read     atomic.Int64  // bytes read since StateIdle
	pipeline atomic.Bool   // a byte came in while a request was served; cleared when the next request is read
	failed   error         // guarded by mu: the read error the park caused; later reads fail with it
	released chan struct{} // made by park; closed when parked or aborted
}

// idle is called from the StateIdle hook, on net/http's goroutine, before
// it sets the idle deadline.
func (c *parkConn) idle() {
	c.read.Store(0)
	c.phase.Store(phaseIdle)
}

func (c *parkConn) Read(p []byte) (int, error) {
	if c.state.Load() == parkAsked {
		c.mu.Lock()
		err := c.failed
		c.mu.Unlock()
		if err != nil {
			// net/http already saw the park's read fail and reads on (an
			// adopted connection's h2c preface check fails, then the
			// request is read): it fails again without a byte read.
			return 0, err
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.read.Add(int64(n))
		if len(p) == 1 && c.phase.Load() == phaseRequest {
			c.pipeline.Store(true) // net/http's background read: a pipelined byte
		}
		if c.state.Load() == parkAsked {
			c.abort()
		}
	} else if err != nil && c.state.Load() == parkAsked {
		c.mu.Lock()
		if c.state.Load() == parkAsked && c.failed == nil {
			c.failed = err
		}
		c.mu.Unlock()
	}
	return n, err
}

// SetReadDeadline is net/http's: it marks the phases between requests.
// While a park is asked, the park's deadline stays; a deadline for the
// next request ends the park, unless net/http already saw the park's read
// fail.
func (c *parkConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.phase.Load() {
	case phaseIdle:
		c.phase.Store(phaseWaiting)
	case phaseWaiting:
		c.phase.Store(phaseRequest) // the next request's deadline
		// net/http has its first bytes (the wait for it peeks four),
		// the background read's byte first: net/http holds no byte of a
		// later request once this one is answered, unless its own
		// background read takes one again.
		c.pipeline.Store(false)
		if c.failed == nil && c.state.CompareAndSwap(parkAsked, parkAborted) {
			close(c.released)
		}
	}
	if c.state.Load() == parkAsked {
		return nil // keep the deadline in the past until net/http lets go
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *parkConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// abort ends a park that bytes overtook: net/http goes on reading.
func (c *parkConn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.CompareAndSwap(parkAsked, parkAborted) {
		_ = c.Conn.SetReadDeadline(time.Time{}) // net/http sets the request's own
		close(c.released)
	}
}

// park asks net/http's read to give the connection up; false when the
// connection is not provably between requests. Wait on released, then
// check parked.
func (c *parkConn) park() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase.Load() == phaseRequest || c.read.Load() != 0 || c.pipeline.Load() ||
		!c.state.CompareAndSwap(parkNone, parkAsked) {
		return false
	}
	c.released = make(chan struct{})
	if err := c.Conn.SetReadDeadline(time.Unix(1, 0)); err != nil {
		c.state.Store(parkAborted)
		close(c.released)
		return false
	}
	return true
}

// giveUp ends a park that net/http did not answer in time; true when the
// connection was parked after all.
func (c *parkConn) giveUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.CompareAndSwap(parkAsked, parkAborted) {
		_ = c.Conn.SetReadDeadline(time.Time{})
		close(c.released)
	}
	return c.state.Load() == parkParked
}

func (c *parkConn) parked() bool { return c.state.Load() == parkParked }

// Close is net/http's: while a park is asked, it is how net/http gives
// the connection up, and the socket stays open for the drain.
func (c *parkConn) Close() error {
	c.mu.Lock()
	if c.state.CompareAndSwap(parkAsked, parkParked) {
		close(c.released)
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// NetConn returns the wrapped connection (as *tls.Conn has it), for
// ConnStore and the socket queries.
func (c *parkConn) NetConn() net.Conn { return c.Conn }

// ReadFrom keeps sendfile and splice for responses served from files.
func (c *parkConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite is net/http's half-close after a "Connection: close"
// response.
func (c *parkConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// parkWait bounds the wait for net/http to let go of the connections the
// drain parks. A read deadline in the past wakes its read at once; the
// bound only keeps a drain from hanging on a connection that behaves
// otherwise, which is then served as usual.
const parkWait = time.Second

// handOver parks the idle HTTP/1 connections, as many as the ConnStore
// has room for, and hands those parked, and unaccepted ones the listener
// still held (see takeAdopted), to the fd store; it returns how many it
// handed over. Connections it cannot park go on as without it.
//
// It is the drain's step 5 (see Server.drain), with a ConnStore: the idle
// HTTP/1 keep-alive connections between two requests, and those an
// earlier process handed over that have sent nothing since, go to the fd
// store without a byte of theirs read. The next process serves them, and
// their clients see no close. A request that arrives meanwhile ends its
// connection's hand-over and is answered here.
func (s *Server) handOver(ctx context.Context, unaccepted []net.Conn) int {
	cs := s.cfg.ConnStore
	parked := append(unaccepted, s.parkIdle(ctx, cs.Room()-len(unaccepted))...)
	if len(parked) == 0 {
		return 0
	}
	stored, rest, err := cs.Store(parked)
	for _, c := range stored {
		_ = closeSocket(c) // the manager holds a duplicate: no FIN
	}
	for _, c := range rest {
		_ = closeSocket(c)
	}
	if err != nil || len(rest) > 0 {
		s.log.Warn("httpadapter: idle connections not handed over were closed", "closed", len(rest), "err", err)
	}
	return len(stored)
}

// parkIdle parks up to room idle HTTP/1 connections and returns those
// net/http let go of; the others go on as before.
func (s *Server) parkIdle(ctx context.Context, room int) []net.Conn {
	if room <= 0 {
		return nil
	}
	var asked []*parkConn
	s.conn.conns.Range(func(k, v any) bool {
		pc, ok := k.(*parkConn)
		r := v.(*connRecord)
		if ok && betweenRequests(r, pc) && connProto(r.proto.Load()) == protoUnknown && pc.park() {
			asked = append(asked, pc)
		}
		return len(asked) < room
	})
	wait, cancel := context.WithTimeout(ctx, parkWait)
	defer cancel()
	parked := make([]net.Conn, 0, len(asked))
	for _, pc := range asked {
		select {
		case <-pc.released:
		case <-wait.Done():
		}
		if pc.giveUp() {
			parked = append(parked, pc)
		}
	}
	return parked
}

// closeSocket closes the socket under a parked connection, or an
// unaccepted one, without net/http's involvement.
func closeSocket(c net.Conn) error {
	if pc, ok := c.(*parkConn); ok {
		return pc.Conn.Close()
	}
	return c.Close()
}

// betweenRequests reports whether a tracked connection is idle between
// two requests: idle after a response, or handed over by an earlier
// process and silent since (net/http reports those as new).
func betweenRequests(r *connRecord, pc *parkConn) bool {
	switch http.ConnState(r.state.Load()) {
	case http.StateIdle:
		return true
	case http.StateNew:
		return pc != nil && pc.adopted && pc.read.Load() == 0
	}
	return false
}
