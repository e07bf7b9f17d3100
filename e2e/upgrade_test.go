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

// install puts bin at the path ExecStart= names, by rename, as install(1)
// does: the running binary is not touched.
func (c *container) installBinary(t testing.TB, bin string) {
	t.Helper()
	c.copyFile(t, bin, "/usr/local/bin/chi-server", 0o755)
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
		c.installBinary(t, versionedChiServer(t, "v1"))
		if os.Getenv("SDLIFE_E2E_UPGRADE_DEBUG") != "" {
			c.must(t, "systemd-analyze", "log-level", "debug")
			t.Cleanup(func() {
				j, _ := c.run("journalctl", "--no-pager", "-o", "short-monotonic", "-n", "400", "_PID=1", "+", "_SYSTEMD_UNIT=chi-server.service")
				t.Logf("journal:\n%s", j)
			})
		}
		c.must(t, "systemctl", "start", unit)
		greeting := defaultConfig().Greeting
		mustGet(t, servicePort(), "/", greeting)
		mustGet(t, servicePort(), "/version", "v1")

		l := startLoad(servicePort(), greeting, loadWorkers/2, false)
		defer l.finish()
		lk := startLoad(servicePort(), greeting, loadWorkers/2, true)
		defer lk.finish()
		upgradeTo := func(ver string) (took time.Duration) {
			t.Helper()
			before := c.state(t, unit)["MainPID"]
			c.installBinary(t, versionedChiServer(t, ver))
			start := time.Now()
			if out, err := c.run("systemctl", "reload", unit); err != nil {
				t.Fatalf("reload to %s: %v\n%s\n%s", ver, err, out, c.must(t, "journalctl", "-u", unit, "-n", "40", "--no-pager"))
			}
			took = time.Since(start)
			st := c.state(t, unit)
			if st["MainPID"] == before || st["MainPID"] == "0" {
				t.Errorf("upgrade to %s: MainPID %s, was %s: not the new process", ver, st["MainPID"], before)
			}
			if st["ActiveState"] != "active" {
				t.Errorf("upgrade to %s: %v", ver, st)
			}
			mustGet(t, servicePort(), "/version", ver)
			return took
		}
		var tooks []string
		for i := range 6 {
			ver := []string{"v2", "v1"}[i%2]
			tooks = append(tooks, upgradeTo(ver).Round(time.Millisecond).String())
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
