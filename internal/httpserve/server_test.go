package httpserve

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"github.com/sdlife/sdlife/httpadapter"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
}

func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func startServer(t *testing.T, cfg ServerConfig) (*Server, string) {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := listenLocal(t)
	if err := s.Start(l); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, l.Addr().String()
}

// shutdownAsync starts Shutdown and returns its result channel once the
// listener is closed, that is once the drain has begun.
func shutdownAsync(t *testing.T, s *Server, ctx context.Context, addr string) <-chan error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- s.Shutdown(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return errc // refused: the listener is closed
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting 5s after Shutdown")
		}
		time.Sleep(time.Millisecond)
	}
}

func waitConns(t *testing.T, s *Server, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.conn.counts(time.Now()).total() != want {
		if time.Now().After(deadline) {
			t.Fatalf("server tracks %+v, want %d connections", s.conn.counts(time.Now()), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// roundTrip writes a raw GET on c and reads the response.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader) *http.Response {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("response %s %q, %v", resp.Status, body, err)
	}
	return resp
}

// TestServerAnswersAcceptedSilentConnection is the case that
// http.Server.Shutdown alone gets wrong: a connection accepted before
// the drain whose request arrives after it began.
func TestServerAnswersAcceptedSilentConnection(t *testing.T) {
	s, addr := startServer(t, ServerConfig{Handler: okHandler()})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitConns(t, s, 1) // accepted, in StateNew
	errc := shutdownAsync(t, s, context.Background(), addr)
	time.Sleep(50 * time.Millisecond) // well into the drain
	resp := roundTrip(t, c, bufio.NewReader(c))
	if !resp.Close {
		t.Errorf("response during the drain lacks Connection: close")
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
}

func TestServerIdleKeepAliveGetsGrace(t *testing.T) {
	s, addr := startServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{IdleGrace: 2 * time.Second}, Handler: okHandler()})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if resp := roundTrip(t, c, br); resp.Close {
		t.Fatal("response before the drain has Connection: close")
	}
	waitConns(t, s, 1)
	start := time.Now()
	errc := shutdownAsync(t, s, context.Background(), addr)
	// The connection is idle; a request on it within the grace is served.
	if resp := roundTrip(t, c, br); !resp.Close {
		t.Error("response during the drain lacks Connection: close")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the last response: %v, want EOF", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Shutdown took %v: it waited out the grace although no connection was left", d)
	}
}

func TestServerClosesIdleAfterGrace(t *testing.T) {
	s, addr := startServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{IdleGrace: 50 * time.Millisecond}, Handler: okHandler()})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	roundTrip(t, c, br)
	waitConns(t, s, 1)
	start := time.Now()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
		t.Errorf("Shutdown took %v, want about the 50ms grace", d)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("idle connection after the drain: %v, want EOF", err)
	}
}

// blockingServer serves one request that blocks until release is closed.
func blockingServer(t *testing.T, cfg ServerConfig) (s *Server, addr string, release chan struct{}, clientErr <-chan error) {
	t.Helper()
	release = make(chan struct{})
	entered := make(chan struct{})
	cfg.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
	})
	s, addr = startServer(t, cfg)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	return s, addr, release, errc
}

func TestServerDrainTimeout(t *testing.T) {
	s, _, release, clientErr := blockingServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{DrainTimeout: 100 * time.Millisecond}})
	defer close(release)
	err := s.Shutdown(context.Background())
	if !errors.Is(err, ErrDrainTimeout) || prefixes(err) != 1 {
		t.Fatalf("Shutdown() = %v, want ErrDrainTimeout with one package prefix", err)
	}
	if err := <-clientErr; err == nil {
		t.Error("the cut-off request succeeded")
	}
}

func TestServerShutdownContext(t *testing.T) {
	s, _, release, clientErr := blockingServer(t, ServerConfig{})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("Shutdown() = %v, want the context's deadline", err)
	}
	// A second call returns the first one's result.
	if err2 := s.Shutdown(context.Background()); err2 != err {
		t.Errorf("second Shutdown() = %v, want %v", err2, err)
	}
	<-clientErr
}

