package httpserve

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// An h2c client written frame by frame, for tests that must see what the
// server sends on the wire (a GOAWAY, or nothing before the connection
// ends). It speaks just enough HTTP/2 (RFC 9113) for a few GETs.

// The HTTP/2 frame types and flags these tests use.
const (
	h2FrameData     = 0x0
	h2FrameHeaders  = 0x1
	h2FrameSettings = 0x4
	h2FrameGoaway   = 0x7

	h2FlagAck       = 0x1 // SETTINGS
	h2FlagEndStream = 0x1 // DATA, HEADERS
	h2FlagEndHdrs   = 0x4 // HEADERS
)

type h2Frame struct {
	typ, flags byte
	stream     uint32
	payload    []byte
}

func writeH2Frame(w io.Writer, f h2Frame) error {
	hdr := make([]byte, 9, 9+len(f.payload))
	hdr[0], hdr[1], hdr[2] = byte(len(f.payload)>>16), byte(len(f.payload)>>8), byte(len(f.payload))
	hdr[3], hdr[4] = f.typ, f.flags
	binary.BigEndian.PutUint32(hdr[5:], f.stream&0x7fffffff)
	_, err := w.Write(append(hdr, f.payload...))
	return err
}

func readH2Frame(r io.Reader) (h2Frame, error) {
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return h2Frame{}, err
	}
	f := h2Frame{typ: hdr[3], flags: hdr[4], stream: binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff}
	f.payload = make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return h2Frame{}, fmt.Errorf("frame type %d: %w", f.typ, err)
	}
	return f, nil
}

// h2cIdle opens an h2c connection (prior knowledge) to addr and sends
// GET / on streams 1 and 3; it returns once the second response has
// ended: the connection is then idle, every SETTINGS was acknowledged
// both ways before the second request, and the server has nothing of the
// client's left to read.
func h2cIdle(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := writeH2Frame(c, h2Frame{typ: h2FrameSettings}); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for stream := uint32(1); stream <= 3; stream += 2 {
		h2cGetOn(t, c, br, stream)
	}
	_ = c.SetDeadline(time.Time{})
	return c, br
}

// h2cGetOn sends GET / on stream and reads until its response ended and
// the SETTINGS of both sides were acknowledged.
func h2cGetOn(t *testing.T, c net.Conn, br *bufio.Reader, stream uint32) {
	t.Helper()
	// HPACK: :method GET, :scheme http, :path / from the static table
	// (indexed 2, 6, 4), :authority "x" as a literal without indexing
	// whose name is static entry 1.
	block := []byte{0x82, 0x86, 0x84, 0x01, 0x01, 'x'}
	if err := writeH2Frame(c, h2Frame{typ: h2FrameHeaders, flags: h2FlagEndStream | h2FlagEndHdrs, stream: stream, payload: block}); err != nil {
		t.Fatal(err)
	}
	acked, settled := stream > 1, stream > 1 // our SETTINGS acked, the server's acked by us
	var ended bool
	status := ""
	for !acked || !settled || !ended {
		f, err := readH2Frame(br)
		if err != nil {
			t.Fatalf("reading the response on stream %d: %v", stream, err)
		}
		switch {
		case f.typ == h2FrameSettings && f.flags&h2FlagAck != 0:
			acked = true
		case f.typ == h2FrameSettings:
			if err := writeH2Frame(c, h2Frame{typ: h2FrameSettings, flags: h2FlagAck}); err != nil {
				t.Fatal(err)
			}
			settled = true
		case f.typ == h2FrameHeaders && f.stream == stream:
			// ":status: 200" is static entry 8: indexed, 0x88.
			if len(f.payload) > 0 && f.payload[0] == 0x88 {
				status = "200"
			}
			ended = ended || f.flags&h2FlagEndStream != 0
		case f.typ == h2FrameData && f.stream == stream:
			ended = ended || f.flags&h2FlagEndStream != 0
		case f.typ == h2FrameGoaway:
			t.Fatalf("GOAWAY before the drain")
		}
	}
	if status != "200" {
		t.Fatalf("the h2c GET on stream %d was not answered 200", stream)
	}
}

