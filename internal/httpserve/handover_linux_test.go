package httpserve

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"github.com/sdlife/sdlife/httpadapter"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// connPair returns both ends of a fresh TCP connection to l.
func connPair(t *testing.T, l net.Listener) (client, server net.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// get sends a GET on c and returns the status and the body.
func get(t *testing.T, c net.Conn, br *bufio.Reader) (int, string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, br)
}

func readResponse(t *testing.T, br *bufio.Reader) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// handoverGen is one process's HTTP server in a hand-over test: it answers
// "<name> <client address>" and reports its idle connections.
type handoverGen struct {
	srv  *http.Server
	idle chan net.Conn
	done chan struct{}
}

func serveGeneration(t *testing.T, name string, l net.Listener) *handoverGen {
	t.Helper()
	g := &handoverGen{idle: make(chan net.Conn, 16), done: make(chan struct{})}
	g.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name+" "+r.RemoteAddr)
		}),
		ConnState: func(c net.Conn, st http.ConnState) {
			if st == http.StateIdle {
				select {
				case g.idle <- c:
				default:
				}
			}
		},
		ErrorLog: quietLog,
	}
	go func() {
		defer close(g.done)
		_ = g.srv.Serve(l)
	}()
	t.Cleanup(g.stop)
	return g
}

// stop closes the server, its listener and its connections, and waits.
func (g *handoverGen) stop() {
	g.srv.Close()
	<-g.done
}

func storedNames(m *sdtest.Manager) []string {
	var names []string
	for _, s := range m.Stored() {
		names = append(names, s.Name)
	}
	return names
}

func connNames(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, "http-conn-") {
			out = append(out, n)
		}
	}
	return out
}

// TestHandoverRoundTrip: a client's idle keep-alive connection is handed
// to the fd store by the old process, taken back by the new one, and the
// client's next request on the same TCP connection is answered by the new
// process.
func TestHandoverRoundTrip(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(8))
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
	first, err := cfg.Listen()
	if err != nil {
		t.Fatal(err)
	}
	old := serveGeneration(t, "old", first.Listener)

	c, err := net.Dial("tcp", first.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	local := c.LocalAddr().String()
	if code, body := get(t, c, br); code != http.StatusOK || body != "old "+local {
		t.Fatalf("first response %d %q", code, body)
	}
	serverConn := <-old.idle

	cs, err := cfg.ConnStore(1)
	if err != nil {
		t.Fatal(err)
	}
	stored, rest, err := cs.Store([]net.Conn{serverConn})
	if err != nil || len(stored) != 1 || len(rest) != 0 {
		t.Fatalf("Store() = %d stored, %d rest, %v; want 1 stored", len(stored), len(rest), err)
	}
	old.stop() // closes this process's copy of the connection too
	barrier(t, m)
	names := storedNames(m)
	if conns := connNames(names); len(conns) != 1 || len(names) != 2 {
		t.Fatalf("store holds %v, want the listener and one connection", names)
	}
	for _, s := range m.Stored() {
		if strings.HasPrefix(s.Name, "http-conn-") && !s.Poll {
			t.Errorf("connection stored with FDPOLL=0")
		}
	}

	files := m.Files()
	defer files.Close()
	cfg.Files = files
	second, err := cfg.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if second.Adopted != 1 || second.Source != SourceFDStore {
		t.Fatalf("Listen() adopted %d from %v, want 1 from the fd store", second.Adopted, second.Source)
	}
	serveGeneration(t, "new", second.Listener)
	for i := range 2 {
		if code, body := get(t, c, br); code != http.StatusOK || body != "new "+local {
			t.Fatalf("request %d after the hand-over: %d %q, want 200 %q", i, code, body, "new "+local)
		}
	}
	if c.LocalAddr().String() != local {
		t.Fatalf("local address %s, was %s", c.LocalAddr(), local)
	}
	barrier(t, m)
	if conns := connNames(storedNames(m)); len(conns) != 0 {
		t.Fatalf("store still holds %v after the take-over", conns)
	}
}

