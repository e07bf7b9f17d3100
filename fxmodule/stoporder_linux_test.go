package fxmodule_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// dbPool stands for what handlers use and an OnStop hook of the
// application closes.
type dbPool struct{ closed atomic.Bool }

func (p *dbPool) Query() error {
	if p.closed.Load() {
		return errors.New("sql: database is closed")
	}
	return nil
}

// A request in flight when app.Stop begins still has the database pool:
// the drain ends before the application's first OnStop hook runs.
//
// The handler holds its request until the drain has begun or an OnStop
// hook of the application has run, whichever comes first, then queries
// the pool. With the drain first, the drain begins, the query succeeds and
// the drain waits for the response; with the hooks first, the hook closes
// the pool and the query fails: no timing decides.
func TestDrainEndsBeforeTheFirstOnStopHook(t *testing.T) {
	h := newHarness(t)
	cfg := h.config()
	cfg.Listen.Address = "127.0.0.1:0"
	pool := new(dbPool)
	entered := make(chan struct{})
	hookRan := make(chan struct{})
	var svc *sdlife.Service
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered) // one request only
		select {
		case <-httpadapter.DrainStarted(r.Context()):
		case <-hookRan:
		}
		if err := pool.Query(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	app := fxtest.New(t, h.options(cfg,
		fx.Provide(fx.Annotate(func() http.HandlerFunc { return handler }, fx.As(new(http.Handler)))),
		fx.Populate(&svc),
		// Appended last, so fx runs this OnStop hook first.
		fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.StopHook(func() {
				pool.closed.Store(true)
				close(hookRan)
			}))
		}),
	)...)
	app.RequireStart()
	h.wait(sdtest.Has("READY", "1"), "READY=1")

	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get("http://" + svc.Addr().String() + "/")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{code: resp.StatusCode, body: string(b), err: err}
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	r := <-done
	if r.err != nil || r.code != http.StatusOK || r.body != "ok" {
		t.Errorf("request in flight at Stop: %d %q, %v; want 200 \"ok\"", r.code, r.body, r.err)
	}
}
