//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// slowStartDelay is how long the slow-starting new binary of
// installSlowStart waits before it starts the real one.
const slowStartDelay = 2 * time.Second

// installSlowStart installs at the ExecStart= path, as a new file, a new
// binary that is slow to start: a script that sleeps slowStartDelay, then
// execs the example built as ver under the name it was started by (bash's
// exec -a), so that the process's argv[0] stays the ExecStart= path, which
// the next upgrade compares with the running binary.
func (c *container) installSlowStart(t testing.TB, ver string) {
	t.Helper()
	real := c.stageVersion(t, ver)
	script := fmt.Sprintf("#!/bin/bash\n# e2e: a new binary slow to start\nsleep %g\nexec -a \"$0\" %s \"$@\"\n", slowStartDelay.Seconds(), real)
	c.writeFile(t, "/usr/local/bin/chi-server", []byte(script), 0o755)
}

// reloadAsync runs `systemctl reload unit` in the background; the channel
// receives its outcome and duration.
func (c *container) reloadAsync(unit string) <-chan string {
	ch := make(chan string, 1)
	go func() {
		start := time.Now()
		out, err := c.run("systemctl", "reload", unit)
		ch <- fmt.Sprintf("after %v: err=%v %s", time.Since(start).Round(time.Millisecond), err, strings.TrimSpace(out))
	}()
	return ch
}

// waitChild waits until the process pid has a child (the upgrade's new
// process, as `pgrep -P` sees it in the container) and returns its PID.
func (c *container) waitChild(t testing.TB, pid string) string {
	t.Helper()
	var child string
	if !waitFor(5*time.Second, func() bool {
		out, _ := c.run("pgrep", "-P", pid)
		child = strings.TrimSpace(out)
		return child != ""
	}) {
		t.Fatalf("main process %s started no new process within 5 s", pid)
	}
	if strings.Contains(child, "\n") {
		t.Fatalf("main process %s has more than one child: %q", pid, child)
	}
	return child
}

// journalLines is the unit's journal, one entry a line.
func journalLines(t testing.TB, c *container, unit string) []string {
	t.Helper()
	return strings.Split(strings.TrimSpace(c.journal(t, unit)), "\n")
}

func waitReload(t testing.TB, ch <-chan string) string {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(40 * time.Second):
		t.Fatalf("systemctl reload did not return within 40 s")
		return ""
	}
}