// TestHandoverRequestDuringHandover: a request sent while no process
// serves the connection waits in the socket and is answered exactly once,
// by the new process.
func TestHandoverRequestDuringHandover(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(8))
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
	first, err := cfg.Listen()
	if err != nil {
		t.Fatal(err)
	}
	old := serveGeneration(t, "old", first.Listener)
	c, err := net.Dial("tcp", first.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get(t, c, br)
	cs, err := cfg.ConnStore(1)
	if err != nil {
		t.Fatal(err)
	}
	if stored, _, err := cs.Store([]net.Conn{<-old.idle}); len(stored) != 1 {
		t.Fatalf("not stored: %v", err)
	}
	old.stop()

	// Nobody serves the connection now; the request waits in the socket.
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	barrier(t, m)
	files := m.Files()
	defer files.Close()
	cfg.Files = files
	second, err := cfg.Listen()
	if err != nil || second.Adopted != 1 {
		t.Fatalf("Listen() adopted %d, %v; want 1", second.Adopted, err)
	}
	serveGeneration(t, "new", second.Listener)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if code, body := readResponse(t, br); code != http.StatusOK || !strings.HasPrefix(body, "new ") {
		t.Fatalf("response to the request sent during the hand-over: %d %q", code, body)
	}
	// Exactly once: the next response read is the next request's.
	if code, body := get(t, c, br); code != http.StatusOK || !strings.HasPrefix(body, "new ") {
		t.Fatalf("next response: %d %q", code, body)
	}
}

// TestAdoptConnsBadInputs: descriptors under a connection name that
// cannot be served are closed, logged and cleared from the store, and a
// valid connection stored beside them is still taken over.
func TestAdoptConnsBadInputs(t *testing.T) {
	tests := []struct {
		name    string
		give    func(t *testing.T) syscall.Conn
		wantLog string
	}{
		{"regular file", func(t *testing.T) syscall.Conn {
			f, err := os.CreateTemp(t.TempDir(), "x")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		}, "not a socket"},
		{"UDP socket", func(t *testing.T) syscall.Conn {
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c.(*net.UDPConn)
		}, "want TCP"},
		{"unix stream connection", func(t *testing.T) syscall.Conn {
			fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
			t.Cleanup(func() { a.Close(); b.Close() })
			return a
		}, "want IPv4 or IPv6"},
		{"listening socket", func(t *testing.T) syscall.Conn {
			l := listenLocal(t)
			t.Cleanup(func() { l.Close() })
			return l.(*net.TCPListener)
		}, "listening socket"},
		{"peer closed", func(t *testing.T) syscall.Conn {
			client, server := connPair(t, listenLocal(t))
			client.Close()
			waitReadable(t, server)
			return server.(*net.TCPConn)
		}, "peer closed"},
		{"peer reset", func(t *testing.T) syscall.Conn {
			client, server := connPair(t, listenLocal(t))
			_ = client.(*net.TCPConn).SetLinger(0)
			client.Close()
			waitReadable(t, server)
			return server.(*net.TCPConn)
		}, "not connected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t, sdtest.WithFDStore(8))
			n := m.Notifier()
			l := listenLocal(t)
			defer l.Close()
			client, server := connPair(t, l)
			if _, err := n.FDStore("http-conn-1-1", tt.give(t)); err != nil {
				t.Fatal(err)
			}
			if _, err := n.FDStore("http-conn-1-2", server.(*net.TCPConn)); err != nil {
				t.Fatal(err)
			}
			barrier(t, m)
			if len(m.Stored()) != 2 {
				t.Fatalf("fake store holds %v", storedNames(m))
			}
			files := m.Files()
			defer files.Close()
			var logs strings.Builder
			cfg := ListenConfig{Files: files, Notifier: n, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			conns, err := cfg.AdoptConns()
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range conns {
				defer c.Close()
			}
			if len(conns) != 1 || conns[0].RemoteAddr().String() != client.LocalAddr().String() {
				t.Fatalf("adopted %d connections, want the valid one", len(conns))
			}
			if len(files.Names()) != 0 {
				t.Errorf("%d descriptors left unclaimed", len(files.Names()))
			}
			if !strings.Contains(logs.String(), "cannot be served") || !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q, want a line with %q", logs.String(), tt.wantLog)
			}
			barrier(t, m)
			if names := storedNames(m); len(names) != 0 {
				t.Errorf("store still holds %v", names)
			}
			removed := 0
			for _, msg := range m.Messages() {
				if sdtest.Has("FDSTOREREMOVE", "1")(msg) {
					removed++
				}
			}
			if removed != 2 {
				t.Errorf("%d FDSTOREREMOVE messages, want one per name (2)", removed)
			}
		})
	}
}

// waitReadable waits until c has something to read (data, end of stream
// or an error), so that the peer's close has arrived.
func waitReadable(t *testing.T, c net.Conn) {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	// Read's callback runs when the poller reports c readable; returning
	// true without reading consumes nothing.
	if err := rc.Read(func(uintptr) bool { return true }); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Time{})
}

