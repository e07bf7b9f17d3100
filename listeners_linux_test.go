package sdlife_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// freeAddr returns a loopback address no one listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Two listeners, each with its own handler: both are bound and stored
// under their names, both serve, a request in flight on the second is
// answered by the drain, and the next generation takes both back from
// the fd store.
func TestServiceServesSeveralListeners(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(8))
	public, admin := freeAddr(t), freeAddr(t)
	entered := make(chan struct{}, 1)
	generation := func(name string, files *lifecycle.Files) (logs *syncBuffer, stop func() error) {
		t.Helper()
		env := m.Environment()
		logs = new(syncBuffer)
		adminMux := http.NewServeMux()
		adminMux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name+" metrics") })
		adminMux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-httpadapter.DrainStarted(r.Context()) // answered only once the drain has begun
			io.WriteString(w, "slow done")
		})
		svc, err := sdlife.New(sdlife.Options{
			Environment: &env,
			Files:       files,
			Logger:      slog.New(slog.NewTextHandler(logs, nil)),
			Listen:      httpadapter.ListenConfig{Address: public},
			// One template for both servers, as an application sets it.
			Server: httpadapter.ServerConfig{Server: &http.Server{ReadHeaderTimeout: 10 * time.Second}},
			Listeners: []sdlife.Listener{{
				ListenConfig: httpadapter.ListenConfig{Name: "admin", Address: admin},
				Handler:      adminMux,
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		seq := 0
		if msgs := m.Messages(); len(msgs) > 0 {
			seq = msgs[len(msgs)-1].Seq
		}
		go func() {
			done <- svc.Run(ctx, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }))
		}()
		wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer wcancel()
		if _, err := m.Wait(wctx, sdtest.After(seq, sdtest.Has("READY", "1"))); err != nil {
			t.Fatalf("%s: no READY=1: %v (public %s, admin %s, stored %v)\n%s", name, err, public, admin, m.Stored(), logs)
		}
		return logs, func() error { cancel(); return <-done }
	}
	getBody := func(url string) string {
		t.Helper()
		code, body, err := get(url)
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET %s = %d %q, %v", url, code, body, err)
		}
		return body
	}

	logs, stop := generation("first", nil)
	if got := getBody("http://" + public + "/"); got != "first" {
		t.Errorf("public listener: %q", got)
	}
	if got := getBody("http://" + admin + "/metrics"); got != "first metrics" {
		t.Errorf("admin listener: %q", got)
	}
	names := map[string]int{}
	for _, f := range m.Stored() {
		names[f.Name]++
	}
	if names["http"] != 1 || names["admin"] != 1 {
		t.Errorf("fd store holds %v, want one http and one admin listener", names)
	}
	if !strings.Contains(logs.String(), "listener=admin") || !strings.Contains(logs.String(), `source=bound`) {
		t.Errorf("log does not say the admin listener was bound:\n%s", logs)
	}

	// A request in flight on the admin listener when the stop begins is
	// answered.
	slow := make(chan string, 1)
	go func() {
		_, body, err := get("http://" + admin + "/slow")
		if err != nil {
			body = err.Error()
		}
		slow <- body
	}()
	<-entered
	if err := stop(); err != nil {
		t.Fatalf("first: Run: %v", err)
	}
	select {
	case got := <-slow:
		if got != "slow done" {
			t.Errorf("request in flight on the admin listener at the stop: %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request in flight on the admin listener never saw the drain begin")
	}

	// The next generation gets both listeners back from the fd store.
	logs, stop = generation("second", m.Files())
	if got := getBody("http://" + admin + "/metrics"); got != "second metrics" {
		t.Errorf("admin listener after the restart: %q", got)
	}
	if got := getBody("http://" + public + "/"); got != "second" {
		t.Errorf("public listener after the restart: %q", got)
	}
	if n := strings.Count(logs.String(), "source=\"fd store\""); n != 2 {
		t.Errorf("%d listeners taken from the fd store, want 2:\n%s", n, logs)
	}
	if err := stop(); err != nil {
		t.Fatalf("second: Run: %v", err)
	}
}
