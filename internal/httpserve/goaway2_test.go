package httpserve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/testcert"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
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
	in       *loopConn
	hdr      [frameHeaderLen]byte
	payload  []byte
	response []byte
	id       uint32 // the request's stream, a new one each time
}

func newOneRequest(wrap func(net.Conn) net.Conn) *oneRequest {
	const reqLen, respHdrLen, body = 24, 28, 6
	r := &oneRequest{payload: make([]byte, reqLen), in: &loopConn{in: frame(0x1, 0x5, 1, reqLen)}}
	r.conn = wrap(r.in)
	r.response = append(frame(0x1, 0x4, 1, respHdrLen), frame(0x0, 0x1, 1, body)...)
	return r
}

func (r *oneRequest) run(tb testing.TB) {
	r.id += 2
	binary.BigEndian.PutUint32(r.in.in[5:], r.id+1)
	binary.BigEndian.PutUint32(r.response[5:], r.id+1)
	binary.BigEndian.PutUint32(r.response[frameHeaderLen+28+5:], r.id+1)
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
		cert := testcert.Valid(b, "server")
		c, err := httpadapter.LoadCertificate(cert.Write(b, b.TempDir()))
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
		s, err := NewServer(ServerConfig{ServerConfig: httpadapter.ServerConfig{Server: &http.Server{ErrorLog: quietLog}, TLS: tlsCfg}, Handler: h})
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

// recConn records what is written to it and replays in for reads, in
// chunks of the sizes the test chooses.
type recConn struct {
	net.Conn // nil: only Read and Write are used
	out      bytes.Buffer
	in       [][]byte
}

func (c *recConn) Write(p []byte) (int, error) { return c.out.Write(p) }

func (c *recConn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.in[0])
	if c.in[0] = c.in[0][n:]; len(c.in[0]) == 0 {
		c.in = c.in[1:]
	}
	return n, nil
}

// frameKinds parses b as HTTP/2 frames and names them in order (type,
// and GOAWAY's last stream ID); it fails on bytes that are not frames.
func frameKinds(t *testing.T, r io.Reader) []string {
	t.Helper()
	fr := http2.NewFramer(nil, r)
	var kinds []string
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return kinds
		}
		if err != nil {
			t.Fatalf("after %v: %v", kinds, err)
		}
		k := f.Header().Type.String()
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			k += "(" + strconv.FormatUint(uint64(f.LastStreamID), 10) + ")"
		case *http2.PingFrame:
			if f.IsAck() {
				k += "(ack)"
			}
		}
		kinds = append(kinds, k)
	}
}

