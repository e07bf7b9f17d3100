//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// watchdogInterval must match WatchdogSec= in deploy/units/chi-server.service.
const watchdogInterval = 5 * time.Second

// TestWatchdog: while the down_file exists the health check fails, the
// pings stop, and systemd restarts the service for the watchdog; once the
// file is gone the service stays up.
func TestWatchdog(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.must(t, "systemctl", "start", unit)
		if got := c.show(t, unit, "WatchdogUSec")["WatchdogUSec"]; got != "5s" {
			t.Fatalf("WatchdogUSec=%s, but this test assumes 5s", got)
		}
		s0 := c.state(t, unit)

		c.must(t, "touch", downFile)
		downAt := time.Now()
		code, _, err := get(servicePort(), "/healthz")
		if err != nil || code != 503 {
			t.Errorf("GET /healthz with the down_file present: %d %v, want 503", code, err)
		}
		var s map[string]string
		sawWatchdogResult := false
		if !waitFor(watchdogInterval+5*time.Second, func() bool {
			s = c.state(t, unit)
			sawWatchdogResult = sawWatchdogResult || s["Result"] == "watchdog"
			return atoi(s["NRestarts"]) > atoi(s0["NRestarts"])
		}) {
			t.Fatalf("no restart within %v of creating %s: %v", watchdogInterval+5*time.Second, downFile, s)
		}
		took := time.Since(downAt)
		t.Logf("restarted %v after the down_file appeared (Result=watchdog seen: %v): %v", took.Round(time.Millisecond), sawWatchdogResult, s)
		if took < watchdogInterval/2 {
			t.Errorf("restarted after %v, sooner than the watchdog can have fired", took)
		}
		// systemd's own line about the kill, not just any mention by the program.
		if j := c.journal(t, unit); !strings.Contains(strings.ToLower(j), "watchdog timeout") {
			t.Errorf("journal has no watchdog timeout from systemd:\n%s", tail([]byte(j), 3000))
		}

		// Healthy again: no further restart for well over one watchdog period.
		c.must(t, "rm", "-f", downFile)
		var code2 int
		if !waitFor(watchdogInterval+5*time.Second, func() bool {
			code2, _, _ = get(servicePort(), "/healthz")
			return code2 == 200
		}) {
			t.Fatalf("GET /healthz: %d after removing the down_file", code2)
		}
		s1 := c.state(t, unit)
		time.Sleep(watchdogInterval + 2*time.Second)
		s2 := c.state(t, unit)
		if s2["NRestarts"] != s1["NRestarts"] || s2["MainPID"] != s1["MainPID"] || s2["ActiveState"] != "active" {
			t.Errorf("not stable after the down_file was removed: %v -> %v", s1, s2)
		}
		mustGet(t, servicePort(), "/", defaultConfig().Greeting)
	})
}
