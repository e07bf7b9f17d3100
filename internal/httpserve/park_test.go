package httpserve

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// gatedConn is one end of a net.Pipe whose Read, once it has data, waits
// for the test to open the gate before returning it: the window in which
// the drain may park the connection while bytes are already on their way
// to net/http.
type gatedConn struct {
	net.Conn
	got  chan struct{} // a Read has data
	gate chan struct{} // let that Read return
}

func (g *gatedConn) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if n > 0 {
		g.got <- struct{}{}
		<-g.gate
	}
	return n, err
}

// parkPair is a parkConn over one end of a pipe, in the phase between two
// requests (StateIdle reported, idle deadline set), and the other end.
func parkPair(t *testing.T) (*parkConn, *gatedConn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	g := &gatedConn{Conn: a, got: make(chan struct{}, 1), gate: make(chan struct{})}
	pc := &parkConn{Conn: g}
	pc.idle()
	if err := pc.SetReadDeadline(time.Time{}); err != nil { // net/http's idle deadline
		t.Fatal(err)
	}
	return pc, g, b
}

func TestParkStates(t *testing.T) {
	t.Run("parked when the read gives up with nothing", func(t *testing.T) {
		pc, _, _ := parkPair(t)
		readErr := make(chan error, 1)
		go func() { _, err := pc.Read(make([]byte, 4)); readErr <- err }()
		if !pc.park() {
			t.Fatal("park refused a connection between requests")
		}
		if err := <-readErr; !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("net/http's read returned %v, want a deadline error", err)
		}
		if err := pc.Close(); err != nil { // net/http gives it up
			t.Fatal(err)
		}
		waitReleased(t, pc)
		if !pc.giveUp() || !pc.parked() {
			t.Fatal("not parked after net/http let go")
		}
		if isClosedPipe(pc.Conn) {
			t.Fatal("Close while parked closed the socket")
		}
	})
	t.Run("bytes overtaking the park abort it", func(t *testing.T) {
		pc, g, peer := parkPair(t)
		got := make(chan []byte, 1)
		go func() {
			buf := make([]byte, 4)
			n, _ := pc.Read(buf)
			got <- buf[:n]
		}()
		go peer.Write([]byte("GET "))
		<-g.got // the bytes are read, not yet returned
		if !pc.park() {
			t.Fatal("park refused")
		}
		close(g.gate)
		if b := <-got; string(b) != "GET " {
			t.Fatalf("net/http read %q", b)
		}
		waitReleased(t, pc)
		if pc.giveUp() || pc.parked() {
			t.Fatal("parked although a request arrived")
		}
		// net/http reads on, with no deadline left over from the park.
		go peer.Write([]byte("/ HTTP/1.1\r\n"))
		g.gate = make(chan struct{})
		close(g.gate)
		go func() { <-g.got }()
		if _, err := pc.Read(make([]byte, 32)); err != nil {
			t.Fatalf("read after the aborted park: %v", err)
		}
	})
	t.Run("the next request's deadline aborts it", func(t *testing.T) {
		pc, _, _ := parkPair(t)
		if !pc.park() {
			t.Fatal("park refused")
		}
		// net/http's Peek was served from its buffer: it sets the
		// request's deadline and reads on.
		if err := pc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		waitReleased(t, pc)
		if pc.giveUp() {
			t.Fatal("parked although net/http began the next request")
		}
		if err := pc.Close(); err != nil || !isClosedPipe(pc.Conn) {
			t.Fatalf("Close after an aborted park: %v, closed %v", err, isClosedPipe(pc.Conn))
		}
	})
	t.Run("parked before net/http set its idle deadline", func(t *testing.T) {
		pc, _, _ := parkPair(t)
		pc.idle() // StateIdle reported; the idle deadline comes after the park
		if !pc.park() {
			t.Fatal("park refused")
		}
		if err := pc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil { // net/http's idle deadline
			t.Fatal(err)
		}
		if _, err := pc.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read after the idle deadline: %v, want the park's deadline error", err)
		}
		pc.Close()
		waitReleased(t, pc)
		if !pc.giveUp() {
			t.Fatal("not parked")
		}
	})
	t.Run("an adopted connection parks through h2c's preface check", func(t *testing.T) {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		pc := &parkConn{Conn: &gatedConn{Conn: a, got: make(chan struct{}, 1), gate: make(chan struct{})}, adopted: true}
		pc.phase.Store(phaseIdle)
		if err := pc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil { // the header deadline, before any read
			t.Fatal(err)
		}
		if !pc.park() {
			t.Fatal("park refused a silent adopted connection")
		}
		if _, err := pc.Read(make([]byte, 24)); !errors.Is(err, os.ErrDeadlineExceeded) { // the preface check
			t.Fatalf("preface read: %v", err)
		}
		// net/http reads the request next, after no deadline call: it
		// must fail at once, without a byte taken from the socket.
		go b.Write([]byte("GET / HTTP/1.1\r\n"))
		if n, err := pc.Read(make([]byte, 4096)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("request read: %d bytes, %v; want the park's error and no byte", n, err)
		}
		pc.Close()
		waitReleased(t, pc)
		if !pc.giveUp() {
			t.Fatal("not parked")
		}
	})
	t.Run("refused", func(t *testing.T) {
		tests := []struct {
			name string
			give func(pc *parkConn)
		}{
			{"serving a request", func(pc *parkConn) { pc.phase.Store(phaseRequest) }},
			{"bytes read since idle", func(pc *parkConn) { pc.read.Store(2) }},
			{"pipelining client", func(pc *parkConn) { pc.pipeline.Store(true) }},
			{"parked before", func(pc *parkConn) { pc.state.Store(parkAborted) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				pc, _, _ := parkPair(t)
				tt.give(pc)
				if pc.park() {
					t.Fatal("park accepted")
				}
			})
		}
	})
}

