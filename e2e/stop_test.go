//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// TestRestartInFlight: a request in flight during `systemctl restart` is
// answered by the old process; a request sent meanwhile waits in the
// backlog and is answered by the new one.
func TestRestartInFlight(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.must(t, "systemctl", "start", unit)
		type result struct {
			code int
			err  error
		}
		slow, fresh := make(chan result, 1), make(chan result, 1)
		go func() {
			code, _, err := get(servicePort(), "/slow?ms=2000")
			slow <- result{code, err}
		}()
		time.Sleep(500 * time.Millisecond)
		restarted := make(chan error, 1)
		restartStart := time.Now()
		var restartTook time.Duration
		go func() {
			out, err := c.run("systemctl", "restart", unit)
			restartTook = time.Since(restartStart)
			if err != nil {
				err = fmt.Errorf("%v: %s", err, out)
			}
			restarted <- err
		}()
		time.Sleep(500 * time.Millisecond) // the old process is draining now
		go func() {
			code, _, err := get(servicePort(), "/")
			fresh <- result{code, err}
		}()
		for name, ch := range map[string]chan result{"in-flight /slow?ms=2000": slow, "request sent during the restart": fresh} {
			select {
			case r := <-ch:
				if r.err != nil || r.code != 200 {
					t.Errorf("%s: %d %v, want 200", name, r.code, r.err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("%s: no answer within 15s", name)
			}
		}
		if err := <-restarted; err != nil {
			t.Fatalf("systemctl restart: %v", err)
		}
		// The old process had 1.5 s of /slow left: the restart waited for it.
		t.Logf("systemctl restart took %v", restartTook.Round(time.Millisecond))
		if restartTook < time.Second {
			t.Errorf("restart took %v: it cannot have waited for the in-flight request", restartTook)
		}
	})
}

// TestStop: `systemctl stop` lets a request in flight finish with 200, ends
// with Result=success, and (the fd store being dropped on stop) frees the port.
func TestStop(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.must(t, "systemctl", "start", unit)

		type result struct {
			code int
			err  error
			took time.Duration
		}
		done := make(chan result, 1)
		go func() {
			start := time.Now()
			code, _, err := get(servicePort(), "/slow?ms=2000")
			done <- result{code, err, time.Since(start)}
		}()
		// Let the request be accepted and reach its handler before the stop.
		time.Sleep(500 * time.Millisecond)
		stopStart := time.Now()
		c.must(t, "systemctl", "stop", unit)
		stopTook := time.Since(stopStart)

		var r result
		select {
		case r = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("slow request still pending 10s after stop returned")
		}
		if r.err != nil || r.code != 200 {
			t.Errorf("in-flight /slow?ms=2000: code %d err %v after %v, want 200", r.code, r.err, r.took)
		}
		t.Logf("stop took %v; in-flight request: %d after %v", stopTook.Round(time.Millisecond), r.code, r.took.Round(time.Millisecond))

		s := c.state(t, unit)
		if s["ActiveState"] != "inactive" || s["Result"] != "success" {
			t.Errorf("after stop: want inactive/success, got %v", s)
		}
		if s["NFileDescriptorStore"] != "0" {
			t.Errorf("fd store kept after stop: %v", s)
		}
		if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(servicePort()), time.Second); err == nil {
			conn.Close()
			t.Errorf("port %d still accepts connections after stop", servicePort())
		}
	})
}
