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
	"regexp"
	"strconv"
	"testing"
	"time"
)

// headerlessRe finds the drained line's count of connections closed
// without a complete request header.
var headerlessRe = regexp.MustCompile(`headerless_closed=(\d+)`)

// TestDrainClosesHeaderlessAtGrace: connections that have not sent a
// complete request header (slowloris: a partial header; silent ones; over
// TLS a partial or missing ClientHello, and a completed handshake with a
// partial header) hold the drain only until HeaderGrace after it began
// (partial headers, or less once quiet for HeaderGrace) or IdleGrace
// (silent and TLS ones): they are closed then without a response. DrainTimeout is shorter than
// the 5 s after which such connections used to stop being waited for, so
// a drain that waits for them fails with ErrDrainTimeout. A request
// complete just before the drain, and a header completed during the grace
// on a connection accepted before it, are answered: nothing is lost.
func TestDrainClosesHeaderlessAtGrace(t *testing.T) {
	const (
		grace    = time.Second
		slowN    = 20 // partial header
		silentN  = 5  // nothing sent
		drainMax = 3 * time.Second
	)
	tests := []struct {
		name string
		tls  bool
	}{
		{name: "plain"},
		{name: "tls", tls: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			cfg := ServerConfig{ServerConfig: httpadapter.ServerConfig{HeaderGrace: grace, IdleGrace: grace, DrainTimeout: drainMax, Server: &http.Server{ReadHeaderTimeout: time.Minute, ErrorLog: quietLog}},
				Handler: okHandler(),
				// the silent ones' and TLS ones'
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			}
			var (
				s    *Server
				addr string
			)
			if tt.tls {
				s, addr, _ = startTLSServer(t, cfg)
			} else {
				s, addr = startServer(t, cfg)
			}
			// dial opens a connection, over TLS with its handshake done
			// when handshake is set.
			dial := func(handshake bool) net.Conn {
				t.Helper()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				if tt.tls && handshake {
					tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
					if err := tc.Handshake(); err != nil {
						t.Fatal(err)
					}
					return tc
				}
				return c
			}
			write := func(c net.Conn, s string) {
				t.Helper()
				if _, err := io.WriteString(c, s); err != nil {
					t.Fatal(err)
				}
			}

			var headerless []net.Conn
			for range slowN {
				c := dial(true)
				write(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ") // never ends
				headerless = append(headerless, c)
			}
			for range silentN {
				headerless = append(headerless, dial(false))
			}
			if tt.tls {
				c := dial(false)
				write(c, "\x16\x03\x01\x02\x00\x01") // a ClientHello's first bytes
				headerless = append(headerless, c)
			}
			late := dial(true)
			write(late, "GET / HTTP/1.1\r\nHost: x\r\n") // the rest comes during the grace
			early := dial(true)
			waitConns(t, s, len(headerless)+2)
			write(early, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // complete just before the drain

			errc := make(chan error, 1)
			go func() { errc <- s.Shutdown(context.Background()) }()
			<-s.Draining()
			write(late, "\r\n")
			for name, c := range map[string]net.Conn{"early": early, "late": late} {
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("%s request: %v", name, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || string(body) != "ok" {
					t.Fatalf("%s request: %s %q %v", name, resp.Status, body, err)
				}
			}
			if err := <-errc; err != nil {
				t.Fatalf("Shutdown() = %v, want nil: the connections without a complete header held the drain", err)
			}
			for i, c := range headerless {
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := c.Read(make([]byte, 64))
				if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("headerless connection %d: read %d bytes, %v; want closed without a response", i, n, err)
				}
			}
			m := headerlessRe.FindStringSubmatch(logs.String())
			if want := len(headerless); m == nil || m[1] != strconv.Itoa(want) {
				t.Errorf("drained line %q, want headerless_closed=%d", logs.String(), want)
			}
		})
	}
}
