package httpserve

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/testcert"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawH2 is an HTTP/2 client made of frames (x/net/http2's Framer), as
// other clients than Go's behave: it never retries a refused stream, sends
// only what the test tells it (no PING ACK, no close after GOAWAY) and
// keeps reading until the server ends the connection.
type rawH2 struct {
	t      *testing.T
	conn   net.Conn
	fr     *http2.Framer // writes, from the test goroutine only
	scheme string
	henc   *hpack.Encoder
	hbuf   bytes.Buffer
	nextID uint32
	frames chan rawFrame // from the reader goroutine; closed at the end
	st     rawState
}

// rawFrame is what the test needs of a frame the server sent.
type rawFrame struct {
	typ    http2.FrameType
	ack    bool
	stream uint32
	end    bool // END_STREAM
	last   uint32
	code   http2.ErrCode
	ping   [8]byte
	status string
	data   string
}

// rawState is what the server sent so far.
type rawState struct {
	goaways  []rawFrame
	pings    [][8]byte // without ACK
	settings int       // without ACK
	status   map[uint32]string
	body     map[uint32]string
	ended    map[uint32]bool
	eof      bool
}

// dialRaw connects to addr, over TLS with ALPN h2 when cfg is set, and
// sends the preface and SETTINGS.
func dialRaw(t *testing.T, addr string, cfg *tls.Config) *rawH2 {
	t.Helper()
	var (
		conn   net.Conn
		err    error
		scheme = "http"
	)
	if cfg != nil {
		cfg = cfg.Clone()
		cfg.NextProtos = []string{"h2"}
		conn, err = tls.Dial("tcp", addr, cfg)
		scheme = "https"
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := &rawH2{
		t: t, conn: conn, fr: http2.NewFramer(conn, nil), scheme: scheme, nextID: 1,
		frames: make(chan rawFrame, 8192),
		st:     rawState{status: map[uint32]string{}, body: map[uint32]string{}, ended: map[uint32]bool{}},
	}
	c.henc = hpack.NewEncoder(&c.hbuf)
	readDone := make(chan struct{})
	go c.read(readDone)
	t.Cleanup(func() {
		conn.Close()
		<-readDone
	})
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return c
}

// read turns the server's frames into rawFrames until the connection
// ends.
func (c *rawH2) read(done chan<- struct{}) {
	defer close(done)
	defer close(c.frames)
	fr := http2.NewFramer(nil, c.conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		h := f.Header()
		rf := rawFrame{typ: h.Type, ack: h.Flags.Has(http2.FlagPingAck), stream: h.StreamID}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			rf.status, rf.end = f.PseudoValue("status"), f.StreamEnded()
		case *http2.DataFrame:
			rf.data, rf.end = string(f.Data()), f.StreamEnded()
		case *http2.GoAwayFrame:
			rf.last, rf.code = f.LastStreamID, f.ErrCode
		case *http2.PingFrame:
			rf.ping = f.Data
		case *http2.SettingsFrame:
			rf.ack = f.IsAck()
		}
		c.frames <- rf
	}
}

// wait applies the server's frames to c.st until cond holds; it fails the
// test if the connection ends first, or after 10 seconds (a guard against
// a hung test, not a measurement).
func (c *rawH2) wait(what string, cond func(*rawState) bool) {
	c.t.Helper()
	guard := time.NewTimer(10 * time.Second)
	defer guard.Stop()
	for !cond(&c.st) {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.st.eof = true
				if !cond(&c.st) {
					c.t.Fatalf("the connection ended before %s", what)
				}
				return
			}
			c.apply(f)
		case <-guard.C:
			c.t.Fatalf("no %s after 10s", what)
		}
	}
}

func (c *rawH2) apply(f rawFrame) {
	switch f.typ {
	case http2.FrameGoAway:
		c.st.goaways = append(c.st.goaways, f)
	case http2.FramePing:
		if !f.ack {
			c.st.pings = append(c.st.pings, f.ping)
		}
	case http2.FrameSettings:
		if !f.ack {
			c.st.settings++
		}
	case http2.FrameHeaders:
		c.st.status[f.stream] = f.status
	case http2.FrameData:
		c.st.body[f.stream] += f.data
	}
	if f.end {
		c.st.ended[f.stream] = true
	}
}

// handshake waits for the server's SETTINGS and acknowledges them.
func (c *rawH2) handshake() {
	c.t.Helper()
	c.wait("server SETTINGS", func(s *rawState) bool { return s.settings > 0 })
	if err := c.fr.WriteSettingsAck(); err != nil {
		c.t.Fatal(err)
	}
}

