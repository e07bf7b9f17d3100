package httpserve

import (
	"bufio"
	"context"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// TestDrainHandsOverProxyPoolConnection reproduces, byte for byte, what
// nginx's upstream keep-alive pool does to a connection under load: it
// sends the next request as soon as it has read a response, so the
// request's first byte can arrive while net/http still serves the
// previous one, and net/http's one-byte background read (which watches
// for the client going away) takes it. That byte belongs to the next
// request, which net/http reads and answers as usual. Once answered, the
// connection is between two requests like any other, and the drain must
// hand it over: here the handler of the first request waits, its response
// already flushed, until the background read has the byte, as happened in
// 27 of nginx's 32 pool connections in the e2e run (TestNginxPoolHandover)
// before the fix.
func TestDrainHandsOverProxyPoolConnection(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(64))
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
	res, err := cfg.Listen()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Address = res.Listener.Addr().String()
	sent := make(chan struct{}) // the client wrote the second request
	var old *Server
	sc := ServerConfig{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			_, _ = io.WriteString(w, "old")
			if r.URL.Path != "/first" {
				return
			}
			w.(http.Flusher).Flush() // the proxy has the whole response
			<-sent
			// Wait until net/http's background read took the next
			// request's first byte.
			deadline := time.Now().Add(5 * time.Second)
			for !backgroundByteTaken(old) {
				if time.Now().After(deadline) {
					t.Error("net/http's background read never took the next request's first byte: the test no longer reproduces what nginx does")
					return
				}
				time.Sleep(time.Millisecond)
			}
		}),
	}
	if sc.ConnStore, err = cfg.ConnStore(1); err != nil {
		t.Fatal(err)
	}
	if old, err = NewServer(sc); err != nil {
		t.Fatal(err)
	}
	if err := old.Start(res.Listener); err != nil {
		t.Fatal(err)
	}

	c, err := net.Dial("tcp", cfg.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	br := bufio.NewReader(c)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	// nginx's request to an upstream with proxy_http_version 1.1 and
	// proxy_set_header Connection "".
	const req = "GET %s HTTP/1.1\r\nHost: backend\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
	write := func(path string) {
		t.Helper()
		if _, err := io.WriteString(c, fmt.Sprintf(req, path)); err != nil {
			t.Fatal(err)
		}
	}
	write("/first")
	if code, body := readResponse(t, br); code != http.StatusOK || body != "old" {
		t.Fatalf("first request: %d %q", code, body)
	}
	write("/second") // at once, as nginx does with a request waiting
	close(sent)
	if code, body := readResponse(t, br); code != http.StatusOK || body != "old" {
		t.Fatalf("second request: %d %q", code, body)
	}
	waitIdle(t, old, 1)
	if err := old.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	barrier(t, m)
	if n := len(connNames(storedNames(m))); n != 1 {
		t.Fatalf("the store holds %d connections, want the proxy's 1: it was not handed over", n)
	}

	files := m.Files()
	defer files.Close()
	cfg.Files = files
	next, res2 := startGeneration(t, "new", cfg, true)
	defer next.Shutdown(context.Background())
	if res2.Adopted != 1 {
		t.Fatalf("the next process adopted %d connections, want 1", res2.Adopted)
	}
	write("/third")
	if code, body := readResponse(t, br); code != http.StatusOK || body != "new" {
		t.Fatalf("third request, after the hand-over: %d %q, want 200 new", code, body)
	}
	if c.LocalAddr().String() != local {
		t.Fatal("the client reconnected")
	}
}

// backgroundByteTaken reports whether net/http's background read on s's
// only connection has taken a byte.
func backgroundByteTaken(s *Server) (taken bool) {
	s.conn.conns.Range(func(k, _ any) bool {
		if pc, ok := k.(*parkConn); ok && pc.pipeline.Load() {
			taken = true
		}
		return true
	})
	return taken
}