// TestConnStoreFallbacks: connections that cannot be handed over are
// returned to the caller, never lost.
func TestConnStoreFallbacks(t *testing.T) {
	type wrapped struct{ net.Conn }
	tests := []struct {
		name       string
		store      int // FileDescriptorStoreMax; -1: not exported
		give       func(t *testing.T, l net.Listener) []net.Conn
		wantStored int
		wantRest   int
	}{
		{"store not announced", -1, func(t *testing.T, l net.Listener) []net.Conn {
			_, s := connPair(t, l)
			return []net.Conn{s}
		}, 0, 1},
		{"store disabled", 0, func(t *testing.T, l net.Listener) []net.Conn {
			_, s := connPair(t, l)
			return []net.Conn{s}
		}, 0, 1},
		{"store full", 3, func(t *testing.T, l net.Listener) []net.Conn {
			var conns []net.Conn
			for range 4 {
				_, s := connPair(t, l)
				conns = append(conns, s)
			}
			return conns
		}, 2, 2}, // one place taken by the listener
		{"TLS", 8, func(t *testing.T, l net.Listener) []net.Conn {
			_, s := connPair(t, l)
			return []net.Conn{tls.Server(s, &tls.Config{})}
		}, 0, 1},
		{"wrapped TLS", 8, func(t *testing.T, l net.Listener) []net.Conn {
			_, s := connPair(t, l)
			return []net.Conn{netConnOf{tls.Server(s, &tls.Config{})}}
		}, 0, 1},
		{"not TCP", 8, func(t *testing.T, l net.Listener) []net.Conn {
			a, b := net.Pipe()
			t.Cleanup(func() { a.Close(); b.Close() })
			return []net.Conn{a}
		}, 0, 1},
		{"wrapper without NetConn", 8, func(t *testing.T, l net.Listener) []net.Conn {
			_, s := connPair(t, l)
			return []net.Conn{wrapped{s}}
		}, 0, 1},
		{"wrapped TCP", 8, func(t *testing.T, l net.Listener) []net.Conn {
			_, s := connPair(t, l)
			return []net.Conn{netConnOf{s}}
		}, 1, 0},
		// Unread bytes stay in the socket and travel with it: the next
		// process reads the request (nobody reads here, see park.go).
		{"request on its way", 8, func(t *testing.T, l net.Listener) []net.Conn {
			c, s := connPair(t, l)
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\n"); err != nil {
				t.Fatal(err)
			}
			waitReadable(t, s)
			return []net.Conn{s}
		}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []sdtest.Option
			if tt.store >= 0 {
				opts = append(opts, sdtest.WithFDStore(tt.store))
			}
			m := sdtest.NewManager(t, opts...)
			cfg := ListenConfig{Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
			cs, err := cfg.ConnStore(1)
			if err != nil {
				t.Fatal(err)
			}
			l := listenLocal(t)
			defer l.Close()
			give := tt.give(t, l)
			stored, rest, err := cs.Store(give)
			if err != nil || len(stored) != tt.wantStored || len(rest) != tt.wantRest {
				t.Fatalf("Store() = %d stored, %d rest, %v; want %d, %d", len(stored), len(rest), err, tt.wantStored, tt.wantRest)
			}
			if cs.Room() != max(tt.store-1-tt.wantStored, 0) {
				t.Errorf("Room() = %d after storing %d", cs.Room(), tt.wantStored)
			}
			barrier(t, m)
			if n := len(m.Stored()); n != tt.wantStored {
				t.Errorf("fake store holds %d, want %d", n, tt.wantStored)
			}
			if tt.wantStored == 0 {
				for _, msg := range m.Messages() {
					if sdtest.Has("FDSTORE", "1")(msg) {
						t.Errorf("sent %q", msg.Raw)
					}
				}
			}
		})
	}
}

// netConnOf wraps a connection the way middleware does, exposing NetConn.
type netConnOf struct{ net.Conn }

func (c netConnOf) NetConn() net.Conn { return c.Conn }

func TestConnStoreNil(t *testing.T) {
	var cs *ConnStore
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	stored, rest, err := cs.Store([]net.Conn{a})
	if len(stored) != 0 || len(rest) != 1 || err != nil || cs.Room() != 0 {
		t.Fatalf("nil ConnStore: %d stored, %d rest, %v, room %d", len(stored), len(rest), err, cs.Room())
	}
	if _, err := (&ListenConfig{ListenConfig: httpadapter.ListenConfig{Name: strings.Repeat("n", 230)}}).ConnStore(0); !errors.Is(err, ErrInvalidListenConfig) {
		t.Fatalf("ConnStore with a name too long for connection names: %v", err)
	}
}

