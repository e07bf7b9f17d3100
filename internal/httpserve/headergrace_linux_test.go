package httpserve

import (
	"context"
	"errors"
	"github.com/sdlife/sdlife/httpadapter"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestCloseHeaderlessWaitsForPendingInput: a connection without a
// complete header whose bytes are waiting in the socket buffer is left to
// read them; once they are read and its header is still incomplete, it is
// ended (its next read fails at once). Connections past their header
// (active, idle, HTTP/2) are never touched.
func TestCloseHeaderlessWaitsForPendingInput(t *testing.T) {
	l := listenLocal(t)
	defer l.Close()
	pair := func() (client, server net.Conn) {
		t.Helper()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return c, s
	}
	var tr connTracker
	client, server := pair()
	tr.accepted(context.Background(), server) // StateNew
	others := map[string][2]net.Conn{}
	for _, name := range []string{"active", "idle", "h2"} {
		c, s := pair()
		tr.accepted(context.Background(), s)
		switch name {
		case "active":
			tr.track(s, http.StateActive)
		case "idle":
			tr.track(s, http.StateIdle)
		case "h2":
			v, _ := tr.conns.Load(s)
			v.(*connRecord).proto.Store(int32(protoHTTP2))
		}
		others[name] = [2]net.Conn{c, s}
	}

	if _, err := client.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !pendingInput(server) {
		if time.Now().After(deadline) {
			t.Fatal("the partial header never reached the socket buffer")
		}
		time.Sleep(time.Millisecond)
	}
	if n := tr.closeHeaderless(time.Now(), time.Time{}, 0, 0); n != 0 {
		t.Fatalf("closeHeaderless() = %d with request bytes waiting, want 0", n)
	}
	buf := make([]byte, 64)
	if n, err := server.Read(buf); err != nil || n == 0 {
		t.Fatalf("reading the waiting bytes: %d, %v", n, err)
	}
	if n := tr.closeHeaderless(time.Now(), time.Time{}, 0, 0); n != 1 {
		t.Fatalf("closeHeaderless() = %d once the partial header was read, want 1", n)
	}
	if n := tr.closeHeaderless(time.Now(), time.Time{}, 0, 0); n != 0 {
		t.Fatalf("closeHeaderless() counted the same connection again: %d", n)
	}
	if _, err := server.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after closeHeaderless: %v, want a deadline error", err)
	}
	for name, cs := range others {
		if _, err := cs[0].Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if n, err := cs[1].Read(buf); n != 1 || err != nil {
			t.Fatalf("%s connection: read %d, %v: closeHeaderless ended it", name, n, err)
		}
	}
}

// TestDrainClosesQuietHeaderlessFirst: a connection with a partial header
// that has received nothing for HeaderGrace when the drain begins is
// closed at once; one that sent part of a header just before keeps its
// grace, counted from the drain's start, and one that has sent nothing
// (however long ago it connected) keeps IdleGrace, also from the drain's
// start.
func TestDrainClosesQuietHeaderlessFirst(t *testing.T) {
	const grace = 300 * time.Millisecond
	s, addr := startServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{HeaderGrace: grace, IdleGrace: grace, Server: &http.Server{ReadHeaderTimeout: time.Minute}},
		Handler: okHandler(),
	})
	dial := func(partial bool) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if partial {
			if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	var quiet []net.Conn
	for range 5 {
		quiet = append(quiet, dial(true))
	}
	silent := dial(false)
	waitConns(t, s, len(quiet)+1)
	// Until the kernel says they have been quiet for the grace.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := 0
		s.conn.conns.Range(func(k, _ any) bool {
			if got, q, ok := received(k.(net.Conn)); ok && got && q >= grace {
				n++
			}
			return true
		})
		if n == len(quiet) { // and the silent one as long
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections quiet for %v", n, len(quiet), grace)
		}
		time.Sleep(10 * time.Millisecond)
	}
	recent := dial(true)
	waitConns(t, s, len(quiet)+2)

	errc := make(chan error, 1)
	go func() { errc <- s.Shutdown(context.Background()) }()
	<-s.Draining()
	buf := make([]byte, 64)
	for i, c := range quiet {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(buf); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("quiet connection %d: read %d, %v; want closed", i, n, err)
		}
	}
	for name, c := range map[string]net.Conn{"partial header just before the drain": recent, "silent": silent} {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: %v, want still open when the quiet ones were closed", name, err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]net.Conn{"partial header just before the drain": recent, "silent": silent} {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(buf); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s, after the drain: read %d, %v; want closed", name, n, err)
		}
	}
}
