package httpserve

import (
	"context"
	"errors"
	"github.com/sdlife/sdlife/httpadapter"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestOneStepFallback runs the HTTP/2 drain tests on the path a Go release
// without net/http's "unencrypted_http2" entry takes: no two-step, the
// single GOAWAY net/http sends, idle HTTP/2 connections told apart from
// HTTP/1 ones by their requests and left to GOAWAY.
func TestOneStepFallback(t *testing.T) {
	twoStepInstall = func(*http.Server, *connTracker) bool { return false }
	t.Cleanup(func() { twoStepInstall = installTwoStep })
	t.Run("DrainDoesNotWaitOutGoawayTimeout", TestDrainDoesNotWaitOutGoawayTimeout)
	t.Run("ServerDrainsH2C", TestServerDrainsH2C)
	t.Run("DrainH2CNotHandedOver", TestDrainH2CNotHandedOver)
}

// An idle HTTP/2 connection is left to its GOAWAY while a long HTTP/1
// request holds the drain well beyond IdleGrace: it is not closed as an
// idle HTTP/1 connection would be. (With the two-step it gets its GOAWAY
// at the drain's start; on the one-step path only when Shutdown runs,
// after the slow request, so this is where closing it as idle would show.)
func TestOneStepIdleH2CWaitsForGoaway(t *testing.T) {
	twoStepInstall = func(*http.Server, *connTracker) bool { return false }
	t.Cleanup(func() { twoStepInstall = installTwoStep })

	release := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const grace = 10 * time.Millisecond
	srv, err := NewServer(ServerConfig{ServerConfig: httpadapter.ServerConfig{IdleGrace: grace},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-release
			}
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ln); err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	c, br := h2cIdle(t, addr)
	slow := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err == nil {
			resp.Body.Close()
		}
		slow <- err
	}()
	waitFor(t, func() bool {
		n := srv.conn.counts(time.Now())
		return n.Active == 1 && idleHTTP2(srv) == 1
	}, "the slow request in flight beside an idle h2c connection")

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	got := make(chan error, 1)
	go func() {
		g, err := untilGoaway(c, br, 10*time.Second)
		if g {
			err = nil
		} else if err == nil {
			err = errors.New("no GOAWAY")
		}
		got <- err
	}()
	// The slow request holds the drain for 20 idle graces: time enough
	// for the h2c connection to be closed as idle if it were taken for
	// HTTP/1. Only the test's power to see that depends on the wait.
	select {
	case err := <-got:
		t.Fatalf("the idle h2c connection ended while the slow request held the drain: %v", err)
	case <-time.After(20 * grace):
	}
	close(release)
	if err := <-got; err != nil {
		t.Errorf("idle h2c connection: %v, want a GOAWAY", err)
	}
	c.Close()
	if err := <-slow; err != nil {
		t.Errorf("slow request: %v", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
}