// TestTwoStepAnnounceAtFrameBoundary: the announce goes into the server's
// output only after its first frame (SETTINGS) and never inside a frame,
// however the server's writes split its frames.
func TestTwoStepAnnounceAtFrameBoundary(t *testing.T) {
	settings, data, hdrs := frame(0x4, 0, 0, 6), frame(0x0, 0, 1, 100), frame(0x1, 0x4, 3, 20)
	tests := []struct {
		name   string
		before [][]byte // written before the drain asks
		after  [][]byte // written after
		want   []string
	}{
		{
			name:  "before the server's SETTINGS",
			after: [][]byte{settings, data},
			want:  []string{"SETTINGS", "GOAWAY(2147483647)", "PING", "DATA"},
		},
		{
			name:   "mid-frame",
			before: [][]byte{settings, data[:50]},
			after:  [][]byte{append(slices.Clone(data[50:]), hdrs...)},
			want:   []string{"SETTINGS", "DATA", "GOAWAY(2147483647)", "PING", "HEADERS"},
		},
		{
			name:   "header split",
			before: [][]byte{settings, data[:4]},
			after:  [][]byte{data[4:], hdrs},
			want:   []string{"SETTINGS", "DATA", "GOAWAY(2147483647)", "PING", "HEADERS"},
		},
		{
			name:   "idle at a boundary",
			before: [][]byte{settings, data},
			after:  [][]byte{hdrs},
			want:   []string{"SETTINGS", "DATA", "GOAWAY(2147483647)", "PING", "HEADERS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recConn{}
			c := &h2Conn{Conn: rec}
			for _, p := range tt.before {
				if _, err := c.Write(p); err != nil {
					t.Fatal(err)
				}
			}
			c.ask(time.Now())
			c.tryAnnounce()
			for _, p := range tt.after {
				if _, err := c.Write(p); err != nil {
					t.Fatal(err)
				}
			}
			if got := frameKinds(t, &rec.out); !slices.Equal(got, tt.want) {
				t.Errorf("server output %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTwoStepHandsGoawayAfterAck: the GOAWAY handed to the server comes
// right after the client's ACK of the announce's PING, however the
// client's bytes arrive, and the bytes after the ACK follow it.
func TestTwoStepHandsGoawayAfterAck(t *testing.T) {
	tests := []struct {
		name     string
		split    func(b []byte) [][]byte
		buffered bool // the server reads ahead of its frames (as a bufio.Reader would)
	}{
		{"one read", func(b []byte) [][]byte { return [][]byte{b} }, false},
		{"one read, read ahead", func(b []byte) [][]byte { return [][]byte{b} }, true},
		{"byte by byte", func(b []byte) [][]byte {
			var s [][]byte
			for i := range b {
				s = append(s, b[i:i+1])
			}
			return s
		}, false},
		{"odd chunks", func(b []byte) [][]byte {
			var s [][]byte
			for len(b) > 0 {
				n := min(7, len(b))
				s, b = append(s, b[:n]), b[n:]
			}
			return s
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recConn{}
			c := &h2Conn{Conn: rec}
			c.ask(time.Now())
			ack := frame(frameTypePing, flagAck, 0, 8)
			copy(ack[frameHeaderLen:], c.ping[:])
			other := frame(frameTypePing, flagAck, 0, 8) // an ACK of another PING
			var in []byte
			for _, f := range [][]byte{frame(0x4, 0, 0, 6), frame(0x1, 0x5, 1, 20), other, ack, frame(0x1, 0x5, 3, 20), frame(0x0, 0x1, 3, 10)} {
				in = append(in, f...)
			}
			rec.in = tt.split(in)
			want := []string{"SETTINGS", "HEADERS", "PING(ack)", "PING(ack)", "GOAWAY(0)", "HEADERS", "DATA"}
			var r io.Reader = c
			if tt.buffered {
				r = bufio.NewReaderSize(c, 4096)
			}
			if got := frameKinds(t, r); !slices.Equal(got, want) {
				t.Errorf("server read %v, want %v", got, want)
			}
			if !c.finalAsked.Load() {
				t.Error("the handed GOAWAY is not recorded")
			}
		})
	}
}

// TestTwoStepConnStateSeesAcceptedConn: a ConnState hook of the caller's
// sees, for an HTTP/2 connection, the connection net/http accepted in
// every state, not the two-step's frame layer.
func TestTwoStepConnStateSeesAcceptedConn(t *testing.T) {
	var (
		mu   sync.Mutex
		seen = map[net.Conn][]http.ConnState{}
	)
	srv := &http.Server{ErrorLog: quietLog, ConnState: func(c net.Conn, st http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		seen[c] = append(seen[c], st)
	}}
	s, addr := startServer(t, ServerConfig{ServerConfig: httpadapter.ServerConfig{Server: srv}, Handler: okHandler()})
	tr := h2cTransport()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 {
		t.Fatalf("ConnState saw %d connections for one: %v", len(seen), seen)
	}
	for c, states := range seen {
		if h2ConnOf(c) != nil || !slices.Contains(states, http.StateIdle) || states[len(states)-1] != http.StateClosed {
			t.Errorf("ConnState saw %T with states %v", c, states)
		}
	}
}

// TestTwoStepStreamsDoneWhenWritten: a connection counts as answered only
// once the last frame of every stream the final GOAWAY did not refuse is
// written to it in full: net/http's HTTP/2 server reports the connection
// idle before it flushes that frame from its buffer.
func TestTwoStepStreamsDoneWhenWritten(t *testing.T) {
	rec := &recConn{}
	c := &h2Conn{Conn: rec}
	rec.in = [][]byte{append(append(frame(0x1, 0x5, 1, 10), frame(0x1, 0x5, 3, 10)...), frame(0x1, 0x5, 5, 10)...)}
	if got := frameKinds(t, c); len(got) != 3 {
		t.Fatalf("read %v", got)
	}
	goaway := goawayFrame(3)
	data := frame(0x0, flagEndStream, 1, 100)
	steps := []struct {
		write     []byte
		wantFinal bool
		wantDone  bool
	}{
		{write: goaway[:12]},
		{write: goaway[12:], wantFinal: true},
		{write: frame(0x3, 0, 3, 4), wantFinal: true}, // RST_STREAM on 3
		{write: data[:50], wantFinal: true},           // stream 1's last frame, half of it
		{write: data[50:], wantFinal: true, wantDone: true},
	}
	for i, st := range steps {
		if _, err := c.Write(st.write); err != nil {
			t.Fatal(err)
		}
		if got := c.finalSent.Load(); got != st.wantFinal {
			t.Errorf("step %d: final GOAWAY sent = %v, want %v", i, got, st.wantFinal)
		}
		if got := c.finalSent.Load() && c.streamsDone(c.finalLast.Load()); got != st.wantDone {
			t.Errorf("step %d: streams done = %v, want %v (final last stream %d)", i, got, st.wantDone, c.finalLast.Load())
		}
	}
}

// FuzzFrameCursor feeds a byte stream to the frame cursor whole, byte by
// byte and split at one point: the frame headers it finds, where they end
// and whether the stream ends at a boundary must not depend on how the
// bytes arrived, as reads and writes split them arbitrarily.
func FuzzFrameCursor(f *testing.F) {
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0}, 3)
	f.Add([]byte{0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 1, 0, 0, 0, 0}, 12)
	f.Add([]byte{0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1, 2, 3}, 5)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		type found struct {
			end int // offset just after the header
			hdr [frameHeaderLen]byte
		}
		feed := func(parts ...[]byte) (hs []found, c frameCursor) {
			off := 0
			for _, p := range parts {
				for len(p) > 0 {
					n, header := c.step(p)
					if n <= 0 || n > len(p) {
						t.Fatalf("step took %d of %d bytes", n, len(p))
					}
					p, off = p[n:], off+n
					if header {
						hs = append(hs, found{off, c.hdr})
					}
				}
			}
			return hs, c
		}
		whole, cw := feed(data)
		var bytewise [][]byte
		for i := range data {
			bytewise = append(bytewise, data[i:i+1])
		}
		one, co := feed(bytewise...)
		if split < 0 {
			split = -split
		}
		k := 0
		if len(data) > 0 {
			k = split % (len(data) + 1)
		}
		two, ct := feed(data[:k], data[k:])
		for _, got := range []struct {
			hs []found
			c  frameCursor
		}{{one, co}, {two, ct}} {
			if !slices.Equal(got.hs, whole) || got.c.frames != cw.frames || got.c.atBoundary() != cw.atBoundary() {
				t.Fatalf("split feeds found %v (frames %d, boundary %v), whole %v (frames %d, boundary %v)",
					got.hs, got.c.frames, got.c.atBoundary(), whole, cw.frames, cw.atBoundary())
			}
		}
		if int64(len(whole)) != cw.frames {
			t.Fatalf("%d headers found, frames = %d", len(whole), cw.frames)
		}
	})
}
