package status

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

func TestStatusLine(t *testing.T) {
	snap := &Snapshot{Total: 1234, InFlight: 3}
	tests := []struct {
		name  string
		phase string
		note  string
		snap  *Snapshot
		rate  float64
		want  string
	}{
		{"serving", "Serving", "", snap, 56.24, "Serving: 1234 requests, 3 in flight, 56 req/s"},
		{"low rate keeps a decimal", "Serving", "", snap, 0.44, "Serving: 1234 requests, 3 in flight, 0.4 req/s"},
		{"note", "Reloading", "reload failed: bad config", snap, 0, "Reloading: 1234 requests, 3 in flight, 0.0 req/s; reload failed: bad config"},
		{"no phase", "", "", snap, 12, "1234 requests, 3 in flight, 12 req/s"},
		{"no counters", "Stopping", "draining", nil, 0, "Stopping; draining"},
		{"newlines become spaces", "Serving", "a\nSTATUS=evil\r\n", nil, 0, "Serving; a STATUS=evil"},
		{"invalid UTF-8", "Serving", "bad \xff byte", nil, 0, "Serving; bad \uFFFD byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusLine(tt.phase, tt.note, tt.snap, tt.rate); got != tt.want {
				t.Fatalf("statusLine() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStatusLineCutsLongNote(t *testing.T) {
	got := statusLine("", strings.Repeat("é", 400), nil, 0)
	if len(got) > maxNoteLen || !utf8.ValidString(got) {
		t.Fatalf("len = %d, valid = %v", len(got), utf8.ValidString(got))
	}
}

func FuzzStatusLine(f *testing.F) {
	f.Add("Serving", "note", uint64(1), int64(0), 1.5)
	f.Add("", "a\nb\x00c\xff", uint64(0), int64(-1), -3.0)
	f.Fuzz(func(t *testing.T, phase, note string, total uint64, inFlight int64, rate float64) {
		line := statusLine(phase, note, &Snapshot{Total: total, InFlight: inFlight}, rate)
		if strings.ContainsAny(line, "\r\n\x00") {
			t.Fatalf("line break or NUL in %q", line)
		}
		if !utf8.ValidString(line) {
			t.Fatalf("invalid UTF-8: %q", line)
		}
		if !strings.Contains(line, fmt.Sprintf("%d requests", total)) {
			t.Fatalf("no request count in %q", line)
		}
		if len(line) > 2*maxNoteLen+100 {
			t.Fatalf("line of %d bytes", len(line))
		}
	})
}

// statusMessages returns the STATUS texts the manager received, after a
// barrier so that nothing sent before is missing.
func statusMessages(t *testing.T, m *sdtest.Manager) []sdtest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := m.Notifier().Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	var out []sdtest.Message
	for _, msg := range m.Messages() {
		if sdtest.Has("STATUS", "")(msg) {
			out = append(out, msg)
		}
	}
	return out
}

func TestStatusReporterSendsOnlyChanges(t *testing.T) {
	m := sdtest.NewManager(t)
	c := NewCounters()
	r := NewStatusReporter(m.Notifier(), c, StatusConfig{Interval: 10 * time.Millisecond})
	r.SetPhase("Starting")
	r.Start()
	r.Start()                          // idempotent
	time.Sleep(100 * time.Millisecond) // ten intervals, nothing changes
	r.SetPhase("Serving")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := m.Wait(ctx, sdtest.Has("STATUS", "Serving: 0 requests, 0 in flight, 0.0 req/s")); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	r.Stop() // idempotent
	got := statusMessages(t, m)
	want := []string{"Starting: 0 requests, 0 in flight, 0.0 req/s", "Serving: 0 requests, 0 in flight, 0.0 req/s"}
	if len(got) != len(want) {
		t.Fatalf("got %d STATUS messages %v, want %v", len(got), got, want)
	}
	for i := range want {
		if v, _ := got[i].Get("STATUS"); v != want[i] {
			t.Errorf("message %d = %q, want %q", i, v, want[i])
		}
	}
}

// TestStatusReporterRateLimit changes the note every 100 µs for 30
// intervals and counts the STATUS messages over the whole window. The
// reporter stamps each send with a time inside [start, end] and keeps
// those stamps at least one interval apart, so the window holds at most
// one message per interval plus Start's and Stop's. That bound comes from
// the sender's clock, so delays in scheduling or receiving only lower the
// count. The lower bound, a quarter of that rate, shows that changes do go
// out while they keep coming, with room for a busy machine.
func TestStatusReporterRateLimit(t *testing.T) {
	const (
		interval = 20 * time.Millisecond
		window   = 30 * interval
	)
	m := sdtest.NewManager(t)
	r := NewStatusReporter(m.Notifier(), nil, StatusConfig{Interval: interval})
	start := time.Now()
	r.Start()
	for i := 0; time.Since(start) < window; i++ {
		r.SetNote(fmt.Sprintf("change %d", i))
		time.Sleep(100 * time.Microsecond)
	}
	r.Stop()
	elapsed := time.Since(start)
	got := len(statusMessages(t, m))
	intervals := int(elapsed / interval)
	perSecond := float64(got) / elapsed.Seconds()
	if max := intervals + 2; got > max {
		t.Fatalf("%d STATUS messages in %v (%.0f/s), want at most %d (one per %v, plus Start's and Stop's)", got, elapsed, perSecond, max, interval)
	}
	if min := intervals / 4; got < min {
		t.Fatalf("%d STATUS messages in %v (%.0f/s), want at least %d (a quarter of one per %v)", got, elapsed, perSecond, min, interval)
	}
}

// TestStatusReporterFlush: a transition goes out at once, even inside
// the interval, and Flush after Stop sends nothing.
func TestStatusReporterFlush(t *testing.T) {
	m := sdtest.NewManager(t)
	n := m.Notifier()
	r := NewStatusReporter(n, nil, StatusConfig{Interval: time.Hour})
	r.SetPhase("Starting")
	r.Start()
	r.SetPhase("Serving")
	r.Flush()
	if _, err := n.Barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := statusMessages(t, m)
	if len(got) != 2 {
		t.Fatalf("got %d STATUS messages, want Start's and Flush's", len(got))
	}
	if v, _ := got[1].Get("STATUS"); !strings.HasPrefix(v, "Serving") {
		t.Fatalf("flushed STATUS = %q, want the Serving phase", v)
	}
	r.Flush() // unchanged: nothing to send
	r.Stop()
	r.SetPhase("After")
	r.Flush()
	n.Barrier(context.Background())
	if got := statusMessages(t, m); len(got) != 2 {
		t.Fatalf("got %d STATUS messages after an unchanged Flush, Stop and a Flush after Stop, want 2", len(got))
	}
}

// TestStatusNeverFromRequestPath: with an interval that never elapses,
// a thousand requests cause no STATUS message; only Start and Stop send.
func TestStatusNeverFromRequestPath(t *testing.T) {
	m := sdtest.NewManager(t)
	c := NewCounters()
	r := NewStatusReporter(m.Notifier(), c, StatusConfig{Interval: time.Hour})
	r.SetPhase("Serving")
	r.Start()
	h := c.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 100 {
				h.ServeHTTP(&nopWriter{h: http.Header{}}, httptest.NewRequest("GET", "/", nil))
			}
		})
	}
	wg.Wait()
	if got := statusMessages(t, m); len(got) != 1 {
		t.Fatalf("%d STATUS messages during requests, want only Start's", len(got))
	}
	if line := r.Line(); !strings.HasPrefix(line, "Serving: 1000 requests, 0 in flight") {
		t.Fatalf("Line() = %q", line)
	}
	r.Stop() // sends the final text
	got := statusMessages(t, m)
	if v, _ := got[len(got)-1].Get("STATUS"); len(got) != 2 || !strings.HasPrefix(v, "Serving: 1000 requests") {
		t.Fatalf("after Stop: %d messages, last %q", len(got), v)
	}
}

func TestStatusReporterWithoutManager(t *testing.T) {
	r := NewStatusReporter(nil, NewCounters(), StatusConfig{})
	r.Stop()  // before Start: fine
	r.Start() // after Stop: nothing starts
	if got := r.Line(); got != "0 requests, 0 in flight, 0.0 req/s" {
		t.Fatalf("Line() = %q", got)
	}
	r2 := NewStatusReporter(nil, nil, StatusConfig{})
	r2.Start()
	r2.SetPhase("Serving")
	r2.Stop()
}

func TestStatusReporterRate(t *testing.T) {
	c := NewCounters()
	r := NewStatusReporter(nil, c, StatusConfig{Interval: 50 * time.Millisecond})
	h := c.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r.Start()
	defer r.Stop()
	for range 500 {
		h.ServeHTTP(&nopWriter{h: http.Header{}}, httptest.NewRequest("GET", "/", nil))
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(r.Line(), "500 requests") || strings.HasSuffix(r.Line(), " 0.0 req/s") {
		if time.Now().After(deadline) {
			t.Fatalf("Line() = %q, want a non-zero rate", r.Line())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
