package httpserve

import (
	"bytes"
	"context"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/status"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// generation is one process's server in the restart tests.
type generation interface {
	start(l net.Listener) error
	stop(ctx context.Context) error
}

// drainingGen is this package's Server.
type drainingGen struct{ s *Server }

func (g *drainingGen) start(l net.Listener) error     { return g.s.Start(l) }
func (g *drainingGen) stop(ctx context.Context) error { return g.s.Shutdown(ctx) }

// naiveGen is a plain http.Server stopped with Shutdown, for comparison.
type naiveGen struct {
	srv  *http.Server
	done chan struct{}
}

func (g *naiveGen) start(l net.Listener) error {
	g.done = make(chan struct{})
	go func() {
		defer close(g.done)
		_ = g.srv.Serve(l)
	}()
	return nil
}

func (g *naiveGen) stop(ctx context.Context) error {
	err := g.srv.Shutdown(ctx)
	<-g.done
	return err
}

func restartHandler(c *status.Counters) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(150 * time.Millisecond)
		_, _ = io.WriteString(w, "ok")
	})
	return c.Middleware(mux)
}

// loadResult counts what the clients saw.
type loadResult struct {
	ok, failed atomic.Int64
	retried    atomic.Int64 // requests the client sent again after it had sent them once (clientLoad over TLS)
	mu         sync.Mutex
	errs       []string
}

func (r *loadResult) fail(kind string, err error) {
	r.failed.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) < 10 {
		r.errs = append(r.errs, kind+": "+err.Error())
	}
}

// loadFunc sends requests to addr until ctx ends; wait returns once its
// clients have stopped.
type loadFunc func(ctx context.Context, addr string, res *loadResult) (wait func())

// runLoad sends requests until ctx ends: fresh connections (no
// keep-alive), keep-alive POSTs (not idempotent: net/http's client does
// not silently retry them once sent), and slow requests that are in
// flight when a restart begins.
func runLoad(ctx context.Context, addr string, res *loadResult) (wait func()) {
	fresh := &http.Transport{DisableKeepAlives: true}
	kept := &http.Transport{MaxIdleConnsPerHost: 16}
	timeout := 10 * time.Second
	var wg sync.WaitGroup
	worker := func(kind string, client *http.Client, newReq func() (*http.Request, error)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, err := newReq()
				if err != nil {
					res.fail(kind, err)
					return
				}
				resp, err := client.Do(req)
				if err != nil {
					res.fail(kind, err)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					res.fail(kind, err)
				case resp.StatusCode != http.StatusOK || string(body) != "ok":
					res.fail(kind, fmt.Errorf("%s %q", resp.Status, body))
				default:
					res.ok.Add(1)
				}
			}
		})
	}
	url := "http://" + addr
	get := func(path string) func() (*http.Request, error) {
		return func() (*http.Request, error) { return http.NewRequest("GET", url+path, nil) }
	}
	post := func() (*http.Request, error) {
		return http.NewRequest("POST", url+"/", bytes.NewReader([]byte("payload")))
	}
	for range 3 {
		worker("fresh", &http.Client{Transport: fresh, Timeout: timeout}, get("/"))
		worker("keep-alive", &http.Client{Transport: kept, Timeout: timeout}, post)
	}
	for range 2 {
		worker("slow", &http.Client{Transport: kept, Timeout: timeout}, get("/slow"))
	}
	return func() {
		wg.Wait()
		fresh.CloseIdleConnections()
		kept.CloseIdleConnections()
	}
}

// syncManager waits until the manager has read every message sent.
func syncManager(t testing.TB, m *sdtest.Manager) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := m.Notifier().Barrier(ctx); err != nil {
		t.Fatal(err)
	}
}