func TestServerExtendsStopTimeout(t *testing.T) {
	tests := []struct {
		name       string
		drain      time.Duration
		stop       time.Duration
		wantExtend bool
	}{
		{"drain may outlast the stop timeout", 5 * time.Second, 60 * time.Millisecond, true},
		{"drain fits", 50 * time.Millisecond, time.Second, false},
		{"stop timeout unknown", 5 * time.Second, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t)
			s, _, release, clientErr := blockingServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{DrainTimeout: tt.drain, StopTimeout: tt.stop}, Notifier: m.Notifier()})
			time.AfterFunc(300*time.Millisecond, func() { close(release) })
			_ = s.Shutdown(context.Background())
			<-clientErr
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := m.Notifier().Barrier(ctx); err != nil {
				t.Fatal(err)
			}
			var n int
			for _, msg := range m.Messages() {
				if v, ok := msg.Get("EXTEND_TIMEOUT_USEC"); ok {
					n++
					if v != strconv.FormatInt(tt.stop.Microseconds(), 10) {
						t.Errorf("EXTEND_TIMEOUT_USEC=%s, want the stop timeout", v)
					}
				}
			}
			// 300ms of draining at one message per 20ms: well over 3.
			if tt.wantExtend && n < 3 || !tt.wantExtend && n != 0 {
				t.Fatalf("%d EXTEND_TIMEOUT_USEC messages", n)
			}
		})
	}
}

// failingListener fails Accept permanently after its first call.
type failingListener struct{ net.Listener }

var errAcceptBroken = errors.New("accept broken")

func (l failingListener) Accept() (net.Conn, error) { return nil, errAcceptBroken }

func TestServerSurfacesServeError(t *testing.T) {
	s, err := NewServer(ServerConfig{Handler: okHandler()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(failingListener{listenLocal(t)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after Serve failed")
	}
	if !errors.Is(s.Err(), errAcceptBroken) {
		t.Fatalf("Err() = %v", s.Err())
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown() after a Serve error = %v", err)
	}
}

func TestServerLifecycleErrors(t *testing.T) {
	tests := []struct {
		name string
		give ServerConfig
	}{
		{"no handler", ServerConfig{}},
		{"negative drain", ServerConfig{ServerConfig: httpadapter.ServerConfig{DrainTimeout: -1}, Handler: okHandler()}},
		{"TLS without a certificate", ServerConfig{ServerConfig: httpadapter.ServerConfig{TLS: &tls.Config{}}, Handler: okHandler()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewServer(tt.give); err == nil || !strings.HasPrefix(err.Error(), "httpadapter: ") {
				t.Fatalf("NewServer() = %v, want an httpadapter error", err)
			}
		})
	}

	s, _ := startServer(t, ServerConfig{Handler: okHandler()})
	if err := s.Start(listenLocal(t)); !errors.Is(err, ErrServerStarted) {
		t.Errorf("second Start() = %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := listenLocal(t)
	defer l.Close()
	if err := s.Start(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Start() after Shutdown = %v", err)
	}

	s2, err := NewServer(ServerConfig{Handler: okHandler()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown() before Start = %v", err)
	}
	<-s2.Done()
}

// The server never announces READY=1 or STOPPING=1: the Service owns
// them. It sends only EXTEND_TIMEOUT_USEC, during a long drain.
func TestServerNeverAnnouncesReadiness(t *testing.T) {
	m := sdtest.NewManager(t)
	s, _ := startServer(t, ServerConfig{Handler: okHandler(), Notifier: m.Notifier()})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Notifier().Barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, msg := range m.Messages() {
		if sdtest.Has("READY", "1")(msg) || sdtest.Has("STOPPING", "1")(msg) {
			t.Fatalf("the server sent %q: READY=1 and STOPPING=1 are the Service's", msg.Raw)
		}
	}
}

func TestServerDoesNotWaitForHijacked(t *testing.T) {
	hijacked := make(chan net.Conn, 1)
	var connStates atomic.Int32
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			hijacked <- c
		}),
		ConnState: func(net.Conn, http.ConnState) { connStates.Add(1) }, // chained, not replaced
	}
	s, addr := startServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{Server: srv}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	hc := <-hijacked
	defer hc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown() with a hijacked connection = %v", err)
	}
	if connStates.Load() == 0 {
		t.Error("the Server's own ConnState hook was not called")
	}
}