// untilGoaway reads frames until a GOAWAY or the end of the connection,
// within bound; it reports whether a GOAWAY came, and how the reading
// ended when none did.
func untilGoaway(c net.Conn, br *bufio.Reader, bound time.Duration) (bool, error) {
	_ = c.SetReadDeadline(time.Now().Add(bound))
	for {
		f, err := readH2Frame(br)
		if err != nil {
			return false, err
		}
		if f.typ == h2FrameGoaway {
			return true, nil
		}
	}
}

// With a ConnStore, the drain hands idle HTTP/1 connections to the fd
// store; an idle h2c connection is never among them (an HTTP/2
// connection's state, its HPACK tables, stream ids and settings, lives in
// this process and cannot be handed over): it gets its GOAWAY, and is
// neither stored nor cut without one.
func TestDrainH2CNotHandedOver(t *testing.T) {
	tests := []struct {
		name  string
		give  int // idle h2c connections
		plain int // idle HTTP/1 keep-alive connections beside them
	}{
		{name: "h2c alone", give: 1},
		{name: "h2c beside HTTP/1", give: 2, plain: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t, sdtest.WithFDStore(16))
			cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
			srv, res := startGeneration(t, "old", cfg, true)
			addr := res.Listener.Addr().String()

			type h2c struct {
				c  net.Conn
				br *bufio.Reader
			}
			var h2cs []h2c
			for range tt.give {
				c, br := h2cIdle(t, addr)
				h2cs = append(h2cs, h2c{c, br})
			}
			openIdle(t, addr, tt.plain, "old")
			// Every connection idle between requests, as the drain finds
			// it: the h2c ones marked HTTP/2 by their request.
			waitFor(t, func() bool {
				c := srv.conn.counts(time.Now())
				return c.Idle == tt.plain && c.HTTP2 == tt.give && idleHTTP2(srv) == tt.give
			}, fmt.Sprintf("%d idle HTTP/2 and %d idle HTTP/1 connections", tt.give, tt.plain))

			type result struct {
				goaway bool
				err    error
			}
			results := make(chan result, len(h2cs))
			for _, h := range h2cs {
				go func() {
					// The drain's GOAWAY comes while Shutdown runs; the
					// bound only ends a reader that waits in vain.
					g, err := untilGoaway(h.c, h.br, 5*time.Second)
					if g {
						h.c.Close() // as an idle client does after GOAWAY
					}
					results <- result{g, err}
				}()
			}
			if err := srv.Shutdown(context.Background()); err != nil {
				t.Fatalf("Shutdown() = %v", err)
			}
			barrier(t, m)
			if got := len(connNames(storedNames(m))); got != tt.plain {
				t.Errorf("the store holds %d connections, want the %d HTTP/1 ones: %v", got, tt.plain, storedNames(m))
				for _, h := range h2cs {
					h.c.Close() // a stored one would wait for a GOAWAY in vain
				}
			}
			for range h2cs {
				r := <-results
				switch {
				case r.goaway:
				case errors.Is(r.err, io.EOF) || errors.Is(r.err, syscall.ECONNRESET):
					t.Errorf("an idle h2c connection was cut without a GOAWAY: %v", r.err)
				default:
					t.Errorf("no GOAWAY on an idle h2c connection: %v (parked and handed over?)", r.err)
				}
			}
		})
	}
}

// idleHTTP2 counts the connections of s known to speak HTTP/2 whose
// last stream ended.
func idleHTTP2(s *Server) int {
	n := 0
	s.conn.conns.Range(func(_, v any) bool {
		r := v.(*connRecord)
		if connProto(r.proto.Load()) == protoHTTP2 && http.ConnState(r.state.Load()) == http.StateIdle {
			n++
		}
		return true
	})
	return n
}
