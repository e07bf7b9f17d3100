//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

const reloadFailedMsg = "sdlife: reload failed; keeping the previous state"

// TestJournal: under systemd the example logs journal-native: each record
// is an entry whose PRIORITY follows the level (6 info, 3 error) and whose
// attributes are fields of their own, so a failed reload is found with
// `journalctl PRIORITY=3` and carries its error as ERR.
func TestJournal(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.must(t, "systemctl", "start", unit)
		pid := c.state(t, unit)["MainPID"]
		mustGet(t, servicePort(), "/", defaultConfig().Greeting)

		es := fromPID(c.journalJSON(t, unit), pid)
		serving := withMessage(es, "sdlife: serving")
		if len(serving) != 1 {
			t.Fatalf("want one \"sdlife: serving\" entry of PID %s, got %d:\n%s", pid, len(serving), lastLines(es, 20))
		}
		e := serving[0]
		t.Logf("info: %v", e)
		if e.field("PRIORITY") != "6" || e.field("SOURCE") != "bound" || e.field("ADDR") != defaultConfig().Listen ||
			e.field("SYSLOG_IDENTIFIER") != "chi-server" {
			t.Errorf("serving entry: PRIORITY=%q SOURCE=%q ADDR=%q SYSLOG_IDENTIFIER=%q, want 6, bound, %s, chi-server",
				e.field("PRIORITY"), e.field("SOURCE"), e.field("ADDR"), e.field("SYSLOG_IDENTIFIER"), defaultConfig().Listen)
		}
		if strings.Contains(e.field("MESSAGE"), "source=") {
			t.Errorf("attributes repeated in MESSAGE %q", e.field("MESSAGE"))
		}

		// A failed reload: PRIORITY 3 and the error as ERR.
		c.writeFile(t, configPath, []byte(`{"greeting": 42}`+"\n"), 0o644)
		out, err := c.run("systemctl", "reload", unit)
		t.Logf("reload with an invalid config: err=%v %s", err, strings.TrimSpace(out))
		mustGet(t, servicePort(), "/", defaultConfig().Greeting)
		failed := withMessage(fromPID(c.journalJSON(t, unit), pid), reloadFailedMsg)
		if len(failed) != 1 {
			t.Fatalf("want one %q entry, got %d:\n%s", reloadFailedMsg, len(failed), lastLines(fromPID(c.journalJSON(t, unit), pid), 20))
		}
		e = failed[0]
		t.Logf("error: %v", e)
		if e.field("PRIORITY") != "3" {
			t.Errorf("failed reload logged at PRIORITY %q, want 3", e.field("PRIORITY"))
		}
		if !strings.Contains(e.field("ERR"), "greeting") {
			t.Errorf("ERR=%q, want the config error naming the field", e.field("ERR"))
		}
		if strings.Contains(e.field("MESSAGE"), "greeting") {
			t.Errorf("the error is in MESSAGE %q, want it only as ERR", e.field("MESSAGE"))
		}
		// Searchable by field, as an operator would.
		out = c.must(t, "journalctl", "-u", unit, "--no-pager", "-o", "cat", "_PID="+pid, "PRIORITY=3")
		if strings.TrimSpace(out) != reloadFailedMsg {
			t.Errorf("journalctl -u %s _PID=%s PRIORITY=3: %q, want the one failed reload", unit, pid, out)
		}
		out = c.must(t, "journalctl", "-u", unit, "--no-pager", "-o", "cat", "_PID="+pid, "ERR="+e.field("ERR"))
		if strings.TrimSpace(out) != reloadFailedMsg {
			t.Errorf("journalctl ERR=...: %q, want the failed reload", out)
		}
		recordResult("journal", "systemd %d | %q PRIORITY=%s ERR=%q | %q PRIORITY=%s SOURCE=%s ADDR=%s",
			su.systemd, reloadFailedMsg, e.field("PRIORITY"), e.field("ERR"),
			"sdlife: serving", serving[0].field("PRIORITY"), serving[0].field("SOURCE"), serving[0].field("ADDR"))
	})
}
