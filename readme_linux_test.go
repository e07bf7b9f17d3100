package sdlife_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// The README's testing example, whole: a service under the fake manager
// says READY=1, then STOPPING=1 when its context ends.
func TestReadyThenStopping(t *testing.T) {
	m := sdtest.NewManager(t) // a real socket, playing PID 1
	env := m.Environment()
	svc, err := sdlife.New(sdlife.Options{
		Environment: &env,
		Listen:      httpadapter.ListenConfig{Address: "127.0.0.1:0"},
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
		t.Fatalf("waiting for READY=1: %v", err)
	}
	cancel() // as SIGTERM would
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := m.Wait(wctx, sdtest.Has("STOPPING", "1")); err != nil {
		t.Fatalf("waiting for STOPPING=1: %v", err)
	}
}
