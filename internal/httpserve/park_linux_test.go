package httpserve

import (
	"bufio"
	"context"
	"errors"
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

	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// startGeneration starts one process's Server of a hand-over test or
// benchmark on cfg's listener: it answers with its name.
func startGeneration(t testing.TB, name string, cfg ListenConfig, withStore bool) (*Server, ListenResult) {
	t.Helper()
	res, err := cfg.Listen()
	if err != nil {
		t.Fatal(err)
	}
	sc := ServerConfig{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name)
		}),
	}
	if withStore {
		if sc.ConnStore, err = cfg.ConnStore(1); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := NewServer(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(res.Listener); err != nil {
		t.Fatal(err)
	}
	return srv, res
}

// The drain hands idle keep-alive connections to the fd store; the next
// process takes them back and answers their next request on the same
// TCP connection; the store is empty of connections afterwards.
func TestDrainHandsOverIdleConnections(t *testing.T) {
	const clients = 20
	m := sdtest.NewManager(t, sdtest.WithFDStore(64))
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
	old, res := startGeneration(t, "old", cfg, true)
	cfg.Address = res.Listener.Addr().String()

	conns, readers := openIdle(t, cfg.Address, clients, "old")
	locals := make([]string, clients)
	for i, c := range conns {
		locals[i] = c.LocalAddr().String()
	}
	waitIdle(t, old, clients)
	if err := old.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	barrier(t, m)
	if n := len(connNames(storedNames(m))); n != clients {
		t.Fatalf("the store holds %d connections, want %d: %v", n, clients, storedNames(m))
	}

	files := m.Files()
	defer files.Close()
	cfg.Files = files
	next, res2 := startGeneration(t, "new", cfg, true)
	defer next.Shutdown(context.Background())
	if res2.Adopted != clients {
		t.Fatalf("the next process adopted %d connections, want %d", res2.Adopted, clients)
	}
	for i, c := range conns {
		if code, body := get(t, c, readers[i]); code != http.StatusOK || body != "new" {
			t.Fatalf("client %d after the hand-over: %d %q, want 200 new", i, code, body)
		}
		if c.LocalAddr().String() != locals[i] {
			t.Fatalf("client %d reconnected", i)
		}
	}
	barrier(t, m)
	if n := connNames(storedNames(m)); len(n) != 0 {
		t.Errorf("connections left in the store: %v", n)
	}
}

// openIdle opens n keep-alive connections to addr, each after one
// request answered with want ("" for any 200), so that each is idle
// between two requests when it returns.
func openIdle(t *testing.T, addr string, n int, want string) ([]net.Conn, []*bufio.Reader) {
	t.Helper()
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i], readers[i] = c, bufio.NewReader(c)
		if code, body := get(t, c, readers[i]); code != http.StatusOK || (want != "" && body != want) {
			t.Fatalf("client %d: %d %q", i, code, body)
		}
	}
	return conns, readers
}

