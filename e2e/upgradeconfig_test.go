//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestUpgradeInvalidConfig (issue 18, "Bad input"): an upgrade while the
// config on disk is invalid (an unknown field). The new binary refuses it
// at its start; the old process serves on with the config it has (same
// MainPID, same /version and greeting), the unit stays active,
// StatusText says "upgrade failed: ...", the new binary's one journal line
// names the config error, and (subtest "StatusText names the config
// error") StatusText quotes the new binary's own STATUS, "start failed:
// config ...". With the config restored, the upgrade succeeds. No request
// fails under 8 fresh-connection workers.
func TestUpgradeInvalidConfig(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		const unit = "chi-server.service"
		c := bootChiServer(t, su.name)
		c.startVersion(t, unit, "v1")
		greeting := defaultConfig().Greeting
		l := startLoad(servicePort(), greeting, loadWorkers, false)
		defer l.finish()
		time.Sleep(settle)

		before := c.state(t, unit)["MainPID"]
		c.writeFile(t, configPath, []byte(`{"no_such_field": true}`+"\n"), 0o644)
		c.installVersion(t, "v2")
		start := time.Now()
		out, err := c.run("systemctl", "reload", unit)
		took := time.Since(start)
		st := c.state(t, unit)
		t.Logf("reload with an invalid config took %v: err=%v %s; %v", took.Round(time.Millisecond), err, strings.TrimSpace(out), st)
		recordResult("upgrade invalid config", "systemd %d | upgrade with an unknown field in the config | reload took %v, err=%v | MainPID unchanged: %v | %s | StatusText %q",
			su.systemd, took.Round(time.Millisecond), err, st["MainPID"] == before, st["ActiveState"], st["StatusText"])
		if err != nil {
			t.Errorf("systemctl reload: %v %s", err, out)
		}
		if st["MainPID"] != before || st["ActiveState"] != "active" {
			t.Errorf("MainPID %s (was %s), %s: the old process must serve on", st["MainPID"], before, st["ActiveState"])
		}
		if !strings.Contains(st["StatusText"], "upgrade failed: ") {
			t.Errorf("StatusText %q does not say the upgrade failed", st["StatusText"])
		}
		// The new binary says why in one line on stderr (the journal;
		// matched by identifier, not unit: journald attributes a line of a
		// process that exits right after it to no unit when it finds the
		// process gone)...
		want := `start failed: config ` + configPath + `: json: unknown field "no_such_field"`
		c.run("journalctl", "--sync")
		if j := c.must(t, "journalctl", "--no-pager", "-o", "cat", "SYSLOG_IDENTIFIER=chi-server"); !strings.Contains(j, "chi-server: config "+configPath+`: json: unknown field "no_such_field"`) {
			t.Errorf("the journal has no line of the new binary naming the config error:\n%s", tail([]byte(j), 2000))
		}
		// ... and the old process's STATUS should quote the new one's.
		t.Run("StatusText names the config error", func(t *testing.T) {
			if !strings.Contains(st["StatusText"], want) {
				t.Errorf("StatusText %q does not quote the new binary's %q", st["StatusText"], want)
			}
		})
		mustGet(t, servicePort(), "/version", "v1")
		mustGet(t, servicePort(), "/", greeting)

		c.writeConfig(t, defaultConfig())
		took = c.upgradeTo(t, unit, "v2", http1Fresh, nil, servicePort())
		t.Logf("with the config restored, the upgrade took %v", took.Round(time.Millisecond))
		if st := c.state(t, unit); strings.Contains(st["StatusText"], "upgrade failed") {
			t.Errorf("after a good upgrade StatusText still says %q", st["StatusText"])
		}
		time.Sleep(settle)
		l.finish()
		t.Logf("load: %v", l)
		if l.failed.Load() != 0 {
			t.Errorf("%d failed requests: %v", l.failed.Load(), l)
		}
	})
}

// TestUpgradeActivated (issue 18: "It works for the socket-activated
// variant too"): chi-server-activated.service, started by its socket on
// the first connection, upgraded 4 times (v2, v1, v2, v1) under 8
// fresh-connection workers with a /slow?ms=2000 request in flight at each:
// 0 failed, each slow request answered 200, a new MainPID and the new
// /version after each; the socket unit's listening socket is the same
// throughout and the service never binds its configured address.
func TestUpgradeActivated(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		const (
			sock = "chi-server-activated.socket"
			unit = "chi-server-activated.service"
		)
		c := bootChiServer(t, su.name)
		c.installVersion(t, "v1")
		c.must(t, "systemctl", "start", sock)
		inodes := listenInodes(socketPort())
		mustGet(t, socketPort(), "/version", "v1")
		if s := c.settledState(t, unit, 30*time.Second); s["ActiveState"] != "active" {
			t.Fatalf("service after the first connection: %v", s)
		}
		greeting := defaultConfig().Greeting
		up := upgradesUnderLoad(t, c, unit, 4, http1Fresh, nil, socketPort(), startLoad(socketPort(), greeting, loadWorkers, false))
		maxLat, p999 := up.load.latency()
		t.Logf("4 upgrades: %v; latency max %v p99.9 %v; each took %v", up.load, maxLat, p999, roundAll(up.times))
		recordResult("upgrade under load", "systemd %d | socket-activated, %s | 4 upgrades | %d of %d failed (%s) | max %v, p99.9 %v | upgrade median %v",
			su.systemd, http1Fresh, up.load.failed.Load(), up.load.ok.Load()+up.load.failed.Load(), errKinds(up.load),
			maxLat.Round(time.Millisecond), p999.Round(time.Millisecond), up.median().Round(time.Millisecond))
		if up.load.failed.Load() != 0 {
			t.Errorf("%d failed requests across the upgrades: %v", up.load.failed.Load(), up.load)
		}
		if now := listenInodes(socketPort()); len(inodes) != 1 || !slices.Equal(now, inodes) {
			t.Errorf("the socket unit's listening socket: inodes %v before, %v after", inodes, now)
		}
		if sp := listenInodes(servicePort()); len(sp) != 0 {
			t.Errorf("an upgraded process bound the configured address %d", servicePort())
		}
		if s := c.state(t, unit); s["ActiveState"] != "active" {
			t.Errorf("after the upgrades: %v", s)
		}
	})
}