// TestUpgradeInterrupted (issue 18, "Interruptions"): an upgrade to a new
// binary that takes 2 s to start, interrupted three ways, under 8
// fresh-connection workers.
//   - SIGKILL of the new process during its start: the reload returns, the
//     old process serves on (same MainPID, same /version), StatusText says
//     "upgrade failed", the unit is active.
//   - A second `systemctl reload` during the upgrade, after v3 was
//     installed: systemd merges it into the running reload job and runs it
//     again once the first is done, so both `systemctl reload`s return
//     after the second upgrade; both succeed, /version answers v3 and
//     MainPID is new.
//   - `systemctl stop` during the upgrade, with a /slow?ms=2000 request in
//     flight: the request is answered 200, the unit ends inactive with
//     Result=success, and no process is left in its cgroup.
//
// No request of the load fails.
func TestUpgradeInterrupted(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		const unit = "chi-server.service"
		c := bootChiServer(t, su.name)
		c.startVersion(t, unit, "v1")
		greeting := defaultConfig().Greeting
		l := startLoad(servicePort(), greeting, loadWorkers, false)
		defer l.finish()

		t.Run("SIGKILL of the new process", func(t *testing.T) {
			before := c.state(t, unit)["MainPID"]
			c.installSlowStart(t, "v2")
			reload := c.reloadAsync(unit)
			child := c.waitChild(t, before)
			c.must(t, "kill", "-KILL", child)
			r := waitReload(t, reload)
			st := c.state(t, unit)
			t.Logf("reload %s; StatusText %q", r, st["StatusText"])
			recordResult("upgrade interrupted", "systemd %d | SIGKILL of the new process during its start | reload %s | MainPID unchanged: %v | %s | StatusText %q",
				su.systemd, r, st["MainPID"] == before, st["ActiveState"], st["StatusText"])
			if !strings.Contains(r, "err=<nil>") {
				t.Errorf("systemctl reload: %s", r)
			}
			if st["MainPID"] != before || st["ActiveState"] != "active" {
				t.Errorf("MainPID %s (was %s), %s: the old process must serve on", st["MainPID"], before, st["ActiveState"])
			}
			if !strings.Contains(st["StatusText"], "upgrade failed") {
				t.Errorf("StatusText %q does not say the upgrade failed", st["StatusText"])
			}
			mustGet(t, servicePort(), "/version", "v1")
		})

		t.Run("second reload during the upgrade", func(t *testing.T) {
			before := c.state(t, unit)["MainPID"]
			mark := len(journalLines(t, c, unit))
			c.installSlowStart(t, "v2")
			first := c.reloadAsync(unit)
			c.waitChild(t, before)
			c.installVersion(t, "v3")
			second := c.reloadAsync(unit)
			r1, r2 := waitReload(t, first), waitReload(t, second)
			st := c.state(t, unit)
			t.Logf("first reload %s; second reload %s; %v", r1, r2, st)
			var jl []string
			for _, line := range journalLines(t, c, unit)[mark:] {
				if strings.Contains(line, "eload") || strings.Contains(line, "upgrad") {
					jl = append(jl, line)
				}
			}
			t.Logf("journal (reloads and upgrades):\n%s", strings.Join(jl, "\n"))
			recordResult("upgrade interrupted", "systemd %d | second reload during an upgrade (v2 slow to start, then v3 installed) | first reload %s | second reload %s | MainPID %s (was %s) | StatusText %q",
				su.systemd, r1, r2, st["MainPID"], before, st["StatusText"])
			for _, r := range []string{r1, r2} {
				if !strings.Contains(r, "err=<nil>") {
					t.Errorf("systemctl reload: %s", r)
				}
			}
			if st["MainPID"] == before || st["ActiveState"] != "active" {
				t.Errorf("MainPID %s (was %s), %s: want a new active main process", st["MainPID"], before, st["ActiveState"])
			}
			mustGet(t, servicePort(), "/version", "v3")
		})

		l.finish()
		t.Logf("load across the SIGKILL and the second reload: %v", l)
		if l.failed.Load() != 0 {
			t.Errorf("%d failed requests: %v", l.failed.Load(), l)
		}
		if l.ok.Load() < 500 {
			t.Errorf("only %d successful requests: the load did not really run", l.ok.Load())
		}

		t.Run("stop during the upgrade", func(t *testing.T) {
			cg := c.show(t, unit, "ControlGroup")["ControlGroup"]
			if cg == "" {
				t.Fatalf("no ControlGroup: %v", c.state(t, unit))
			}
			before := c.state(t, unit)["MainPID"]
			slow := startSlow(http1Fresh, nil, servicePort(), slowMS)
			slow.waitAccepted(t, servicePort())
			c.installSlowStart(t, "v1")
			reload := c.reloadAsync(unit)
			c.waitChild(t, before)
			start := time.Now()
			out, err := c.run("systemctl", "stop", unit)
			took := time.Since(start)
			r := waitReload(t, reload)
			got := slow.wait(10 * time.Second)
			st := c.state(t, unit)
			// systemd removes the group once it is empty.
			procs, cgErr := c.run("sh", "-c", `test ! -e "$1" || cat "$1"`, "sh", "/sys/fs/cgroup"+cg+"/cgroup.procs")
			left, _ := c.run("pgrep", "-a", "-f", "chi-server")
			t.Logf("stop took %v (err %v %s); reload %s; slow request %s; %v; cgroup.procs %q (%v); processes %q",
				took.Round(time.Millisecond), err, strings.TrimSpace(out), r, got, st, procs, cgErr, left)
			recordResult("upgrade interrupted", "systemd %d | stop during an upgrade (new binary slow to start) | stop took %v | reload %s | slow request in flight: %s | %s, Result=%s | processes left in %s: %q",
				su.systemd, took.Round(time.Millisecond), r, got, st["ActiveState"], st["Result"], cg, strings.TrimSpace(procs))
			if err != nil {
				t.Errorf("systemctl stop: %v %s", err, out)
			}
			if !strings.HasPrefix(got, "200 ") {
				t.Errorf("the request in flight got %s, want 200", got)
			}
			if st["ActiveState"] != "inactive" || st["Result"] != "success" {
				t.Errorf("after the stop: %v, want inactive with Result=success", st)
			}
			if strings.TrimSpace(procs) != "" {
				t.Errorf("processes left in %s: %q", cg, procs)
			}
			if strings.TrimSpace(left) != "" {
				t.Errorf("chi-server processes left in the container: %q", left)
			}
		})
	})
}
