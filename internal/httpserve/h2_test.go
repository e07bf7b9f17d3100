package httpserve

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/status"
	"github.com/sdlife/sdlife/internal/testcert"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// protocols returns a net/http protocol set.
func protocols(h1, h2, h2c bool) *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(h1)
	p.SetHTTP2(h2)
	p.SetUnencryptedHTTP2(h2c)
	return &p
}

// h2cTransport speaks HTTP/2 with prior knowledge only.
func h2cTransport() *http.Transport {
	return &http.Transport{Protocols: protocols(false, false, true)}
}

// h2Transport speaks HTTP/2 over TLS only, trusting certs.
func h2Transport(certs ...testcert.Pair) *http.Transport {
	return &http.Transport{Protocols: protocols(false, true, false), TLSClientConfig: &tls.Config{RootCAs: testcert.Pool(certs...)}}
}

// clientLoad sends requests on one transport until ctx ends: GETs and
// POSTs back to back (POSTs are not idempotent: a client may retry them
// only when the server did not process them, as after GOAWAY), and slow
// requests that are in flight when a restart begins.
func clientLoad(tr *http.Transport, scheme string) loadFunc {
	return func(ctx context.Context, addr string, res *loadResult) (wait func()) {
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		url := scheme + "://" + addr
		var wg sync.WaitGroup
		worker := func(kind string, newReq func() (*http.Request, error)) {
			wg.Go(func() {
				for ctx.Err() == nil {
					req, err := newReq()
					if err != nil {
						res.fail(kind, err)
						return
					}
					// A request sent again after its headers went out once:
					// a stream refused by GOAWAY, retried on a new
					// connection. (One moved to a new connection before it
					// was sent, as after GOAWAY, does not count.) Over h2c,
					// GetConn fires once per transport layer: TLS only.
					wrote, resent := false, false
					if scheme == "https" {
						req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
							GetConn:      func(string) { resent = resent || wrote },
							WroteHeaders: func() { wrote = true },
						}))
					}
					resp, err := client.Do(req)
					if resent {
						res.retried.Add(1)
					}
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
		for range 4 {
			worker("get", func() (*http.Request, error) { return http.NewRequest("GET", url+"/", nil) })
			worker("post", func() (*http.Request, error) {
				return http.NewRequest("POST", url+"/", bytes.NewReader([]byte("payload")))
			})
		}
		for range 2 {
			worker("slow", func() (*http.Request, error) { return http.NewRequest("GET", url+"/slow", nil) })
		}
		return func() {
			wg.Wait()
			tr.CloseIdleConnections()
		}
	}
}

// timedGen records how long each stop took.
type timedGen struct {
	generation
	stops *[]time.Duration
}

func (g timedGen) stop(ctx context.Context) error {
	start := time.Now()
	err := g.generation.stop(ctx)
	*g.stops = append(*g.stops, time.Since(start))
	return err
}

// restartH2 restarts an h2c or h2 (TLS) server under load from HTTP/2
// clients. naive uses a plain http.Server and its Shutdown instead.
func restartH2(t testing.TB, restarts int, withTLS, naive bool) (*loadResult, []uint64, []time.Duration) {
	var (
		tr     *http.Transport
		scheme = "http"
		tlsCfg *tls.Config
	)
	if withTLS {
		cert := testcert.Valid(t, "server")
		c, err := httpadapter.LoadCertificate(cert.Write(t, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		tr, scheme, tlsCfg = h2Transport(cert), "https", c.TLSConfig()
	} else {
		tr = h2cTransport()
	}
	var stops []time.Duration
	res, served := restartUnderLoad(t, restarts, clientLoad(tr, scheme), func(c *status.Counters) generation {
		if naive {
			srv := &http.Server{Handler: restartHandler(c), ErrorLog: quietLog, Protocols: protocols(true, true, true)}
			g := &naiveGen{srv: srv}
			if withTLS {
				return timedGen{&naiveTLSGen{naiveGen: g, cfg: tlsCfg}, &stops}
			}
			return timedGen{g, &stops}
		}
		// GoawayAckTimeout well above a loaded machine's PING round trip:
		// the final GOAWAY must follow the client's ACK, as it does on an
		// idle one, not the bound.
		s, err := NewServer(ServerConfig{ServerConfig: httpadapter.ServerConfig{Server: &http.Server{ErrorLog: quietLog}, TLS: tlsCfg, DrainTimeout: 5 * time.Second, GoawayAckTimeout: 10 * time.Second},
			Handler: restartHandler(c),
		})
		if err != nil {
			t.Fatal(err)
		}
		return timedGen{&drainingGen{s}, &stops}
	})
	return res, served, stops
}

// naiveTLSGen serves TLS with a plain http.Server.
type naiveTLSGen struct {
	*naiveGen
	cfg *tls.Config
}

func (g *naiveTLSGen) start(l net.Listener) error {
	cfg := g.cfg.Clone()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	return g.naiveGen.start(tls.NewListener(l, cfg))
}

// TestRestartH2LosesNoRequest: HTTP/2 clients, with prior knowledge
// (h2c) and over TLS, across restarts: not one failed request, and each
// stop takes about the slowest request in flight, not DrainTimeout.
func TestRestartH2LosesNoRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds")
	}
	for _, tt := range []struct {
		name string
		tls  bool
	}{{"h2c", false}, {"h2", true}} {
		t.Run(tt.name, func(t *testing.T) {
			res, served, stops := restartH2(t, 4, tt.tls, false)
			t.Logf("%d requests answered, %d failed; per generation: %v; stops took %v", res.ok.Load(), res.failed.Load(), served, stops)
			if f := res.failed.Load(); f != 0 {
				t.Fatalf("%d requests failed across restarts: %v", f, res.errs)
			}
			for i, n := range served {
				if n == 0 {
					t.Errorf("generation %d served no request: the load did not span the restarts", i)
				}
			}
			for i, d := range stops {
				if d > 3*time.Second { // DrainTimeout is 5s; the slowest request 150ms
					t.Errorf("stop %d took %v: HTTP/2 connections held the drain", i, d)
				}
			}
		})
	}
}

// TestServerDrainsH2C: eight HTTP/2 (prior knowledge) clients in a busy
// loop, then Shutdown without a next process: every request fails only
// because the listener is closed, none on a connection the server had,
// and the drain takes far less than DrainTimeout.
func TestServerDrainsH2C(t *testing.T) {
	srv := &http.Server{Protocols: protocols(true, false, true), ErrorLog: quietLog}
	s, addr := startServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{Server: srv, DrainTimeout: 10 * time.Second}, Handler: okHandler()})

	tr := h2cTransport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var ok, refused, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get("http://" + addr + "/")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, syscall.ECONNREFUSED):
					refused.Add(1)
				default:
					failed.Add(1)
					lastErr.Store(err)
				}
			}
		})
	}
	for ok.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	err := s.Shutdown(context.Background())
	took := time.Since(start)
	close(stop)
	wg.Wait()
	t.Logf("shutdown took %v; %d ok, %d refused after the listener closed, %d failed (last: %v)", took, ok.Load(), refused.Load(), failed.Load(), lastErr.Load())
	if err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	if took > 3*time.Second {
		t.Fatalf("Shutdown took %v: HTTP/2 connections held the drain", took)
	}
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed on connections the server had accepted: %v", failed.Load(), lastErr.Load())
	}
}

