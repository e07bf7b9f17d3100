//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// TestStartFailureOneLine: a constructor of the fx application fails (the
// example loads its config in one): under fxmodule.Run the manager's
// StatusText and the journal carry the same single line, in the
// application's words, without fx's or dig's wrapping or source positions.
func TestStartFailureOneLine(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.writeFile(t, configPath, []byte(`{"no_such_field": true}`+"\n"), 0o644)
		if out, err := c.run("systemctl", "start", unit); err == nil {
			t.Fatalf("systemctl start succeeded with an invalid config: %s", out)
		}
		s := c.state(t, unit)
		c.run("systemctl", "stop", unit) // Restart=on-failure: stop the retries, complete the journal
		want := `config ` + configPath + `: json: unknown field "no_such_field"`
		if s["StatusText"] != "start failed: "+want {
			t.Errorf("StatusText %q, want %q", s["StatusText"], "start failed: "+want)
		}
		c.run("journalctl", "--sync")
		out := c.must(t, "journalctl", "-u", unit, "--no-pager", "-o", "cat", "SYSLOG_IDENTIFIER=chi-server")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		for _, line := range lines {
			if line != "chi-server: "+want {
				t.Errorf("journal line from the service %q, want only %q; all:\n%s", line, "chi-server: "+want, out)
				break
			}
		}
		recordResult("fx start failure", "systemd %d | StatusText %q | %d start(s), each one journal line %q",
			su.systemd, s["StatusText"], len(lines), lines[0])
	})
}
