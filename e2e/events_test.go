//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventStream is one open GET /events, read by its own goroutine until the
// stream ends.
type eventStream struct {
	cancel context.CancelFunc
	events chan struct{} // one value per complete event (buffered)
	done   chan struct{} // closed when the stream ended
	mu     sync.Mutex
	raw    strings.Builder
	err    error // how the body ended: io.EOF is a clean end
}

// openEvents connects to /events with the given client kind and starts
// reading. The stream is cut by Close at the latest.
func openEvents(t testing.TB, kind clientKind) *eventStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tr := kind.transport(nil)
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s://127.0.0.1:%d/events", kind.scheme(), servicePort()), nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET /events: %v", err)
	}
	if resp.StatusCode != 200 || resp.ProtoMajor != kind.protoMajor() || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		cancel()
		t.Fatalf("GET /events: %s %s %q", resp.Proto, resp.Status, resp.Header.Get("Content-Type"))
	}
	s := &eventStream{cancel: cancel, events: make(chan struct{}, 1000), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer tr.CloseIdleConnections()
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			s.mu.Lock()
			s.raw.WriteString(line)
			if err != nil {
				s.err = err
			}
			s.mu.Unlock()
			if err != nil {
				return
			}
			if line == "\n" {
				s.events <- struct{}{}
			}
		}
	}()
	return s
}

// Close cuts the stream if it is still open and waits for its reader.
func (s *eventStream) Close() {
	s.cancel()
	<-s.done
}

// waitEvents waits for n more complete events.
func (s *eventStream) waitEvents(t testing.TB, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-s.events:
		case <-time.After(5 * time.Second):
			t.Fatalf("no event within 5s (got so far: %q)", s.text())
		}
	}
}

// waitEnd waits for the stream to end and returns how it ended.
func (s *eventStream) waitEnd(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("stream still open %v later", timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *eventStream) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.String()
}

var eventRe = regexp.MustCompile(`^id: (\d+)\ndata: (\d+)$`)

// checkComplete asserts that the stream ended cleanly (io.EOF, not a cut
// chunk or stream) and that every event, the last included, is complete:
// "id: N", "data: N", a blank line, with N counting up from 1.
func checkComplete(t testing.TB, s *eventStream, endErr error) int {
	t.Helper()
	raw := s.text()
	if !errors.Is(endErr, io.EOF) || errors.Is(endErr, io.ErrUnexpectedEOF) {
		t.Errorf("stream ended with %v, want a clean end (EOF); received %q", endErr, raw)
	}
	if !strings.HasSuffix(raw, "\n\n") {
		t.Errorf("stream does not end with a complete event: %q", raw)
	}
	blocks := strings.Split(strings.TrimSuffix(raw, "\n\n"), "\n\n")
	for i, b := range blocks {
		m := eventRe.FindStringSubmatch(b)
		if m == nil || m[1] != m[2] || m[1] != fmt.Sprint(i+1) {
			t.Errorf("event %d is %q, want id and data %d", i+1, b, i+1)
		}
	}
	return len(blocks)
}

// TestEventsRestart: an SSE client connected to /events during `systemctl
// restart` sees its stream end cleanly after a complete event, and its
// reconnection is served by the new process; a `systemctl stop` with a
// stream open takes about a second (the event interval), not the drain
// timeout. Over HTTP/1.1 and h2c.
func TestEventsRestart(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.must(t, "systemctl", "start", unit)
		for _, kind := range []clientKind{http1KeepAlive, h2cPriorKnowledge} {
			t.Run(strings.ReplaceAll(kind.String(), "/", "_"), func(t *testing.T) {
				c.must(t, "systemctl", "start", unit)
				oldPID := c.state(t, unit)["MainPID"]
				s := openEvents(t, kind)
				defer s.Close()
				s.waitEvents(t, 2)

				start := time.Now()
				c.must(t, "systemctl", "restart", unit)
				restartTook := time.Since(start)
				n := checkComplete(t, s, s.waitEnd(t, 5*time.Second))
				newPID := c.state(t, unit)["MainPID"]
				if newPID == oldPID || newPID == "0" {
					t.Fatalf("MainPID %s after restart (was %s)", newPID, oldPID)
				}
				t.Logf("restart with a stream open took %v; the stream ended cleanly after %d events", restartTook.Round(time.Millisecond), n)

				again := openEvents(t, kind)
				defer again.Close()
				again.waitEvents(t, 1)
				if pid := c.state(t, unit)["MainPID"]; pid != newPID {
					t.Errorf("reconnected stream: MainPID %s, want the new process %s", pid, newPID)
				}

				start = time.Now()
				c.must(t, "systemctl", "stop", unit)
				stopTook := time.Since(start)
				checkComplete(t, again, again.waitEnd(t, 5*time.Second))
				t.Logf("stop with a stream open took %v", stopTook.Round(time.Millisecond))
				recordResult("events", "systemd %d | %s | restart with a stream open %v, stream ended cleanly after %d events, reconnected to the new process | stop with a stream open %v",
					su.systemd, kind, restartTook.Round(time.Millisecond), n, stopTook.Round(time.Millisecond))
				if stopTook >= 3*time.Second {
					t.Errorf("stop with an open stream took %v, want about a second (< 3s)", stopTook)
				}
				if restartTook >= 3*time.Second {
					t.Errorf("restart with an open stream took %v, want about a second (< 3s)", restartTook)
				}
			})
		}
	})
}
