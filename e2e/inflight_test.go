//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// slowRequest is one GET /slow?ms=N sent over a connection of its own, in
// a client kind's protocol, whose answer is collected later.
type slowRequest struct {
	local  atomic.Pointer[net.TCPAddr] // the client's end of the connection
	wrote  chan struct{}               // closed once the request is written
	result chan string                 // "<status> <body>" or "error: ..."
}

// startSlow sends GET /slow?ms=ms to port in kind's protocol on a new
// connection and returns at once; result receives the outcome.
func startSlow(kind clientKind, roots *x509.CertPool, port, ms int) *slowRequest {
	s := &slowRequest{wrote: make(chan struct{}), result: make(chan string, 1)}
	tr := kind.transport(roots)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err == nil {
			if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
				s.local.Store(a)
			}
		}
		return c, err
	}
	go func() {
		defer tr.CloseIdleConnections()
		var once atomic.Bool
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
			if once.CompareAndSwap(false, true) {
				close(s.wrote)
			}
		}}
		ctx := httptrace.WithClientTrace(context.Background(), trace)
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s://127.0.0.1:%d/slow?ms=%d", kind.scheme(), port, ms), nil)
		resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			s.result <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			s.result <- fmt.Sprintf("%d, body error: %v", resp.StatusCode, err)
			return
		}
		s.result <- fmt.Sprintf("%d %q", resp.StatusCode, b)
	}()
	return s
}

// waitAccepted waits until the request is written and the server side of
// its connection has been accepted by a process and has nothing left
// unread: the process that accepts on the port now has the request (an
// upgrade's new process accepts nothing before it is adopted). Bounded by
// 5 s.
func (s *slowRequest) waitAccepted(t testing.TB, port int) {
	t.Helper()
	select {
	case <-s.wrote:
	case r := <-s.result:
		t.Fatalf("slow request ended before it was written: %s", r)
	case <-time.After(5 * time.Second):
		t.Fatalf("slow request not written within 5 s")
	}
	local := s.local.Load()
	var st string
	if !waitFor(5*time.Second, func() bool {
		st = serverSideState(port, local.Port)
		return st == "read"
	}) {
		t.Fatalf("the server side of the slow request's connection (client port %d): %s after 5 s, want accepted and read", local.Port, st)
	}
}

// wait returns the outcome of the request, bounded by timeout.
func (s *slowRequest) wait(timeout time.Duration) string {
	select {
	case r := <-s.result:
		return r
	case <-time.After(timeout):
		return fmt.Sprintf("no answer within %v", timeout)
	}
}

// serverSideState describes the server's end of the TCP connection from
// 127.0.0.1:clientPort to 127.0.0.1:port, from /proc/net/tcp (the
// containers share the host's network namespace): "missing", "queued"
// (in the listener's accept queue: no socket file yet, inode 0),
// "unread" (accepted, request bytes not read yet) or "read".
func serverSideState(port, clientPort int) string {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return "missing: " + err.Error()
	}
	defer f.Close()
	local := fmt.Sprintf("0100007F:%04X", port)
	remote := fmt.Sprintf("0100007F:%04X", clientPort)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[1] != local || fields[2] != remote {
			continue
		}
		if fields[9] == "0" {
			return "queued"
		}
		_, rx, _ := strings.Cut(fields[4], ":") // tx_queue:rx_queue, hex
		if n, _ := strconv.ParseUint(rx, 16, 64); n > 0 {
			return "unread"
		}
		return "read"
	}
	return "missing"
}

// getKind does one request on a new connection in kind's protocol.
func getKind(kind clientKind, roots *x509.CertPool, port int, path string) (int, string, error) {
	tr := kind.transport(roots)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(fmt.Sprintf("%s://127.0.0.1:%d%s", kind.scheme(), port, path))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimRight(string(b), "\n"), err
}

// mustVersion asserts that GET /version, in kind's protocol, answers ver.
func mustVersion(t testing.TB, kind clientKind, roots *x509.CertPool, port int, ver string) {
	t.Helper()
	code, body, err := getKind(kind, roots, port, "/version")
	if err != nil || code != 200 || body != ver {
		t.Fatalf("GET /version (%s): %d %q %v, want 200 %q", kind, code, body, err, ver)
	}
}
