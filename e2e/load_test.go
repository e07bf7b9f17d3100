//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// load drives GET requests at one URL from several goroutines until stopped.
// Every request that does not end in a 200 with the expected body is a
// failure. With keepAlive each worker holds one persistent connection;
// otherwise every request opens a new one.
type load struct {
	url, want string
	keepAlive bool

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
	l := &load{
		url:       fmt.Sprintf("http://127.0.0.1:%d/", port),
		want:      want + "\n",
		keepAlive: keepAlive,
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
	tr := &http.Transport{
		DisableKeepAlives:   !l.keepAlive,
		MaxIdleConnsPerHost: 1,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	for !l.stop.Load() && time.Since(l.started) < maxLoadDuration {
		var attempts int
		trace := &httptrace.ClientTrace{GetConn: func(string) { attempts++ }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", l.url, nil)
		resp, err := client.Do(req)
		if attempts > 1 {
			l.retried.Add(1)
		}
		if err != nil {
			l.fail(classify(err), err.Error())
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
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

func (l *load) rps() float64 { return float64(l.ok.Load()) / l.elapsed.Seconds() }

func (l *load) String() string {
	mode := "new connection per request"
	if l.keepAlive {
		mode = "keep-alive"
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
