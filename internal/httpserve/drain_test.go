package httpserve

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDrainStartedOutsideServer(t *testing.T) {
	if c := httpadapter.DrainStarted(context.Background()); c != nil {
		t.Errorf("httpadapter.DrainStarted(Background) = %v, want nil", c)
	}
	var s *Server
	if c := s.Draining(); c != nil {
		t.Errorf("nil Server: Draining() = %v, want nil", c)
	}
	s2, err := NewServer(ServerConfig{Handler: okHandler()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s2.Draining():
	default:
		t.Error("Draining not closed by a Shutdown before Start")
	}
}

// sseHandler sends one complete event per interval until the drain
// begins or the client leaves.
func sseHandler(interval time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "id: %d\ndata: event %d\n\n", i, i); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case <-httpadapter.DrainStarted(r.Context()):
				return
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	}
}

// TestServerSSEEndsOnDrain: open event streams over HTTP/1 and h2c end
// cleanly (whole events, then the end of the body) when the drain begins,
// and do not hold the drain.
func TestServerSSEEndsOnDrain(t *testing.T) {
	const interval = 100 * time.Millisecond
	s, addr := startServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{DrainTimeout: 10 * time.Second}, Handler: sseHandler(interval)})
	clients := map[string]*http.Transport{"HTTP/1.1": {}, "h2c": h2cTransport()}
	type result struct {
		name   string
		proto  string
		events int
		rest   string
		err    error
	}
	results := make(chan result, len(clients))
	var started sync.WaitGroup
	for name, tr := range clients {
		defer tr.CloseIdleConnections()
		started.Add(1)
		go func() {
			res := result{name: name}
			defer func() { results <- res }()
			resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/events")
			if err != nil {
				res.err = err
				started.Done()
				return
			}
			defer resp.Body.Close()
			res.proto = resp.Proto
			br := bufio.NewReader(resp.Body)
			first := true
			for {
				ev, err := readEvent(br)
				if err != nil {
					res.rest, res.err = ev, err
					if first {
						started.Done()
					}
					return
				}
				res.events++
				if first && res.events == 2 {
					first = false
					started.Done()
				}
			}
		}()
	}
	started.Wait()
	start := time.Now()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	took := time.Since(start)
	for range clients {
		r := <-results
		t.Logf("%s (%s): %d events, then %q, %v", r.name, r.proto, r.events, r.rest, r.err)
		if r.err != io.EOF || r.rest != "" || r.events < 2 {
			t.Errorf("%s stream: %d events, then %q and %v; want whole events, then EOF", r.name, r.events, r.rest, r.err)
		}
	}
	t.Logf("Shutdown with open streams took %v (event interval %v)", took, interval)
	if took > 3*time.Second {
		t.Errorf("Shutdown took %v: open streams held the drain", took)
	}
}

// readEvent reads one event (lines up to an empty line). On error it
// returns what it read of an incomplete event.
func readEvent(br *bufio.Reader) (string, error) {
	var ev strings.Builder
	for {
		line, err := br.ReadString('\n')
		ev.WriteString(line)
		if err != nil {
			return ev.String(), err
		}
		if line == "\n" {
			return ev.String(), nil
		}
	}
}

// syncBuffer is a bytes.Buffer for a logger written from several
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestServerHijacked: a hijacked connection whose owner closes it on the
// drain signal is not counted; one whose owner keeps it is closed when
// the drain ends, and the log counts it.
func TestServerHijacked(t *testing.T) {
	tests := []struct {
		name        string
		ownerCloses bool
		wantLog     string
	}{
		{"owner closes on the drain signal", true, "hijacked_closed=0"},
		{"owner keeps it", false, "hijacked_closed=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			hijacked := make(chan net.Conn, 1)
			var owner sync.WaitGroup
			defer owner.Wait()
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				drain := httpadapter.DrainStarted(r.Context())
				hijacked <- c
				if tt.ownerCloses {
					owner.Go(func() {
						<-drain
						_, _ = io.WriteString(c, "bye\n") // a WebSocket would send its close frame
						c.Close()
					})
				}
			})
			s, addr := startServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{IdleGrace: 2 * time.Second}, Handler: h, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			hc := <-hijacked
			if !tt.ownerCloses {
				defer hc.Close()
			}
			waitFor(t, func() bool { return s.conn.counts(time.Now()).Hijacked == 1 }, "hijacked connection")
			start := time.Now()
			if err := s.Shutdown(context.Background()); err != nil {
				t.Fatalf("Shutdown() = %v", err)
			}
			took := time.Since(start)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			rest, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("client side of the hijacked connection: %v", err)
			}
			if tt.ownerCloses && string(rest) != "bye\n" {
				t.Errorf("client read %q, want the owner's goodbye", rest)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log lacks %s:\n%s", tt.wantLog, logs.String())
			}
			if tt.ownerCloses && took >= 2*time.Second {
				t.Errorf("Shutdown took %v although the owner closed at once", took)
			}
			if !tt.ownerCloses && took < 2*time.Second {
				t.Errorf("Shutdown took %v: the hijacked connection got less than IdleGrace", took)
			}
		})
	}
}

// TestServerListenerCloseDelay: during the delay new connections are
// still accepted and served, and the drain has not begun. (The Service's
// readiness probe says 503 from STOPPING=1 on, before the delay.)
func TestServerListenerCloseDelay(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/", okHandler())
	const delay = time.Second
	s, addr := startServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{ListenerCloseDelay: delay}, Handler: mux})
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- s.Shutdown(context.Background()) }()
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.state == serverClosed
	}, "Shutdown begun")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s during the delay: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/"); code != http.StatusOK || body != "ok" {
		t.Errorf("request on a new connection during the delay: %d %q", code, body)
	}
	select {
	case <-s.Draining():
		t.Error("drain began before the delay passed")
	default:
	}
	if since := time.Since(start); since >= delay {
		t.Fatalf("the checks took %v, longer than the delay: the test proves nothing", since)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("Shutdown took %v, less than the delay", took)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
}