// waitIdle waits until n connections of s are idle.
func waitIdle(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.conn.counts(time.Now()).Idle < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d connections idle", s.conn.counts(time.Now()).Idle, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Requests sent while the drain parks and hands over are answered exactly
// once: by the old process (then with Connection: close, and the client
// reconnects) or by the next one on the handed-over connection. None is
// lost, none answered twice.
func TestDrainHandOverRacingRequests(t *testing.T) {
	handed := 0
	defer func() {
		if handed == 0 {
			t.Error("no connection was handed over in any round: the race was not exercised")
		}
	}()
	for round := range 5 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			const clients = 16
			m := sdtest.NewManager(t, sdtest.WithFDStore(64))
			cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
			old, res := startGeneration(t, "old", cfg, true)
			addr := res.Listener.Addr().String()
			cfg.Address = addr

			stop := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- keepAliveClient(addr, stop, time.Duration(i%4)*time.Millisecond)
				}()
			}
			time.Sleep(20 * time.Millisecond) // traffic before the drain
			if err := old.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			barrier(t, m)
			handed += len(connNames(storedNames(m)))
			files := m.Files()
			defer files.Close()
			cfg.Files = files
			next, _ := startGeneration(t, "new", cfg, true)
			time.Sleep(20 * time.Millisecond) // traffic after the hand-over
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if err := next.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// keepAliveClient sends requests one after another on one connection,
// pausing between them, until stop; it reconnects after a response with
// Connection: close. Any request without exactly one response is an
// error.
func keepAliveClient(addr string, stop <-chan struct{}, pause time.Duration) error {
	var c net.Conn
	var br *bufio.Reader
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return nil
		default:
		}
		if c == nil {
			var err error
			if c, err = net.Dial("tcp", addr); err != nil {
				return fmt.Errorf("request %d: dial: %w", n, err)
			}
			br = bufio.NewReader(c)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return fmt.Errorf("request %d: write: %w", n, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return fmt.Errorf("request %d: no response: %w", n, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || (string(body) != "old" && string(body) != "new") {
			return fmt.Errorf("request %d: %d %q", n, resp.StatusCode, body)
		}
		if resp.Close {
			// Nothing may follow the answer: a second one would be a
			// request answered twice.
			_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if extra, err := br.Peek(1); err == nil {
				return fmt.Errorf("request %d: data after a closing response: %q", n, extra)
			} else if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") && !isTimeout(err) {
				return fmt.Errorf("request %d: after the closing response: %w", n, err)
			}
			c.Close()
			c = nil
		}
		time.Sleep(pause)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A store with less room than there are idle connections takes what fits;
// the rest drain as without a store (closed once idle past the grace),
// and no request is lost either way.
func TestDrainHandOverStoreFull(t *testing.T) {
	const clients, max = 6, 3 // room for the listener and 2 connections
	m := sdtest.NewManager(t, sdtest.WithFDStore(max))
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
	old, res := startGeneration(t, "old", cfg, true)
	cfg.Address = res.Listener.Addr().String()
	conns, readers := openIdle(t, cfg.Address, clients, "")
	waitIdle(t, old, clients)
	if err := old.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	barrier(t, m)
	if n := len(connNames(storedNames(m))); n != max-1 {
		t.Fatalf("the store holds %d connections, want %d", n, max-1)
	}
	files := m.Files()
	defer files.Close()
	cfg.Files = files
	next, _ := startGeneration(t, "new", cfg, true)
	defer next.Shutdown(context.Background())
	handed, closed := 0, 0
	for i, c := range conns {
		// A closed connection reads EOF at once; an open one times out.
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := readers[i].Peek(1); err == nil {
			t.Fatalf("client %d: data nobody asked for", i)
		} else if isTimeout(err) {
			// Still open: handed over. Its next request goes to the next process.
			if code, body := get(t, c, readers[i]); code != http.StatusOK || body != "new" {
				t.Fatalf("client %d: %d %q", i, code, body)
			}
			handed++
		} else {
			closed++ // closed by the old process, idle: the client reconnects
		}
		_ = c.SetReadDeadline(time.Time{})
	}
	if handed != max-1 || closed != clients-(max-1) {
		t.Errorf("%d handed over and %d closed, want %d and %d", handed, closed, max-1, clients-(max-1))
	}
}

// Connections a process took over and that stayed silent are handed over
// again at its drain: a pool that sends nothing across two restarts
// survives both.
func TestDrainHandsOverSilentPoolTwice(t *testing.T) {
	const clients = 5
	m := sdtest.NewManager(t, sdtest.WithFDStore(16))
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
	srv, res := startGeneration(t, "first", cfg, true)
	cfg.Address = res.Listener.Addr().String()
	conns, readers := openIdle(t, cfg.Address, clients, "")
	waitIdle(t, srv, clients)
	for _, name := range []string{"second", "third"} {
		start := time.Now()
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Logf("drain before %s: %v", name, time.Since(start))
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("the drain before %s took %v: connections were waited for, not handed over", name, d)
		}
		barrier(t, m)
		if n := len(connNames(storedNames(m))); n != clients {
			t.Fatalf("before %s: the store holds %d connections, want %d", name, n, clients)
		}
		files := m.Files()
		defer files.Close()
		cfg.Files = files
		var res ListenResult
		srv, res = startGeneration(t, name, cfg, true)
		if res.Adopted != clients {
			t.Fatalf("%s adopted %d connections, want %d", name, res.Adopted, clients)
		}
	}
	defer srv.Shutdown(context.Background())
	for i, c := range conns {
		if code, body := get(t, c, readers[i]); code != http.StatusOK || body != "third" {
			t.Fatalf("client %d after two silent restarts: %d %q", i, code, body)
		}
	}
}

// Handed-over connections the listener still holds when the drain begins
// (a stop right after the start) are stored again, not closed.
func TestDrainStoresUnacceptedAdopted(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(8))
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
	l := listenLocal(t)
	defer l.Close()
	client, server := connPair(t, l)
	hl := NewHandoverListener(l, []net.Conn{server})
	pl := parkListener{hl}
	taken := pl.takeAdopted()
	if len(taken) != 1 {
		t.Fatalf("takeAdopted() = %d connections, want 1", len(taken))
	}
	cs, err := cfg.ConnStore(1)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: ServerConfig{ConnStore: cs}, log: slog.New(slog.DiscardHandler)}
	if n := s.handOver(context.Background(), taken); n != 1 {
		t.Fatalf("handOver() = %d, want 1", n)
	}
	barrier(t, m)
	if n := len(connNames(storedNames(m))); n != 1 {
		t.Fatalf("the store holds %d connections, want 1", n)
	}
	// The client's connection is open: the store holds the socket.
	_ = client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := client.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("client read: %v, want a timeout (connection open)", err)
	}
}

