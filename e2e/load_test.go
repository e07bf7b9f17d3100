//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// clientKind is how a load worker talks to the server.
type clientKind int

const (
	http1Fresh        clientKind = iota // HTTP/1.1, a new connection per request
	http1KeepAlive                      // HTTP/1.1, one persistent connection per worker
	h2cPriorKnowledge                   // HTTP/2 without TLS (prior knowledge), one connection per worker
	https1                              // HTTP/1.1 over TLS, one persistent connection per worker
	https2                              // HTTP/2 over TLS (ALPN h2), one connection per worker
)

func (k clientKind) String() string {
	switch k {
	case http1Fresh:
		return "HTTP/1.1 new connection per request"
	case http1KeepAlive:
		return "HTTP/1.1 keep-alive"
	case h2cPriorKnowledge:
		return "h2c"
	case https1:
		return "HTTPS HTTP/1.1"
	case https2:
		return "HTTPS h2"
	}
	return fmt.Sprintf("clientKind(%d)", int(k))
}

// usesTLS says whether the kind needs a server with a certificate.
func (k clientKind) usesTLS() bool { return k == https1 || k == https2 }

// transport returns a transport that speaks only the kind's protocol, so a
// server that falls back to another one fails the request instead of
// passing silently. roots verifies the server's certificate (TLS kinds).
func (k clientKind) transport(roots *x509.CertPool) *http.Transport {
	tr := &http.Transport{
		DisableKeepAlives:   k == http1Fresh,
		MaxIdleConnsPerHost: 1,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: roots},
	}
	var p http.Protocols
	switch k {
	case http1Fresh, http1KeepAlive, https1:
		p.SetHTTP1(true)
	case h2cPriorKnowledge:
		p.SetUnencryptedHTTP2(true)
	case https2:
		p.SetHTTP2(true)
	}
	tr.Protocols = &p
	return tr
}

func (k clientKind) scheme() string {
	if k.usesTLS() {
		return "https"
	}
	return "http"
}

// load drives GET requests at one URL from several goroutines until stopped.
// Every request that does not end in a 200 with the expected body is a
// failure. With keepAlive each worker holds one persistent connection;
// otherwise every request opens a new one.
type load struct {
	url, want string
	keepAlive bool
	client    clientKind
	roots     *x509.CertPool
	// latencies holds the time of every request (failed ones too), merged
	// from the workers when they end.
	latencies []time.Duration

	ok, failed atomic.Int64
	// retried counts requests that net/http transparently re-sent on a new
	// connection because a reused idle one was closed under it (allowed for
	// idempotent requests); they are not failures, but worth knowing.
	retried atomic.Int64

	mu      sync.Mutex
	errs    map[string]int
	samples []string

	stop    atomic.Bool
	wg      sync.WaitGroup
	started time.Time
	elapsed time.Duration
}

// maxLoadDuration bounds every load run, whatever the caller does.
const maxLoadDuration = 2 * time.Minute

func startLoad(port int, want string, workers int, keepAlive bool) *load {
	kind := http1Fresh
	if keepAlive {
		kind = http1KeepAlive
	}
	return startLoadKind(kind, nil, port, want, workers)
}

// startLoadKind is startLoad for any client kind; roots verifies the
// server's certificate for the TLS kinds.
func startLoadKind(kind clientKind, roots *x509.CertPool, port int, want string, workers int) *load {
	return startLoadURL(kind, roots, fmt.Sprintf("%s://127.0.0.1:%d/", kind.scheme(), port), want, workers)
}

// startLoadURL is startLoadKind for any URL.
func startLoadURL(kind clientKind, roots *x509.CertPool, url, want string, workers int) *load {
	l := &load{
		url:       url,
		want:      want + "\n",
		keepAlive: kind != http1Fresh,
		client:    kind,
		roots:     roots,
		errs:      map[string]int{},
		started:   time.Now(),
	}
	for i := 0; i < workers; i++ {
		l.wg.Add(1)
		go l.worker()
	}
	return l
}

func (l *load) worker() {
	defer l.wg.Done()
	tr := l.client.transport(l.roots)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	var lat []time.Duration
	defer func() {
		l.mu.Lock()
		l.latencies = append(l.latencies, lat...)
		l.mu.Unlock()
	}()
	for !l.stop.Load() && time.Since(l.started) < maxLoadDuration {
		var attempts int
		trace := &httptrace.ClientTrace{GetConn: func(string) { attempts++ }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", l.url, nil)
		start := time.Now()
		resp, err := client.Do(req)
		if attempts > 1 {
			l.retried.Add(1)
		}
		if err != nil {
			lat = append(lat, time.Since(start))
			l.fail(classify(err), err.Error())
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		switch {
		case err == nil && resp.ProtoMajor != l.client.protoMajor():
			l.fail(fmt.Sprintf("protocol %s", resp.Proto), "")
		case err != nil:
			l.fail("body: "+classify(err), err.Error())
		case resp.StatusCode != 200:
			l.fail(fmt.Sprintf("status %d", resp.StatusCode), string(body))
		case string(body) != l.want:
			l.fail("wrong body", fmt.Sprintf("%q", body))
		default:
			l.ok.Add(1)
		}
	}
}

func (l *load) fail(kind, detail string) {
	l.failed.Add(1)
	l.mu.Lock()
	l.errs[kind]++
	if len(l.samples) < 5 {
		l.samples = append(l.samples, fmt.Sprintf("+%v %s: %s",
			time.Since(l.started).Round(time.Millisecond), kind, detail))
	}
	l.mu.Unlock()
	time.Sleep(time.Millisecond) // a refused port must not spin the CPU
}

// finish stops the workers (each completes its current request) and waits.
func (l *load) finish() *load {
	l.stop.Store(true)
	l.wg.Wait()
	l.elapsed = time.Since(l.started)
	return l
}

// protoMajor is the HTTP major version the kind must be answered in.
func (k clientKind) protoMajor() int {
	if k == h2cPriorKnowledge || k == https2 {
		return 2
	}
	return 1
}

// latency returns the maximum and the 99.9th percentile of the request
// times of a finished load.
func (l *load) latency() (maxLat, p999 time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.latencies) == 0 {
		return 0, 0
	}
	s := slices.Clone(l.latencies)
	slices.Sort(s)
	return s[len(s)-1], s[(len(s)*999)/1000]
}

func (l *load) rps() float64 { return float64(l.ok.Load()) / l.elapsed.Seconds() }

func (l *load) String() string {
	mode := "new connection per request"
	if l.keepAlive {
		mode = "keep-alive"
	}
	if l.client > http1KeepAlive {
		mode = l.client.String()
	}
	s := fmt.Sprintf("%s: %d ok, %d failed, %d transparently retried by the client, %.0f req/s over %v",
		mode, l.ok.Load(), l.failed.Load(), l.retried.Load(), l.rps(), l.elapsed.Round(time.Millisecond))
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) > 0 {
		var kinds []string
		for k, n := range l.errs {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
		}
		sort.Strings(kinds)
		s += "; failures: " + strings.Join(kinds, ", ") + "; first: " + strings.Join(l.samples, " | ")
	}
	return s
}

// classify reduces a client error to a short kind: refused, reset, EOF, ...
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port"
	}
	return "other"
}
