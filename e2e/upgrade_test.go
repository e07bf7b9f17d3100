//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	versionedOnce sync.Once
	versionedBins map[string]string
	versionedErr  error
)

// versionedChiServer returns the example built with -X main.version=v,
// for each v of the upgrade tests, built once.
func versionedChiServer(t testing.TB, v string) string {
	t.Helper()
	versionedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sdlife-e2e-versions-")
		if err != nil {
			versionedErr = err
			return
		}
		versionedBins = map[string]string{}
		for _, ver := range []string{"v1", "v2", "v3"} {
			out := filepath.Join(dir, "chi-server-"+ver)
			cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+ver, "-o", out, "../examples/chi-server")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				versionedErr = fmt.Errorf("building %s: %v\n%s", ver, err, b)
				return
			}
			versionedBins[ver] = out
		}
	})
	if versionedErr != nil {
		t.Fatal(versionedErr)
	}
	return versionedBins[v]
}

// startVersion installs the example built as ver (installVersion), starts
// unit and checks that it serves that build.
func (c *container) startVersion(t testing.TB, unit, ver string) {
	t.Helper()
	c.installVersion(t, ver)
	c.must(t, "systemctl", "start", unit)
	mustGet(t, servicePort(), "/version", ver)
}

// TestUpgrade (issue 18): `systemctl reload` after a new binary was
// installed at the ExecStart= path puts it in the running one's place
// while new connections keep being served. 6 upgrades alternating v1 and
// v2 under fresh-connection load: every reload succeeds, /version answers
// the new build and MainPID is the new process after each, and no request
// fails. Then broken binaries (exit 1 at start, missing, not executable):
// the reload leaves the running process in place (same MainPID, same
// /version), STATUS says "upgrade failed", the unit stays active, still no
// request fails; and a good upgrade after them succeeds.
func TestUpgrade(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		const unit = "chi-server.service"
		c := bootChiServer(t, su.name)
		c.startVersion(t, unit, "v1")
		greeting := defaultConfig().Greeting
		mustGet(t, servicePort(), "/", greeting)

		l := startLoad(servicePort(), greeting, loadWorkers/2, false)
		defer l.finish()
		lk := startLoad(servicePort(), greeting, loadWorkers/2, true)
		defer lk.finish()
		upgradeTo := func(ver string) time.Duration {
			t.Helper()
			return c.upgradeTo(t, unit, ver, http1Fresh, nil, servicePort())
		}
		var tooks []string
		for i := range 6 {
			ver := []string{"v2", "v1"}[i%2]
			tooks = append(tooks, upgradeTo(ver).Round(time.Millisecond).String())
		}
		// WatchdogSec=5s in the unit: the hand-overs never let it fire
		// (the old process pings until the hand-over, whose WATCHDOG=1
		// gives the new one a full interval).
		st := c.state(t, unit)
		if n := st["NRestarts"]; n != "0" {
			t.Errorf("NRestarts=%s after the upgrades: something restarted the service (the watchdog?)", n)
		}
		// The store holds the listener once: the new processes took it
		// from their environment without storing it again, and the idle
		// connections went to them directly, never through the store.
		if n := st["NFileDescriptorStore"]; n != "1" {
			t.Errorf("NFileDescriptorStore=%s after the upgrades, want 1 (the listener)", n)
		}
		t.Logf("systemd %d: 6 upgrades, reload took %v", su.systemd, tooks)

		// Broken binaries: the running one keeps serving.
		broken := []struct {
			name    string
			install func()
		}{
			{"exits 1 at start", func() {
				c.writeFile(t, "/usr/local/bin/chi-server", []byte("#!/bin/sh\necho 'start failed: broken build' >&2\nexit 1\n"), 0o755)
			}},
			{"missing", func() { c.must(t, "rm", "-f", "/usr/local/bin/chi-server") }},
			{"not executable", func() {
				c.copyFile(t, versionedChiServer(t, "v2"), "/usr/local/bin/chi-server", 0o644)
			}},
		}
		for _, b := range broken {
			before := c.state(t, unit)["MainPID"]
			b.install()
			out, err := c.run("systemctl", "reload", unit)
			st := c.state(t, unit)
			t.Logf("broken binary (%s): reload err=%v %s; StatusText %q", b.name, err, strings.TrimSpace(out), st["StatusText"])
			if st["MainPID"] != before || st["ActiveState"] != "active" {
				t.Errorf("broken binary (%s): MainPID %s (was %s), %s: the running process must stay", b.name, st["MainPID"], before, st["ActiveState"])
			}
			if !strings.Contains(st["StatusText"], "upgrade failed") {
				t.Errorf("broken binary (%s): StatusText %q does not say the upgrade failed", b.name, st["StatusText"])
			}
			mustGet(t, servicePort(), "/version", "v1")
			recordResult("upgrade", "systemd %d | broken binary: %s | MainPID unchanged: %v | StatusText %q", su.systemd, b.name, st["MainPID"] == before, st["StatusText"])
		}
		upgradeTo("v2")
		l.finish()
		lk.finish()
		t.Logf("systemd %d: load across 7 upgrades and 3 refused ones: %v; %v", su.systemd, l, lk)
		if lk.failed.Load() != 0 {
			t.Errorf("%d failed keep-alive requests across the upgrades: %v", lk.failed.Load(), lk)
		}
		maxLat, p999 := l.latency()
		recordResult("upgrade", "systemd %d | 7 upgrades + 3 broken binaries under %d fresh-connection workers | %d ok, %d failed | reload took %v | client max %v, p99.9 %v",
			su.systemd, loadWorkers, l.ok.Load(), l.failed.Load(), tooks, maxLat, p999)
		if l.failed.Load() != 0 {
			t.Errorf("%d failed requests across the upgrades: %v", l.failed.Load(), l)
		}

		// A stop and a restart after an upgrade still drain: a slow
		// request in flight is answered. (The main process is one PID 1
		// did not fork.)
		for _, verb := range []string{"restart", "stop"} {
			upgradeTo(map[string]string{"restart": "v1", "stop": "v2"}[verb])
			slow := make(chan string, 1)
			go func() {
				code, body, err := get(servicePort(), "/slow?ms=2000")
				slow <- fmt.Sprintf("%d %q %v", code, body, err)
			}()
			time.Sleep(300 * time.Millisecond) // the request is in flight (it takes 2 s)
			start := time.Now()
			out, err := c.run("systemctl", verb, unit)
			got := <-slow
			t.Logf("systemd %d: %s after an upgrade took %v (err %v %s); the slow request in flight: %s", su.systemd, verb, time.Since(start).Round(time.Millisecond), err, strings.TrimSpace(out), got)
			recordResult("upgrade", "systemd %d | %s after an upgrade | slow request in flight: %s", su.systemd, verb, got)
			if !strings.HasPrefix(got, "200 ") {
				t.Errorf("%s after an upgrade: the request in flight got %s, want 200", verb, got)
			}
		}
	})
}