// With ReleaseByCaller, Listen takes the connections back but the store
// keeps its copies until ReleaseStored, once.
func TestListenReleaseByCaller(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(8))
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
	old, res := startGeneration(t, "old", cfg, true)
	cfg.Address = res.Listener.Addr().String()
	c, err := net.Dial("tcp", cfg.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get(t, c, br)
	waitIdle(t, old, 1)
	if err := old.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	barrier(t, m)
	files := m.Files()
	defer files.Close()
	cfg.Files, cfg.Release = files, ReleaseByCaller
	res2, err := cfg.Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Listener.Close()
	if res2.Adopted != 1 {
		t.Fatalf("adopted %d, want 1", res2.Adopted)
	}
	barrier(t, m)
	if n := len(connNames(storedNames(m))); n != 1 {
		t.Fatalf("before ReleaseStored the store holds %d connections, want 1", n)
	}
	for range 2 {
		if err := res2.ReleaseStored(); err != nil {
			t.Fatal(err)
		}
	}
	barrier(t, m)
	if n := len(connNames(storedNames(m))); n != 0 {
		t.Fatalf("after ReleaseStored the store holds %d connections, want 0", n)
	}
	removes := 0
	for _, msg := range m.Messages() {
		if sdtest.Has("FDSTOREREMOVE", "1")(msg) {
			removes++
		}
	}
	if removes != 1 {
		t.Errorf("%d FDSTOREREMOVE messages, want 1 (the second ReleaseStored does nothing)", removes)
	}
}

// However large FileDescriptorStoreMax= is, the store is filled to at most
// MaxStoredDescriptors: beyond, the next process would not start.
func TestConnStoreRoomCapped(t *testing.T) {
	tests := []struct {
		name string
		give int // FileDescriptorStoreMax=
		want int // room beside one listener
	}{
		{"small store", 8, 7},
		{"at the cap", MaxStoredDescriptors, MaxStoredDescriptors - 1},
		{"journald's size", 4224, MaxStoredDescriptors - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t, sdtest.WithFDStore(tt.give))
			cfg := ListenConfig{Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
			cs, err := cfg.ConnStore(1)
			if err != nil {
				t.Fatal(err)
			}
			if got := cs.Room(); got != tt.want {
				t.Errorf("Room() = %d, want %d", got, tt.want)
			}
		})
	}
}
