package httpserve

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// A Go client keeps an HTTP/2 connection open after GOAWAY when it has no
// request on it; net/http then closes it only after its fixed one-second
// GOAWAY timeout, and the drain, and so the restart, waits for it. The
// drain half-closes such a connection once the client has its GOAWAY.
func TestDrainDoesNotWaitOutGoawayTimeout(t *testing.T) {
	tests := []struct {
		name string
		busy bool // requests in flight when the drain begins (GOAWAY with a response)
	}{
		{name: "idle connection"},
		{name: "busy connection", busy: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewServer(ServerConfig{
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
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			tr := &http.Transport{Protocols: &p}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			url := "http://" + l.Addr().String() + "/"
			get := func() error {
				resp, err := client.Get(url)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				return resp.Body.Close()
			}
			if err := get(); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				if !tt.busy {
					done <- nil
					return
				}
				for {
					select {
					case <-stop:
						done <- nil
						return
					default:
					}
					if err := get(); err != nil {
						if errors.Is(err, syscall.ECONNREFUSED) {
							done <- nil // a new connection after the listener closed: no server here to take it
						} else {
							done <- err
						}
						return
					}
				}
			}()
			time.Sleep(20 * time.Millisecond)
			start := time.Now()
			if err := s.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			close(stop)
			if err := <-done; err != nil {
				t.Errorf("a request failed: %v", err)
			}
			t.Logf("drain took %v", took)
			if took >= 900*time.Millisecond {
				t.Errorf("the drain took %v: it waited out net/http's GOAWAY timeout", took)
			}
		})
	}
}