// TestConnStoreBatches: more connections than one message may carry go in
// several messages, each under its own name, and all come back.
func TestConnStoreBatches(t *testing.T) {
	const n = sdwire.MaxFDs + 47
	m := sdtest.NewManager(t, sdtest.WithFDStore(n+1))
	cfg := ListenConfig{Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
	cs, err := cfg.ConnStore(1)
	if err != nil {
		t.Fatal(err)
	}
	l := listenLocal(t)
	defer l.Close()
	var conns []net.Conn
	for range n {
		_, s := connPair(t, l)
		conns = append(conns, s)
	}
	stored, rest, err := cs.Store(conns)
	if err != nil || len(stored) != n || len(rest) != 0 {
		t.Fatalf("Store() = %d stored, %d rest, %v", len(stored), len(rest), err)
	}
	barrier(t, m)
	var msgs []string
	for _, msg := range m.Messages() {
		if sdtest.Has("FDSTORE", "1")(msg) {
			name, _ := msg.Get("FDNAME")
			msgs = append(msgs, name)
			if msg.NumFDs > sdwire.MaxFDs {
				t.Errorf("%d descriptors in one message", msg.NumFDs)
			}
		}
	}
	if len(msgs) != 2 || msgs[0] == msgs[1] {
		t.Fatalf("FDSTORE messages under %v, want 2 names", msgs)
	}
	files := m.Files()
	defer files.Close()
	cfg.Files = files
	adopted, err := cfg.AdoptConns()
	for _, c := range adopted {
		c.Close()
	}
	if err != nil || len(adopted) != n {
		t.Fatalf("AdoptConns() = %d, %v; want %d", len(adopted), err, n)
	}
	barrier(t, m)
	if names := storedNames(m); len(names) != 0 {
		t.Fatalf("store still holds %d", len(names))
	}
}

// TestHandoverListener: adopted connections come first, then the real
// listener's; Close closes the listener and the adopted connections not
// accepted yet.
func TestHandoverListener(t *testing.T) {
	src := listenLocal(t)
	defer src.Close()
	var clients []net.Conn
	var adopted []net.Conn
	for range 3 {
		c, s := connPair(t, src)
		clients = append(clients, c)
		adopted = append(adopted, s)
	}
	inner := listenLocal(t)
	hl := NewHandoverListener(inner, adopted)
	if hl.Addr().String() != inner.Addr().String() {
		t.Errorf("Addr() = %v, want %v", hl.Addr(), inner.Addr())
	}
	got, err := hl.Accept()
	if err != nil || got != adopted[0] {
		t.Fatalf("first Accept() = %v, %v; want the first adopted connection", got, err)
	}
	got, err = hl.Accept()
	if err != nil || got != adopted[1] {
		t.Fatalf("second Accept() = %v, %v; want the second adopted connection", got, err)
	}
	if err := hl.Close(); err != nil {
		t.Fatal(err)
	}
	// The third was never accepted: its client sees the close.
	_ = clients[2].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := clients[2].Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("client of an unaccepted adopted connection read %v, want EOF", err)
	}
	// The accepted ones are the caller's: still open.
	_ = clients[0].SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := clients[0].Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("client of an accepted adopted connection read %v, want a timeout", err)
	}
	if _, err := hl.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept() after Close = %v, want net.ErrClosed", err)
	}
}

// TestHandoverListenerConcurrent: concurrent Accepts get every adopted
// connection exactly once, then new ones; Close stops them.
func TestHandoverListenerConcurrent(t *testing.T) {
	src := listenLocal(t)
	defer src.Close()
	const n = 20
	var adopted []net.Conn
	for range n {
		_, s := connPair(t, src)
		adopted = append(adopted, s)
	}
	hl := NewHandoverListener(listenLocal(t), adopted)
	var mu sync.Mutex
	seen := map[net.Conn]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := hl.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				seen[c]++
				mu.Unlock()
			}
		}()
	}
	fresh, err := net.Dial("tcp", hl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		mu.Lock()
		k := len(seen)
		mu.Unlock()
		if k == n+1 || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	hl.Close()
	wg.Wait()
	for c, k := range seen {
		if k != 1 {
			t.Errorf("%v accepted %d times", c.RemoteAddr(), k)
		}
		c.Close()
	}
	for _, c := range adopted {
		if seen[c] != 1 {
			t.Errorf("adopted %v accepted %d times", c.RemoteAddr(), seen[c])
		}
	}
	if len(seen) != n+1 {
		t.Errorf("%d connections accepted, want %d", len(seen), n+1)
	}
}
