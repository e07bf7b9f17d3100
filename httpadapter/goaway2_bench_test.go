package httpadapter

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// loopConn is a net.Conn whose reads replay a fixed stream of frames and
// whose writes are discarded: the request path of one HTTP/2 connection
// without the network.
type loopConn struct {
	net.Conn // nil: only Read and Write are used
	in       []byte
	off      int
}

func (c *loopConn) Read(p []byte) (int, error) {
	n := copy(p, c.in[c.off:])
	c.off = (c.off + n) % len(c.in)
	return n, nil
}

func (c *loopConn) Write(p []byte) (int, error) { return len(p), nil }

// frame returns an HTTP/2 frame of type typ with a payload of n bytes.
func frame(typ byte, flags byte, stream uint32, n int) []byte {
	f := make([]byte, frameHeaderLen+n)
	f[0], f[1], f[2] = byte(n>>16), byte(n>>8), byte(n)
	f[3], f[4] = typ, flags
	f[5], f[6], f[7], f[8] = byte(stream>>24), byte(stream>>16), byte(stream>>8), byte(stream)
	return f
}

// oneRequest is what one small request costs an HTTP/2 connection's
// frame layer: the server reads a HEADERS frame (header, then payload,
// as net/http's framer does) and writes HEADERS and DATA in one flush.
type oneRequest struct {
	conn     net.Conn
	hdr      [frameHeaderLen]byte
	payload  []byte
	response []byte
}

func newOneRequest(wrap func(net.Conn) net.Conn) *oneRequest {
	const reqLen, respHdrLen, body = 24, 28, 6
	r := &oneRequest{payload: make([]byte, reqLen)}
	r.conn = wrap(&loopConn{in: frame(0x1, 0x5, 1, reqLen)})
	r.response = append(frame(0x1, 0x4, 1, respHdrLen), frame(0x0, 0x1, 1, body)...)
	return r
}

func (r *oneRequest) run(tb testing.TB) {
	if _, err := io.ReadFull(r.conn, r.hdr[:]); err != nil {
		tb.Fatal(err)
	}
	if _, err := io.ReadFull(r.conn, r.payload); err != nil {
		tb.Fatal(err)
	}
	if _, err := r.conn.Write(r.response); err != nil {
		tb.Fatal(err)
	}
}

var frameLayers = []struct {
	name string
	wrap func(net.Conn) net.Conn
}{
	{"conn=plain", func(c net.Conn) net.Conn { return c }},
	{"conn=twostep", func(c net.Conn) net.Conn { return &h2Conn{Conn: c} }},
}

// TestTwoStepRequestPathAllocFree: the h2Conn under net/http's HTTP/2
// server allocates nothing per request.
func TestTwoStepRequestPathAllocFree(t *testing.T) {
	r := newOneRequest(frameLayers[1].wrap)
	r.run(t) // first frames seen
	if n := testing.AllocsPerRun(1000, func() { r.run(t) }); n != 0 {
		t.Fatalf("%v allocations per request in the two-step's frame layer", n)
	}
}

// BenchmarkTwoStepFrameLayer: what the h2Conn adds to one request's
// reads and writes, against the bare connection (benchstat -col /conn).
func BenchmarkTwoStepFrameLayer(b *testing.B) {
	for _, l := range frameLayers {
		b.Run(l.name, func(b *testing.B) {
			r := newOneRequest(l.wrap)
			b.ReportAllocs()
			for b.Loop() {
				r.run(b)
			}
		})
	}
}

// BenchmarkTwoStepLoopback: one small HTTP/2 request at a time on one
// connection over loopback TCP, h2c and h2 over TLS, served by a plain
// http.Server and by a Server (with the two-step's h2Conn); compare with
// benchstat -col /server.
func BenchmarkTwoStepLoopback(b *testing.B) {
	for _, proto := range []string{"h2c", "h2"} {
		for _, server := range []string{"net-http", "sdlife"} {
			b.Run("proto="+proto+"/server="+server, func(b *testing.B) { benchTwoStepLoopback(b, proto, server) })
		}
	}
}

func benchTwoStepLoopback(b *testing.B, proto, server string) {
	var (
		tr     *http.Transport
		scheme = "http"
		tlsCfg *tls.Config
	)
	if proto == "h2" {
		cert := validTestCert(b, "server")
		c, err := LoadCertificate(cert.write(b, b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		tr, scheme, tlsCfg = h2Transport(cert), "https", c.TLSConfig()
	} else {
		tr = h2cTransport()
	}
	defer tr.CloseIdleConnections()
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello\n") })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	switch server {
	case "net-http":
		srv := &http.Server{Handler: h, ErrorLog: quietLog, Protocols: protocols(true, tlsCfg != nil, tlsCfg == nil)}
		if tlsCfg != nil {
			cfg := tlsCfg.Clone()
			cfg.NextProtos = []string{"h2", "http/1.1"}
			l = tls.NewListener(l, cfg)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(l) }()
		defer func() { _ = srv.Close(); <-done }()
	case "sdlife":
		s, err := NewServer(ServerConfig{Handler: h, Server: &http.Server{ErrorLog: quietLog}, Ready: ReadyByCaller, TLS: tlsCfg})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Start(l); err != nil {
			b.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			tr.CloseIdleConnections()
			_ = s.Shutdown(ctx)
		}()
	}
	client := &http.Client{Transport: tr}
	url := scheme + "://" + addr + "/"
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			b.Fatalf("protocol %s", resp.Proto)
		}
	}
}
