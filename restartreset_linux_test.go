package sdlife_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// RESTART_RESET=1 goes out once, and only after the checks have passed
// for the whole period without a failure in between.
func TestRestartResetAfterHealthyPeriod(t *testing.T) {
	m := sdtest.NewManager(t)
	env := m.Environment()
	svc, err := sdlife.New(sdlife.Options{
		Environment:       &env,
		Listen:            httpadapter.ListenConfig{Address: "127.0.0.1:0"},
		RestartResetAfter: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	var healthy atomic.Bool
	svc.AddHealthCheck(httpadapter.Check{Name: "db", Func: func(context.Context) error {
		if healthy.Load() {
			return nil
		}
		return errors.New("down")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, http.NotFoundHandler()) }()

	wait := func(match func(sdtest.Message) bool, what string) sdtest.Message {
		t.Helper()
		wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer wcancel()
		msg, err := m.Wait(wctx, match)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return msg
	}
	wait(sdtest.Has("READY", "1"), "READY=1")
	unhealthy := wait(sdtest.StatusContains("unhealthy: db: down"), "STATUS naming the failing check")
	healthy.Store(true)
	reset := wait(sdtest.Has("RESTART_RESET", "1"), "RESTART_RESET=1")
	if reset.Seq < unhealthy.Seq {
		t.Fatalf("RESTART_RESET=1 (#%d) before the service was healthy (#%d)", reset.Seq, unhealthy.Seq)
	}
	time.Sleep(500 * time.Millisecond) // more healthy rounds: no second reset
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, msg := range m.Messages() {
		if sdtest.Has("RESTART_RESET", "1")(msg) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("RESTART_RESET=1 sent %d times, want once", n)
	}
}
