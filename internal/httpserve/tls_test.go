package httpserve

import (
	"bufio"
	"context"
	"crypto/tls"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/testcert"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func startTLSServer(t *testing.T, cfg ServerConfig) (*Server, string, testcert.Pair) {
	t.Helper()
	cert := testcert.Valid(t, "server")
	c, err := httpadapter.LoadCertificate(cert.Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = c.TLSConfig()
	if cfg.Handler == nil {
		cfg.Handler = okHandler()
	}
	if cfg.Server == nil {
		cfg.Server = &http.Server{ErrorLog: quietLog}
	}
	s, addr := startServer(t, cfg)
	return s, addr, cert
}

// TestServerTLSProtocols: with the default protocols, clients get h2 or
// HTTP/1.1 by ALPN; with Protocols set to HTTP/1 only, h2 is not offered.
func TestServerTLSProtocols(t *testing.T) {
	tests := []struct {
		name      string
		give      *http.Protocols // the server's; nil: default
		client    *http.Protocols
		wantProto string
	}{
		{"default, h2 client", nil, protocols(false, true, false), "HTTP/2.0"},
		{"default, HTTP/1.1 client", nil, protocols(true, false, false), "HTTP/1.1"},
		{"default, client offering both", nil, protocols(true, true, false), "HTTP/2.0"},
		{"HTTP/1 only, client offering both", protocols(true, false, false), protocols(true, true, false), "HTTP/1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr, cert := startTLSServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{Server: &http.Server{Protocols: tt.give, ErrorLog: quietLog}}})
			tr := &http.Transport{Protocols: tt.client, TLSClientConfig: &tls.Config{RootCAs: testcert.Pool(cert)}}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + addr + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(body) != "ok" || resp.Proto != tt.wantProto {
				t.Fatalf("%s %q %v, want %s ok", resp.Proto, body, err, tt.wantProto)
			}
		})
	}
}

// TestServerWrongProtocol: TLS spoken to the plain port and plain HTTP to
// the TLS port fail at once, and do not hold the drain.
func TestServerWrongProtocol(t *testing.T) {
	tests := []struct {
		name    string
		tls     bool                                  // the server's
		give    func(t *testing.T, c net.Conn) string // c stays open until Shutdown returned
		wantErr string
	}{
		{"TLS to the plain port", false, func(t *testing.T, c net.Conn) string {
			err := tls.Client(c, &tls.Config{InsecureSkipVerify: true}).Handshake()
			if err == nil {
				return "handshake succeeded"
			}
			return err.Error()
		}, "first record does not look like a TLS handshake"},
		{"plain HTTP to the TLS port", true, func(t *testing.T, c net.Conn) string {
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return err.Error()
			}
			resp.Body.Close()
			return resp.Status
		}, "400 Bad Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				s    *Server
				addr string
			)
			if tt.tls {
				s, addr, _ = startTLSServer(t, ServerConfig{})
			} else {
				s, addr = startServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{Server: &http.Server{ErrorLog: quietLog}}, Handler: okHandler()})
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if got := tt.give(t, c); !strings.Contains(got, tt.wantErr) {
				t.Errorf("client saw %q, want %q", got, tt.wantErr)
			}
			start := time.Now()
			if err := s.Shutdown(context.Background()); err != nil {
				t.Fatalf("Shutdown() = %v", err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("Shutdown took %v", took)
			}
		})
	}
}

func TestServerTLSConfigErrors(t *testing.T) {
	_, err := NewServer(ServerConfig{ServerConfig: httpadapter.ServerConfig{TLS: &tls.Config{}}, Handler: okHandler()})
	if err == nil || !strings.HasPrefix(err.Error(), "httpadapter: ") {
		t.Fatalf("NewServer() with a TLS config without certificate = %v", err)
	}
}
