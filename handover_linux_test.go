package sdlife_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// An idle keep-alive connection outlives a restart of the Service: the
// next process answers on the same TCP connection, and drops the store's
// copy only after READY=1, so that the manager's work of closing it does
// not delay the restart.
func TestServiceHandsOverIdleConnection(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(8))
	generation := func(name string, opts sdlife.Options) (stop func()) {
		t.Helper()
		env := m.Environment()
		opts.Environment = &env
		svc, err := sdlife.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- svc.Run(ctx, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }))
		}()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("%s: Run: %v", name, err)
			}
		}
	}
	wait := func(after int, match func(sdtest.Message) bool) sdtest.Message {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		msg, err := m.Wait(ctx, sdtest.After(after, match))
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	last := func() int {
		msgs := m.Messages()
		if len(msgs) == 0 {
			return 0
		}
		return msgs[len(msgs)-1].Seq
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	listen := httpadapter.ListenConfig{Address: addr}

	stop := generation("first", sdlife.Options{Listen: listen})
	wait(0, sdtest.Has("READY", "1"))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	ask := func() string {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := ask(); got != "first" {
		t.Fatalf("first answer %q", got)
	}
	time.Sleep(10 * time.Millisecond) // idle after the response
	stop()

	seq := last()
	stop = generation("second", sdlife.Options{Listen: listen, Files: m.Files()})
	defer stop()
	ready := wait(seq, sdtest.Has("READY", "1"))
	removed := wait(seq, sdtest.Has("FDSTOREREMOVE", "1"))
	if removed.Seq < ready.Seq {
		t.Errorf("FDSTOREREMOVE (#%d) before READY=1 (#%d)", removed.Seq, ready.Seq)
	}
	if got := ask(); got != "second" {
		t.Fatalf("answer after the restart on the same connection: %q, want second", got)
	}
}