// restartUnderLoad runs generations one after the other on one listening
// socket kept alive by the fake manager's fd store, as systemctl restart
// does: the old process stops completely, then the new one starts and
// takes the socket from the store. The kernel queues connections in
// between.
func restartUnderLoad(t testing.TB, restarts int, load loadFunc, newGen func(c *status.Counters) generation) (*loadResult, []uint64) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(4))
	n := m.Notifier()
	limit, err := m.Environment().FDStoreLimit()
	if err != nil {
		t.Fatal(err)
	}
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: n, FDStore: limit}
	l, src, err := Listen(cfg)
	if err != nil || src != SourceBound {
		t.Fatalf("Listen() = %v, %v", src, err)
	}
	addr := l.Addr().String()

	counters := []*status.Counters{status.NewCounters()}
	gen := newGen(counters[0])
	if err := gen.start(l); err != nil {
		t.Fatal(err)
	}

	ctx, stopLoad := context.WithCancel(context.Background())
	res := &loadResult{}
	waitLoad := load(ctx, addr, res)
	defer func() {
		stopLoad()
		waitLoad()
	}()

	for i := range restarts {
		time.Sleep(150 * time.Millisecond)
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := gen.stop(sctx)
		cancel()
		if err != nil {
			t.Errorf("restart %d: stop: %v", i, err)
		}
		// The next process: its descriptors come back from the store. A
		// real restart takes far longer than the manager needs to read
		// FDSTORE=1; here a barrier makes sure.
		syncManager(t, m)
		files := m.Files()
		cfg.Files = files
		l, src, err := Listen(cfg)
		files.Close()
		if err != nil || src != SourceFDStore || l.Addr().String() != addr {
			t.Fatalf("restart %d: Listen() = %v, %v, %v", i, l, src, err)
		}
		syncManager(t, m)
		if got := len(m.Stored()); got != 1 {
			t.Errorf("restart %d: %d descriptors stored, want 1 (re-storing must deduplicate)", i, got)
		}
		c := status.NewCounters()
		counters = append(counters, c)
		gen = newGen(c)
		if err := gen.start(l); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(150 * time.Millisecond)
	stopLoad()
	waitLoad()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := gen.stop(sctx); err != nil {
		t.Errorf("final stop: %v", err)
	}
	var served []uint64
	for _, c := range counters {
		served = append(served, c.Snapshot().Total)
	}
	return res, served
}

// TestRestartLosesNoRequest is the point of the package: six restarts
// under load from fresh and keep-alive connections, with slow requests
// in flight, and not one failed request.
func TestRestartLosesNoRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds")
	}
	res, served := restartUnderLoad(t, 6, runLoad, func(c *status.Counters) generation {
		s, err := NewServer(ServerConfig{
			Handler: restartHandler(c),
			// IdleGrace: the default (500ms). Closing an idle keep-alive
			// connection is inherently racy for a client that reuses it
			// at that moment (see Shutdown); the grace makes that a
			// client that sat idle for half a second and then sent within
			// microseconds of the close. With 100ms, stress runs (four
			// race-enabled copies of this test on two cores, clients
			// starved for over 100ms) lost one keep-alive POST in 16 runs.
		})
		if err != nil {
			t.Fatal(err)
		}
		return &drainingGen{s}
	})
	t.Logf("%d requests answered, %d failed; per generation: %v", res.ok.Load(), res.failed.Load(), served)
	if f := res.failed.Load(); f != 0 {
		t.Fatalf("%d requests failed across restarts: %v", f, res.errs)
	}
	for i, n := range served {
		if n == 0 {
			t.Errorf("generation %d served no request: the load did not span the restarts", i)
		}
	}
	if res.ok.Load() < 100 {
		t.Errorf("only %d requests: too little load to mean anything", res.ok.Load())
	}
}

// TestRestartNaive measures what a plain http.Server.Shutdown loses in
// the same setting. It only reports: the loss is timing-dependent. Run it
// with HTTPADAPTER_NAIVE=1.
func TestRestartNaive(t *testing.T) {
	if os.Getenv("HTTPADAPTER_NAIVE") == "" {
		t.Skip("set HTTPADAPTER_NAIVE=1 to measure the naive shutdown")
	}
	res, served := restartUnderLoad(t, 6, runLoad, func(c *status.Counters) generation {
		return &naiveGen{srv: &http.Server{Handler: restartHandler(c), ErrorLog: quietLog}}
	})
	t.Logf("naive: %d requests answered, %d failed; per generation: %v; first errors: %v",
		res.ok.Load(), res.failed.Load(), served, res.errs)
}
