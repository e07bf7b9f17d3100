//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestStart: `systemctl start` returns only once the service answers, and
// STATUS reports the request count, refreshed as traffic flows.
func TestStart(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.must(t, "systemctl", "start", unit)
		// No retry, no wait: READY=1 promised that the listener accepts.
		mustGet(t, servicePort(), "/", defaultConfig().Greeting)

		s := c.state(t, unit)
		if s["ActiveState"] != "active" || s["SubState"] != "running" || s["MainPID"] == "0" {
			t.Fatalf("after start: %v", s)
		}
		mustGet(t, servicePort(), "/healthz", "")
		mustGet(t, servicePort(), "/readyz", "")

		// STATUS must follow traffic: send 50 more requests, expect N to reach
		// at least that within a few refresh periods.
		before := requestCount(t, c.state(t, unit)["StatusText"])
		for i := 0; i < 50; i++ {
			mustGet(t, servicePort(), "/", defaultConfig().Greeting)
		}
		var status string
		if !waitFor(5*time.Second, func() bool {
			status = c.state(t, unit)["StatusText"]
			return requestCount(t, status) >= before+50
		}) {
			t.Fatalf("StatusText %q: request count did not grow from %d by 50 within 5s", status, before)
		}
		t.Logf("StatusText: %q", status)
		if s := c.state(t, unit); s["NFileDescriptorStore"] == "0" {
			t.Errorf("listener not in the fd store after start: %v", s)
		}
	})
}

// TestStartInvalidConfig: a broken config fails the start job, visibly.
func TestStartInvalidConfig(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.writeFile(t, configPath, []byte(`{"listen": "127.0.0.1:1", "greeting": "x", "no_such_field": true}`+"\n"), 0o644)
		start := time.Now()
		out, err := c.run("systemctl", "start", unit)
		if err == nil {
			t.Fatalf("systemctl start succeeded with an invalid config: %s\n%v", out, c.state(t, unit))
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("start took %v to fail: not fast", d)
		}
		s := c.state(t, unit)
		t.Logf("systemctl start: %v: %s; state %v", err, strings.TrimSpace(out), s)
		// Restart=on-failure retries; stop it so the result is stable.
		c.run("systemctl", "stop", unit)
		j := c.journal(t, unit)
		if !strings.Contains(j, "no_such_field") {
			t.Errorf("journal does not name the bad field:\n%s", j)
		}
	})
}