// TestServerH2InFlightFinishes: a slow request in flight on one HTTP/2
// connection and an idle HTTP/2 connection. The drain waits for the slow
// request, which is answered, and the idle connection gets GOAWAY: the
// drain ends within about a second (net/http's GOAWAY timeout for a client
// that keeps its idle connection open) after the slow request.
func TestServerH2InFlightFinishes(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	h := http.NewServeMux()
	h.Handle("/", okHandler())
	h.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "ok")
	})
	s, addr := startServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{DrainTimeout: 10 * time.Second}, Handler: h})

	idleTr, busyTr := h2cTransport(), h2cTransport()
	defer idleTr.CloseIdleConnections()
	defer busyTr.CloseIdleConnections()
	get := func(tr *http.Transport, path string) error {
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + addr + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && string(body) != "ok" {
			err = fmt.Errorf("body %q", body)
		}
		return err
	}
	if err := get(idleTr, "/"); err != nil {
		t.Fatal(err)
	}
	slow := make(chan error, 1)
	go func() { slow <- get(busyTr, "/slow") }()
	<-entered
	waitFor(t, func() bool { return s.conn.counts(time.Now()).HTTP2 == 2 }, "two HTTP/2 connections")

	errc := make(chan error, 1)
	go func() { errc <- s.Shutdown(context.Background()) }()
	<-s.Draining()
	time.Sleep(200 * time.Millisecond) // the slow request runs on during the drain
	select {
	case err := <-errc:
		t.Fatalf("Shutdown() = %v with a request in flight", err)
	default:
	}
	released := time.Now()
	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("request in flight when the drain began: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	took := time.Since(released)
	t.Logf("drain ended %v after the request in flight", took)
	if took > 3*time.Second {
		t.Fatalf("drain ended %v after the last request", took)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRestartH2GoClientRetriesNothing: Go's client re-sends, on a new
// connection, each stream a single GOAWAY refused; across the two-step it
// re-sends none (h2 over TLS, where its GetConn hook counts attempts). A
// plain http.Server's figure is logged beside it, for BENCHMARKS.md.
func TestRestartH2GoClientRetriesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds")
	}
	res, _, _ := restartH2(t, 4, true, false)
	naive, _, _ := restartH2(t, 4, true, true)
	t.Logf("4 restarts: two-step %d retried of %d; net/http %d retried of %d", res.retried.Load(), res.ok.Load(), naive.retried.Load(), naive.ok.Load())
	if n := res.retried.Load(); n != 0 {
		t.Errorf("Go's client re-sent %d requests across the two-step", n)
	}
	if f := res.failed.Load(); f != 0 {
		t.Errorf("%d requests failed: %v", f, res.errs)
	}
}
