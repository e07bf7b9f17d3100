package main

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestH2C(t *testing.T) {
	s, _, _ := underManager(t, map[string]string{"greeting": "h2c"})
	var p http.Protocols
	p.SetUnencryptedHTTP2(true) // prior knowledge, no HTTP/1.1 fallback
	tr := &http.Transport{Protocols: &p}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get(s.url("/"))
	if err != nil {
		t.Fatalf("GET / with h2c prior knowledge: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(body) != "h2c\n" {
		t.Fatalf("GET / = %s %d %q, want HTTP/2.0 200 \"h2c\\n\"", resp.Proto, resp.StatusCode, body)
	}
	// HTTP/1.1 still works on the same listener.
	if code, body := s.get("/"); code != 200 || body != "h2c\n" {
		t.Fatalf("HTTP/1.1 GET / = %d %q", code, body)
	}
}

// sseEvent is one server-sent event block: its lines without the blank
// line that ends it.
type sseEvent []string

func (e sseEvent) complete() bool {
	var id, data bool
	for _, l := range e {
		id = id || strings.HasPrefix(l, "id: ")
		data = data || strings.HasPrefix(l, "data: ")
	}
	return id && data
}

// readEvent reads one event block; ended is true when the block was
// terminated by its blank line, false when the stream ended first (a
// partial event, with the read error).
func readEvent(r *bufio.Reader) (ev sseEvent, ended bool, err error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if line != "" {
				ev = append(ev, line)
			}
			return ev, false, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return ev, true, nil
		}
		ev = append(ev, line)
	}
}

func TestEventsEndOnDrain(t *testing.T) {
	tests := []struct {
		name string
		h2c  bool
	}{
		{name: "HTTP/1.1"},
		{name: "h2c", h2c: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := underManager(t, nil)
			tr := &http.Transport{}
			if tt.h2c {
				var p http.Protocols
				p.SetUnencryptedHTTP2(true)
				tr.Protocols = &p
			}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get(s.url("/events"))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("GET /events = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if tt.h2c && resp.ProtoMajor != 2 {
				t.Fatalf("GET /events over %s, want HTTP/2", resp.Proto)
			}
			r := bufio.NewReader(resp.Body)
			var events []sseEvent
			for len(events) < 2 {
				ev, ended, err := readEvent(r)
				if !ended {
					t.Fatalf("stream ended before two events: %v after %q", err, events)
				}
				events = append(events, ev)
			}

			// A stream that does not end on the drain would run into the
			// drain timeout (a minute); bound the wait well under it.
			const bound = 5 * time.Second
			stop := time.Now()
			cut := time.AfterFunc(bound, func() { resp.Body.Close() })
			defer cut.Stop()
			s.signal(syscall.SIGTERM)
			var tail error
			for {
				ev, ended, err := readEvent(r)
				if !ended {
					if len(ev) > 0 {
						t.Fatalf("partial event at the end of the stream: %q (%v)", ev, err)
					}
					tail = err
					break
				}
				events = append(events, ev)
			}
			streamEnded := time.Since(stop)
			if !cut.Stop() {
				t.Fatalf("the stream did not end within %s of SIGTERM (drain timeout %s)", bound, drainTimeout)
			}
			if tail != io.EOF {
				t.Fatalf("the stream ended with %v, want a clean end (io.EOF)", tail)
			}
			select {
			case <-s.exited:
			case <-time.After(bound - time.Since(stop)):
				t.Fatalf("chi-server still running %s after SIGTERM (drain timeout %s)", bound, drainTimeout)
			}
			exited := time.Since(stop)
			if code := s.cmd.ProcessState.ExitCode(); code != 0 {
				t.Fatalf("exit code %d, want 0", code)
			}
			t.Logf("%d events; stream ended %s and the process exited %s after SIGTERM", len(events), streamEnded, exited)
			for i, ev := range events {
				if !ev.complete() {
					t.Fatalf("event %d is not complete: %q", i, ev)
				}
				want := sseEvent{"id: " + strconv.Itoa(i+1), "data: " + strconv.Itoa(i+1)}
				if strings.Join(ev, "\n") != strings.Join(want, "\n") {
					t.Fatalf("event %d = %q, want %q", i, ev, want)
				}
			}
		})
	}
}