// get opens a stream with a GET of path and returns its ID.
func (c *rawH2) get(path string) uint32 {
	c.t.Helper()
	c.hbuf.Reset()
	for _, kv := range [][2]string{{":method", "GET"}, {":scheme", c.scheme}, {":authority", "test"}, {":path", path}} {
		_ = c.henc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	id := c.nextID
	c.nextID += 2
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
	return id
}

// answered waits until every stream in ids got "200" and "ok".
func (c *rawH2) answered(ids ...uint32) {
	c.t.Helper()
	c.wait("the answers", func(s *rawState) bool {
		for _, id := range ids {
			if !s.ended[id] {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if c.st.status[id] != "200" || c.st.body[id] != "ok" {
			c.t.Errorf("stream %d: status %q body %q", id, c.st.status[id], c.st.body[id])
		}
	}
}

// announced waits for the two-step's first GOAWAY and its PING and
// returns the PING's payload.
func (c *rawH2) announced() [8]byte {
	c.t.Helper()
	c.wait("GOAWAY and PING", func(s *rawState) bool { return len(s.goaways) > 0 && len(s.pings) > 0 })
	if g := c.st.goaways[0]; g.last != 1<<31-1 || g.code != http2.ErrCodeNo {
		c.t.Fatalf("first GOAWAY: last stream %d, %v; want %d, NO_ERROR", g.last, g.code, uint32(1<<31-1))
	}
	return c.st.pings[len(c.st.pings)-1]
}

// final waits for the second GOAWAY and returns its last stream ID.
func (c *rawH2) final() uint32 {
	c.t.Helper()
	c.wait("the final GOAWAY", func(s *rawState) bool { return len(s.goaways) > 1 })
	g := c.st.goaways[1]
	if g.code != http2.ErrCodeNo {
		c.t.Fatalf("final GOAWAY: %v, want NO_ERROR", g.code)
	}
	return g.last
}

// twoStepServer starts a Server, over TLS when withTLS, whose handler
// answers "ok", after the test closes release for /slow (entered gets a
// value when /slow begins).
func twoStepServer(t *testing.T, withTLS bool, ackTimeout time.Duration) (s *Server, addr string, client *tls.Config, entered chan struct{}, release chan struct{}) {
	t.Helper()
	entered, release = make(chan struct{}, 16), make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/", okHandler())
	mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "ok")
	})
	cfg := ServerConfig{ServerConfig: httpadapter.ServerConfig{Server: &http.Server{ErrorLog: quietLog}, DrainTimeout: 5 * time.Second, GoawayAckTimeout: ackTimeout}, Handler: mux}
	if withTLS {
		cert := testcert.Valid(t, "server")
		c, err := httpadapter.LoadCertificate(cert.Write(t, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS = c.TLSConfig()
		client = &tls.Config{RootCAs: testcert.Pool(cert)}
	}
	s, addr = startServer(t, cfg)
	return s, addr, client, entered, release
}

var twoStepProtos = []struct {
	name string
	tls  bool
}{{"h2c", false}, {"h2", true}}

// TestTwoStepGoawayAnswersRoundTrip: streams a client opens after the
// drain began and before it acknowledged the PING (in flight when the
// first GOAWAY arrived, for the server) are all processed and answered;
// the final GOAWAY names them, and the connection then ends.
func TestTwoStepGoawayAnswersRoundTrip(t *testing.T) {
	for _, tt := range twoStepProtos {
		t.Run(tt.name, func(t *testing.T) {
			s, addr, cfg, _, _ := twoStepServer(t, tt.tls, 5*time.Second)
			c := dialRaw(t, addr, cfg)
			c.handshake()
			c.answered(c.get("/"))

			errc := make(chan error, 1)
			go func() { errc <- s.Shutdown(context.Background()) }()
			ping := c.announced()
			var window []uint32
			for range 5 {
				window = append(window, c.get("/"))
			}
			if err := c.fr.WritePing(true, ping); err != nil {
				t.Fatal(err)
			}
			if last := c.final(); last < window[len(window)-1] {
				t.Errorf("final GOAWAY names stream %d; streams up to %d were opened before the PING's ACK", last, window[len(window)-1])
			}
			c.answered(window...)
			c.wait("the end of the connection", func(s *rawState) bool { return s.eof })
			if err := <-errc; err != nil {
				t.Fatalf("Shutdown() = %v", err)
			}
		})
	}
}

// TestTwoStepGoawayCutsClientThatIgnoresIt: a client that never
// acknowledges the PING and goes on opening streams gets the final
// GOAWAY once GoawayAckTimeout passed: the streams it opened before are
// answered, those it opens after the final GOAWAY are not processed, and
// the drain ends although the client keeps its side open.
func TestTwoStepGoawayCutsClientThatIgnoresIt(t *testing.T) {
	const bound = 300 * time.Millisecond
	for _, tt := range twoStepProtos {
		t.Run(tt.name, func(t *testing.T) {
			s, addr, cfg, _, _ := twoStepServer(t, tt.tls, bound)
			c := dialRaw(t, addr, cfg)
			c.handshake()

			start := time.Now()
			errc := make(chan error, 1)
			go func() { errc <- s.Shutdown(context.Background()) }()
			c.announced()
			before := []uint32{c.get("/"), c.get("/"), c.get("/")}
			last := c.final()
			if took := time.Since(start); took < bound {
				t.Errorf("final GOAWAY after %v, before the bound %v: the client never acknowledged", took, bound)
			}
			if last < before[len(before)-1] {
				t.Errorf("final GOAWAY names stream %d; want at least %d", last, before[len(before)-1])
			}
			c.answered(before...)
			after := []uint32{c.get("/"), c.get("/")}
			c.wait("the end of the connection", func(s *rawState) bool { return s.eof })
			for _, id := range after {
				if _, ok := c.st.status[id]; ok {
					t.Errorf("stream %d, opened after the final GOAWAY (last stream %d), was answered", id, last)
				}
			}
			if err := <-errc; err != nil {
				t.Fatalf("Shutdown() = %v", err)
			}
		})
	}
}

// TestTwoStepGoawayInFlightDoesNotHoldDrain: a request in flight when the
// drain begins is answered, and its connection, which the client keeps
// open after GOAWAY, is ended as soon as the response is out: the drain
// does not wait out net/http's one-second GOAWAY timeout.
func TestTwoStepGoawayInFlightDoesNotHoldDrain(t *testing.T) {
	for _, tt := range twoStepProtos {
		t.Run(tt.name, func(t *testing.T) {
			s, addr, cfg, entered, release := twoStepServer(t, tt.tls, 5*time.Second)
			c := dialRaw(t, addr, cfg)
			c.handshake()
			slow := c.get("/slow")
			<-entered

			errc := make(chan error, 1)
			go func() { errc <- s.Shutdown(context.Background()) }()
			ping := c.announced()
			if err := c.fr.WritePing(true, ping); err != nil {
				t.Fatal(err)
			}
			if last := c.final(); last < slow {
				t.Fatalf("final GOAWAY names stream %d; stream %d is in flight", last, slow)
			}
			released := time.Now()
			close(release)
			c.answered(slow)
			c.wait("the end of the connection", func(s *rawState) bool { return s.eof })
			if err := <-errc; err != nil {
				t.Fatalf("Shutdown() = %v", err)
			}
			// net/http would close the connection one second after its
			// last stream: the drain must not be what waits for it.
			if took := time.Since(released); took >= 900*time.Millisecond {
				t.Errorf("the drain ended %v after the last response: it waited out net/http's GOAWAY timeout", took)
			}
		})
	}
}

// TestTwoStepGoawayBadClients: clients that misbehave during the drain
// end it within its bound and leave the server whole.
func TestTwoStepGoawayBadClients(t *testing.T) {
	const bound = 200 * time.Millisecond
	tests := []struct {
		name string
		tls  bool
		give func(t *testing.T, addr string, cfg *tls.Config, drain func())
	}{
		{
			name: "ping flood and settings during the drain",
			give: func(t *testing.T, addr string, cfg *tls.Config, drain func()) {
				c := dialRaw(t, addr, cfg)
				c.handshake()
				drain()
				c.announced()
				for i := range 500 {
					var data [8]byte
					copy(data[:], strconv.Itoa(i))
					if c.fr.WritePing(false, data) != nil ||
						c.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: uint32(10 + i)}) != nil {
						break // the server ended the connection
					}
				}
				c.wait("the end of the connection", func(s *rawState) bool { return s.eof })
			},
		},
		{
			name: "preface and nothing else",
			give: func(t *testing.T, addr string, _ *tls.Config, drain func()) {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
					t.Fatal(err)
				}
				drain()
				if _, err := io.Copy(io.Discard, conn); err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
					t.Fatal(err)
				}
			},
		},
		{
			name: "TLS handshake and no preface",
			tls:  true,
			give: func(t *testing.T, addr string, cfg *tls.Config, drain func()) {
				cfg = cfg.Clone()
				cfg.NextProtos = []string{"h2"}
				conn, err := tls.Dial("tcp", addr, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				drain()
				if _, err := io.Copy(io.Discard, conn); err != nil && !isReset(err) {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, addr, cfg, _, _ := twoStepServer(t, tt.tls, bound)
			errc := make(chan error, 1)
			drain := func() { // once the client connected
				waitFor(t, func() bool { return s.conn.counts(time.Now()).total() > 0 }, "a connection")
				go func() { errc <- s.Shutdown(context.Background()) }()
				<-s.Draining()
			}
			tt.give(t, addr, cfg, drain)
			if err := <-errc; err != nil {
				t.Fatalf("Shutdown() = %v", err)
			}
		})
	}
}

// isReset reports whether err is a connection reset.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// pumpThroughDrain keeps 16 streams in flight on c, opening one as each
// ends, as a client that never retries does, acknowledging the server's
// PINGs; drain starts once 100 were answered. Like any compliant client it
// opens no stream once it has read a GOAWAY. It returns how many streams
// it opened and how many of them the final GOAWAY refused (above its last
// stream ID, never answered).
func pumpThroughDrain(t *testing.T, c *rawH2, drain func()) (opened, refused int) {
	t.Helper()
	var ids []uint32
	open := func() { ids = append(ids, c.get("/")) }
	for range 16 {
		open()
	}
	acked, drained, ended := 0, false, 0
	for {
		c.wait("progress", func(s *rawState) bool {
			return s.eof || len(s.pings) > acked || len(s.ended) > ended
		})
		for ; acked < len(c.st.pings); acked++ {
			if err := c.fr.WritePing(true, c.st.pings[acked]); err != nil {
				break // the server closed: what was sent is counted below
			}
		}
		for ; ended < len(c.st.ended); ended++ {
			if len(c.st.goaways) == 0 {
				open()
			}
		}
		if !drained && ended >= 100 {
			drained = true
			drain()
		}
		if c.st.eof {
			break
		}
	}
	if len(c.st.goaways) == 0 {
		t.Fatal("no GOAWAY")
	}
	last := c.st.goaways[len(c.st.goaways)-1].last
	for _, id := range ids {
		if id > last {
			refused++
		} else if !c.st.ended[id] {
			t.Errorf("stream %d (at most the last stream %d) was not answered", id, last)
		}
	}
	return len(ids), refused
}

// TestTwoStepRefusesNoStream: a client that keeps streams in flight as
// the drain begins and never retries: net/http's single GOAWAY refuses
// some of them (recorded, for BENCHMARKS.md), the two-step none.
func TestTwoStepRefusesNoStream(t *testing.T) {
	if testing.Short() {
		t.Skip("net/http's drains take a second each")
	}
	const drains = 5
	for _, tt := range twoStepProtos {
		t.Run(tt.name, func(t *testing.T) {
			var sd, nh struct{ opened, refused int }
			for range drains {
				s, addr, cfg, _, _ := twoStepServer(t, tt.tls, 5*time.Second)
				c := dialRaw(t, addr, cfg)
				c.handshake()
				errc := make(chan error, 1)
				o, r := pumpThroughDrain(t, c, func() { go func() { errc <- s.Shutdown(context.Background()) }() })
				if err := <-errc; err != nil {
					t.Fatalf("Shutdown() = %v", err)
				}
				sd.opened += o
				sd.refused += r

				srv, naddr, ncfg := plainH2Server(t, tt.tls)
				c = dialRaw(t, naddr, ncfg)
				c.handshake()
				nerrc := make(chan error, 1)
				o, r = pumpThroughDrain(t, c, func() { go func() { nerrc <- srv.Shutdown(context.Background()) }() })
				c.conn.Close() // net/http's own Shutdown waits for the client
				if err := <-nerrc; err != nil {
					t.Fatalf("net/http Shutdown() = %v", err)
				}
				nh.opened += o
				nh.refused += r
			}
			t.Logf("%d drains: two-step refused %d of %d streams; net/http refused %d of %d", drains, sd.refused, sd.opened, nh.refused, nh.opened)
			if sd.refused != 0 {
				t.Errorf("the two-step refused %d streams", sd.refused)
			}
		})
	}
}

// plainH2Server serves "ok" with a plain http.Server, h2c or h2 over TLS.
func plainH2Server(t *testing.T, withTLS bool) (*http.Server, string, *tls.Config) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	srv := &http.Server{Handler: okHandler(), ErrorLog: quietLog, Protocols: protocols(true, withTLS, !withTLS)}
	var client *tls.Config
	if withTLS {
		cert := testcert.Valid(t, "server")
		c, err := httpadapter.LoadCertificate(cert.Write(t, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		cfg := c.TLSConfig().Clone()
		cfg.NextProtos = []string{"h2"}
		l = tls.NewListener(l, cfg)
		client = &tls.Config{RootCAs: testcert.Pool(cert)}
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return srv, addr, client
}
