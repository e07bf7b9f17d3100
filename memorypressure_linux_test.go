package sdlife_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// An event from the manager's watch (a FIFO here, as MemoryPressureWatch=
// allows) runs the releasers once per interval and puts "memory pressure"
// into STATUS=.
func TestMemoryPressureReaction(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithMemoryPressure())
	var logs syncBuffer
	env := m.Environment()
	svc, err := sdlife.New(sdlife.Options{
		Environment:            &env,
		Listen:                 httpadapter.ListenConfig{Address: "127.0.0.1:0"},
		MemoryPressureInterval: time.Hour, // the events after the first are rate-limited
		StatusInterval:         10 * time.Millisecond,
		Logger:                 slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	var released atomic.Int32
	svc.AddMemoryReleaser(sdlife.ReleaseMemoryFunc(func(context.Context) error {
		released.Add(1)
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, http.NotFoundHandler()) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if _, err := m.Wait(wctx, sdtest.Has("READY", "1")); err != nil {
		t.Fatal(err)
	}
	signalMemoryPressure(t, m)
	if _, err := m.Wait(wctx, sdtest.StatusContains("memory pressure")); err != nil {
		t.Fatalf("STATUS never said memory pressure: %v", err)
	}
	signalMemoryPressure(t, m) // may coalesce with another into one wake-up
	signalMemoryPressure(t, m)
	for !strings.Contains(logs.String(), "rate-limited") {
		if wctx.Err() != nil {
			t.Fatalf("the later events were not seen:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := released.Load(); n != 1 {
		t.Errorf("releasers ran %d times, want 1 (rate-limited)", n)
	}
}

// syncBuffer is a log sink safe for the Service's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A watch that cannot be armed is one clear log line; the service starts
// and serves without it.
func TestMemoryPressureBadWatchKeepsServing(t *testing.T) {
	dir := t.TempDir()
	refused := dir + "/refused.sock"
	l, err := net.Listen("unix", refused)
	if err != nil {
		t.Fatal(err)
	}
	l.Close() // the path exists, nobody listens
	tests := []struct {
		name, watch, write, want string
	}{
		{name: "relative path", watch: "run/pressure", want: "absolute"},
		{name: "not normalized", watch: "/run/../pressure", want: "normalized"},
		{name: "bad base64", watch: dir, write: "%%%", want: "MEMORY_PRESSURE_WRITE"},
		{name: "unreadable", watch: dir + "/missing", want: "missing"},
		{name: "socket refuses", watch: refused, want: "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t)
			env := m.Environment()
			env.MemoryPressureWatch, env.MemoryPressureWrite = tt.watch, tt.write
			var logs syncBuffer
			svc, err := sdlife.New(sdlife.Options{
				Environment: &env,
				Listen:      httpadapter.ListenConfig{Address: "127.0.0.1:0"},
				Logger:      slog.New(slog.NewTextHandler(&logs, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- svc.Run(ctx, http.NotFoundHandler()) }()
			wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer wcancel()
			if _, err := m.Wait(wctx, sdtest.Has("READY", "1")); err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get("http://" + svc.Addr().String() + "/")
			if err != nil {
				t.Fatalf("not serving: %v", err)
			}
			resp.Body.Close()
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			var line string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "memory pressure watch not armed") {
					line = l
				}
			}
			if line == "" || !strings.Contains(line, tt.want) || !strings.Contains(line, "level=WARN") {
				t.Errorf("want one WARN line naming %q, log:\n%s", tt.want, logs.String())
			}
		})
	}
}
