package httpadapter

import (
	"context"
	"errors"
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
	if n := tr.closeHeaderless(); n != 0 {
		t.Fatalf("closeHeaderless() = %d with request bytes waiting, want 0", n)
	}
	buf := make([]byte, 64)
	if n, err := server.Read(buf); err != nil || n == 0 {
		t.Fatalf("reading the waiting bytes: %d, %v", n, err)
	}
	if n := tr.closeHeaderless(); n != 1 {
		t.Fatalf("closeHeaderless() = %d once the partial header was read, want 1", n)
	}
	if n := tr.closeHeaderless(); n != 0 {
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
