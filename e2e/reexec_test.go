//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// TestDaemonReexec: after `systemctl daemon-reexec` (PID 1 re-creates its
// notify socket) STATUS still updates and the watchdog pings still arrive.
func TestDaemonReexec(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.must(t, "systemctl", "start", unit)
		for i := 0; i < 10; i++ {
			mustGet(t, servicePort(), "/", defaultConfig().Greeting)
		}
		if !waitFor(5*time.Second, func() bool { return requestCount(t, c.state(t, unit)["StatusText"]) >= 10 }) {
			t.Fatalf("STATUS not updated before reexec: %v", c.state(t, unit))
		}
		s0 := c.state(t, unit)
		c.must(t, "systemctl", "daemon-reexec")

		// Keep traffic going for longer than one watchdog period plus margin.
		n0 := requestCount(t, s0["StatusText"])
		deadline := time.Now().Add(watchdogInterval + 3*time.Second)
		sent := 0
		for time.Now().Before(deadline) {
			mustGet(t, servicePort(), "/", defaultConfig().Greeting)
			sent++
			time.Sleep(20 * time.Millisecond)
		}
		var s map[string]string
		if !waitFor(3*time.Second, func() bool {
			s = c.state(t, unit)
			return requestCount(t, s["StatusText"]) >= n0+sent
		}) {
			t.Errorf("STATUS stopped updating after daemon-reexec: %q before, %q after %d more requests",
				s0["StatusText"], s["StatusText"], sent)
		}
		if s["MainPID"] != s0["MainPID"] || s["NRestarts"] != s0["NRestarts"] || s["ActiveState"] != "active" {
			t.Errorf("service restarted or failed after daemon-reexec (watchdog pings lost?): %v -> %v", s0, s)
			t.Logf("journal:\n%s", tail([]byte(c.journal(t, unit)), 3000))
		}
	})
}