// isClosedPipe reports whether the pipe end under c was closed; a
// deadline cannot be set on a closed pipe.
func isClosedPipe(c net.Conn) bool {
	return c.(*gatedConn).Conn.SetReadDeadline(time.Time{}) != nil
}

// waitReleased waits until the park ended one way or the other.
func waitReleased(t *testing.T, pc *parkConn) {
	t.Helper()
	select {
	case <-pc.released:
	case <-time.After(5 * time.Second):
		t.Fatal("the park never ended: neither parked nor aborted")
	}
}

// TestParkAfterBackgroundByte: a byte net/http's background read takes
// while a request is served begins the next request (a proxy's pool
// sends it as soon as it has the response). The connection is not
// parkable while net/http holds that byte, and is again once the request
// it began has been read: as net/http drives a parkConn, with a pipe.
func TestParkAfterBackgroundByte(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	pc := &parkConn{Conn: a} // serving the first request
	const next = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
	written := make(chan error, 1)
	go func() { _, err := b.Write([]byte(next)); written <- err }()
	if n, err := pc.Read(make([]byte, 1)); n != 1 || err != nil { // the background read
		t.Fatalf("background read: %d, %v", n, err)
	}
	// The response is written; StateIdle, the idle deadline.
	pc.idle()
	if err := pc.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if pc.park() {
		t.Fatal("parked while net/http holds the next request's first byte")
	}
	// net/http's peek for the next request reads the rest, then sets the
	// request's header deadline, reads and answers it.
	rest := make([]byte, len(next))
	n, err := pc.Read(rest)
	if err != nil || string(rest[:n]) != next[1:] {
		t.Fatalf("the rest of the request: %q, %v", rest[:n], err)
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	if err := pc.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	pc.idle()
	if err := pc.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if !pc.park() {
		t.Fatal("not parkable between two requests after the one the background byte began")
	}
	pc.giveUp() // nobody reads: the park ends, not parked
}
