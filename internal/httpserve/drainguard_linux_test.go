package httpserve

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"github.com/sdlife/sdlife/httpadapter"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// An idle connection past its grace is closed, unless its client's next
// request already sits in the socket buffer: that connection is about to
// become active and must be answered, not reset.
func TestCloseIdleSparesPendingRequest(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var tr connTracker
	_, quiet := connPair(t, l)
	client, pending := connPair(t, l)
	for _, c := range []net.Conn{quiet, pending} {
		tr.accepted(context.Background(), c)
		tr.track(c, http.StateIdle)
	}
	const req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	if _, err := io.WriteString(client, req); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !pendingInput(pending); {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the server's socket buffer")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now().Add(-time.Hour) // both idle far longer than the grace
	if n := tr.closeIdle(time.Now(), start, time.Millisecond); n != 1 {
		t.Fatalf("closeIdle closed %d connections, want 1 (the quiet one)", n)
	}
	if _, err := quiet.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the quiet connection: read %v, want it closed", err)
	}
	buf := make([]byte, len(req))
	_ = pending.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(pending, buf); err != nil || string(buf) != req {
		t.Fatalf("the waiting request: %q, %v; want it intact for the server to answer", buf, err)
	}
}

// An idle h2c connection gets GOAWAY during the drain, also when the
// drain waits IdleGrace for an idle HTTP/1 connection meanwhile: it is
// never cut like an HTTP/1 connection past its grace, which would leave
// its client guessing which requests were served.
func TestDrainIdleH2CGetsGoaway(t *testing.T) {
	s, err := NewServer(ServerConfig{ServerConfig: httpadapter.ServerConfig{IdleGrace: 300 * time.Millisecond},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(l); err != nil {
		t.Fatal(err)
	}
	// An idle HTTP/1 keep-alive connection holds the drain for IdleGrace.
	h1, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Close()
	if code, _ := get(t, h1, bufio.NewReader(h1)); code != http.StatusOK {
		t.Fatalf("HTTP/1 request: %d", code)
	}
	// An h2c connection with one request served, then idle.
	h2, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	_ = h2.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(h2, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	writeFrame(t, h2, 0x4, 0, 0, nil) // SETTINGS
	// HEADERS, END_STREAM|END_HEADERS, stream 1: GET http / from the
	// HPACK static table, and :authority x as a literal.
	writeFrame(t, h2, 0x1, 0x5, 1, []byte{0x82, 0x86, 0x84, 0x41, 0x01, 'x'})
	br := bufio.NewReader(h2)
	for {
		typ, flags, stream, _ := readFrame(t, br)
		if typ == 0x4 && flags&0x1 == 0 {
			writeFrame(t, h2, 0x4, 0x1, 0, nil) // ACK the server's SETTINGS
		}
		if typ == 0x0 && stream == 1 && flags&0x1 != 0 {
			break // the response's last DATA frame
		}
	}
	waitIdle(t, s, 1) // the HTTP/1 one; the h2c one is counted apart
	for deadline := time.Now().Add(5 * time.Second); s.conn.counts(time.Now()).HTTP2 != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the h2c connection is not known as HTTP/2")
		}
		time.Sleep(time.Millisecond)
	}

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	for {
		typ, _, _, err := readFrameErr(br)
		if err != nil {
			t.Fatalf("the idle h2c connection ended without GOAWAY: %v", err)
		}
		if typ == 0x7 {
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func writeFrame(t *testing.T, w io.Writer, typ, flags byte, stream uint32, payload []byte) {
	t.Helper()
	hdr := make([]byte, 9, 9+len(payload))
	hdr[0], hdr[1], hdr[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	hdr[3], hdr[4] = typ, flags
	binary.BigEndian.PutUint32(hdr[5:], stream)
	if _, err := w.Write(append(hdr, payload...)); err != nil {
		t.Fatal(err)
	}
}

func readFrame(t *testing.T, r *bufio.Reader) (typ, flags byte, stream uint32, payload []byte) {
	t.Helper()
	typ, flags, stream, err := readFrameErr(r)
	if err != nil {
		t.Fatal(err)
	}
	return typ, flags, stream, nil
}

func readFrameErr(r *bufio.Reader) (typ, flags byte, stream uint32, err error) {
	hdr := make([]byte, 9)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return 0, 0, 0, err
	}
	n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
	if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
		return 0, 0, 0, err
	}
	return hdr[3], hdr[4], binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff, nil
}