// TestUpgradeIdlePool (issue 18): a pool of 200 idle keep-alive
// connections is answered on the very same TCP connections after each of
// 5 upgrades: the old process parks them (between two requests) and hands
// them to the new process with the listener; none is closed by the
// server.
func TestUpgradeIdlePool(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		const unit = "chi-server.service"
		c := bootChiServer(t, su.name)
		c.startVersion(t, unit, "v1")
		greeting := defaultConfig().Greeting
		pool := openPool(t, servicePort(), poolSize, greeting)
		var handed []string
		for i := range 5 {
			ver := []string{"v2", "v1"}[i%2]
			c.upgradeTo(t, unit, ver, http1Fresh, nil, servicePort())
			closed := pool.closedByServer()
			errs := pool.round(greeting)
			if closed > 0 || len(errs) > 0 {
				t.Errorf("upgrade %d: %d pool connections closed by the server, %d requests on the pool failed: %v", i+1, closed, len(errs), errs[:min(5, len(errs))])
			}
			handed = append(handed, fmt.Sprintf("%d closed, %d failed", closed, len(errs)))
		}
		es := c.journalJSON(t, unit)
		var counts []string
		for _, e := range es {
			if e.field("MESSAGE") == "sdlife: upgraded: the new process serves; draining" {
				counts = append(counts, e.field("HANDED_OVER"))
			}
		}
		t.Logf("systemd %d: pool of %d across 5 upgrades: %v; HANDED_OVER per upgrade %v", su.systemd, poolSize, handed, counts)
		recordResult("upgrade", "systemd %d | idle pool of %d across 5 upgrades | %v | HANDED_OVER %v", su.systemd, poolSize, handed, counts)
	})
}

// TestUpgradeCompat (issue 18, systemd 252): the compat unit has no
// Type=notify-reload, so its reload is `ExecReload=kill -HUP` and returns
// as soon as the signal is sent. An upgrade still hands over (MAINPID= is
// accepted while running); this records what an operator sees, and
// asserts that nothing is lost and the new binary ends up the main
// process once the hand-over is done.
func TestUpgradeCompat(t *testing.T) {
	forEachSuite(t, 0, notifyReload, func(t *testing.T, su suite) {
		const unit = "chi-server-compat.service"
		c := bootChiServer(t, su.name)
		c.startVersion(t, unit, "v1")
		greeting := defaultConfig().Greeting
		l := startLoad(servicePort(), greeting, loadWorkers, false)
		defer l.finish()
		before := c.state(t, unit)["MainPID"]
		c.installVersion(t, "v2")
		c.must(t, "systemctl", "reload", unit)
		atReturn := c.state(t, unit)["MainPID"]
		var now string
		if !waitFor(10*time.Second, func() bool {
			now = c.state(t, unit)["MainPID"]
			return now != before && now != "0"
		}) {
			t.Fatalf("the new binary never became the main process: MainPID %s (was %s)\n%s", now, before, c.must(t, "journalctl", "-u", unit, "-n", "40", "--no-pager"))
		}
		mustGet(t, servicePort(), "/version", "v2")
		l.finish()
		st := c.state(t, unit)
		t.Logf("systemd %d: MainPID %s before, %s when systemctl reload returned, %s after; %v; %v", su.systemd, before, atReturn, now, st, l)
		recordResult("upgrade", "systemd %d (compat unit) | one upgrade under load | MainPID when `systemctl reload` returned: %s (before %s, after %s) | %d ok, %d failed",
			su.systemd, atReturn, before, now, l.ok.Load(), l.failed.Load())
		if l.failed.Load() != 0 || st["ActiveState"] != "active" {
			t.Errorf("compat upgrade: %d failed, %v", l.failed.Load(), st)
		}
		// A stop after it drains too (ExecStop=).
		slow := make(chan string, 1)
		go func() {
			code, body, err := get(servicePort(), "/slow?ms=1000")
			slow <- fmt.Sprintf("%d %q %v", code, body, err)
		}()
		time.Sleep(300 * time.Millisecond) // the request is in flight (it takes 1 s)
		c.must(t, "systemctl", "stop", unit)
		if got := <-slow; !strings.HasPrefix(got, "200 ") {
			t.Errorf("stop after a compat upgrade: the request in flight got %s", got)
		}
	})
}
