package httpserve

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// ParkIdle takes the idle connections from the server (a request sent on
// one meanwhile waits, unread), and Unpark gives them back: the waiting
// request is then answered on the same connection, and so is the next.
func TestParkIdleUnpark(t *testing.T) {
	const clients = 5
	m := sdtest.NewManager(t, sdtest.WithFDStore(64))
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
	srv, res := startGeneration(t, "srv", cfg, true)
	defer srv.Shutdown(context.Background())
	addr := res.Listener.Addr().String()
	conns, readers := openIdle(t, addr, clients, "srv")
	waitIdle(t, srv, clients)

	parked := srv.ParkIdle(context.Background())
	if len(parked) != clients {
		t.Fatalf("ParkIdle took %d connections, want %d", len(parked), clients)
	}
	// A request on a parked connection is not read by anyone.
	if _, err := io.WriteString(conns[0], "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conns[0].SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := readers[0].Peek(1); err == nil {
		t.Fatal("a parked connection's request was answered")
	}
	_ = conns[0].SetReadDeadline(time.Time{})

	srv.Unpark(parked)
	resp, err := http.ReadResponse(readers[0], nil)
	if err != nil {
		t.Fatalf("the request sent while parked: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "srv" {
		t.Fatalf("the request sent while parked: %d %q", resp.StatusCode, body)
	}
	for i := range conns {
		if code, body := get(t, conns[i], readers[i]); code != http.StatusOK || body != "srv" {
			t.Errorf("client %d after Unpark: %d %q", i, code, body)
		}
	}
	// New connections are accepted as before: the wake-up deadline is gone.
	for i := range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if code, body := get(t, c, bufio.NewReader(c)); code != http.StatusOK || body != "srv" {
			t.Errorf("new connection %d after Unpark: %d %q", i, code, body)
		}
		c.Close()
	}
}
