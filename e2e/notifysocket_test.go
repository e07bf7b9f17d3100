//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// quietFor is how long TestNotifySocketMissing watches the journal: with
// a watchdog ping every 100 ms and STATUS refreshed every second, a
// service that logged every failed notification would log about 35 lines.
const quietFor = 3 * time.Second

// TestNotifySocketMissing: NOTIFY_SOCKET names a path that does not exist
// (a unit that sets it wrong): the service serves, and says so once, at
// PRIORITY=3, however many notifications fail after that.
func TestNotifySocketMissing(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-notify-missing.service"
		c.must(t, "systemd-run", "--unit="+unit, "-p", "Type=exec",
			"--setenv=NOTIFY_SOCKET=/run/missing/notify", "--setenv=WATCHDOG_USEC=200000",
			"/usr/local/bin/chi-server", "-config", configPath)
		if !waitFor(10*time.Second, func() bool { code, _, err := get(servicePort(), "/"); return err == nil && code == 200 }) {
			t.Fatalf("not serving within 10s:\n%s", c.journal(t, unit))
		}
		time.Sleep(quietFor) // the bound under test: how long the log stays quiet
		c.must(t, "systemctl", "stop", unit)
		c.run("journalctl", "--sync")
		out := strings.TrimSpace(c.must(t, "journalctl", "-u", unit, "--no-pager", "-o", "cat", "-p", "warning", "SYSLOG_IDENTIFIER=chi-server"))
		const want = "sdlife: the manager's notify socket is unreachable; notifications are lost until it is back"
		if out != want {
			t.Errorf("warnings and errors of the service over %v:\n%s\nwant the one line %q", quietFor, out, want)
		}
		errField, _ := c.run("journalctl", "-u", unit, "--no-pager", "-o", "cat", "--output-fields=ERR", "-p", "err", "SYSLOG_IDENTIFIER=chi-server")
		t.Logf("journal: %q", errField)
		recordResult("notify socket missing", "systemd %d | over %v with a ping every 100 ms: %d warning/error line(s): %q",
			su.systemd, quietFor, len(strings.Split(out, "\n")), out)
	})
}
