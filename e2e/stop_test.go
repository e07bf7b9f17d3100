//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// inFlightFor is how long the request of TestRestartInFlight is in flight:
// long enough that, once STATUS (refreshed about once a second) has said so,
// the restart and the manager's deactivating state are seen well before it
// ends.
const inFlightFor = 5 * time.Second

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
		slowSent := time.Now()
		go func() {
			code, _, err := get(servicePort(), fmt.Sprintf("/slow?ms=%d", inFlightFor.Milliseconds()))
			slow <- result{code, err}
		}()
		// The request is in its handler before the restart begins.
		c.waitInFlight(t, unit, 1)
		restarted := make(chan error, 1)
		restartStart := time.Now()
		var restartTook, sinceSlow time.Duration
		go func() {
			out, err := c.run("systemctl", "restart", unit)
			restartTook, sinceSlow = time.Since(restartStart), time.Since(slowSent)
			if err != nil {
				err = fmt.Errorf("%v: %s", err, out)
			}
			restarted <- err
		}()
		// The old process is draining (held by the request in flight): the
		// manager is stopping the unit.
		var s map[string]string
		if !waitFor(5*time.Second, func() bool {
			s = c.state(t, unit)
			return s["ActiveState"] == "deactivating"
		}) {
			t.Fatalf("the restart did not begin within 5s: %v", s)
		}
		go func() {
			code, _, err := get(servicePort(), "/")
			fresh <- result{code, err}
		}()
		for name, ch := range map[string]chan result{"in-flight /slow": slow, "request sent during the restart": fresh} {
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
		// The old process answers /slow no sooner than inFlightFor after it
		// was sent: a restart that waited for it ends later than that.
		t.Logf("systemctl restart took %v, ended %v after the in-flight request was sent",
			restartTook.Round(time.Millisecond), sinceSlow.Round(time.Millisecond))
		if sinceSlow < inFlightFor {
			t.Errorf("restart ended %v after /slow?ms=%d was sent: it cannot have waited for the request in flight", sinceSlow, inFlightFor.Milliseconds())
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
		// The request is in its handler before the stop.
		c.waitInFlight(t, unit, 1)
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
