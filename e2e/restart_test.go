//go:build e2e

package e2e

import (
	"regexp"
	"slices"
	"testing"
	"time"
)

const (
	loadWorkers = 8
	nRestarts   = 10
)

// restartUnderLoad restarts unit n times while workers send requests to
// port, and returns the finished load. It asserts that every restart gave a
// new main process.
func restartUnderLoad(t *testing.T, c *container, unit string, port int, want string, keepAlive bool, n int) *load {
	t.Helper()
	c.allowRapidRestarts(t, unit)
	pids := []string{c.state(t, unit)["MainPID"]}
	l := startLoad(port, want, loadWorkers, keepAlive)
	defer l.finish()
	time.Sleep(500 * time.Millisecond)
	for i := 0; i < n; i++ {
		if out, err := c.run("systemctl", "restart", unit); err != nil {
			t.Fatalf("restart %d: %v\n%s", i+1, err, out)
		}
		pid := c.state(t, unit)["MainPID"]
		if slices.Contains(pids, pid) || pid == "0" {
			t.Fatalf("restart %d: MainPID %s is not a new process (had %v)", i+1, pid, pids)
		}
		pids = append(pids, pid)
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	l.finish()
	t.Logf("%s, %d restarts: %v", unit, n, l)
	if l.ok.Load() < 1000 {
		t.Errorf("only %d successful requests: the load did not really run", l.ok.Load())
	}
	return l
}

// TestRestartUnderLoad: 10 `systemctl restart` during continuous traffic
// lose no request, with new connections and with keep-alive connections,
// because the listening socket stays in systemd's fd store.
func TestRestartUnderLoad(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.must(t, "systemctl", "start", unit)
		mustGet(t, servicePort(), "/", defaultConfig().Greeting)
		inodes := listenInodes(servicePort())
		if len(inodes) != 1 {
			t.Fatalf("want one listening socket on %d, got inodes %v", servicePort(), inodes)
		}

		for _, keepAlive := range []bool{false, true} {
			t.Run(modeName(keepAlive), func(t *testing.T) {
				l := restartUnderLoad(t, c, unit, servicePort(), defaultConfig().Greeting, keepAlive, nRestarts)
				if l.failed.Load() != 0 {
					t.Errorf("%d failed requests during %d restarts: %v", l.failed.Load(), nRestarts, l)
				}
			})
		}

		s := c.state(t, unit)
		if atoi(s["NFileDescriptorStore"]) < 1 {
			t.Errorf("NFileDescriptorStore=%s, want >= 1", s["NFileDescriptorStore"])
		}
		if s["ActiveState"] != "active" {
			t.Errorf("after restarts: %v", s)
		}
		if now := listenInodes(servicePort()); !slices.Equal(now, inodes) {
			t.Errorf("listening socket changed across restarts (inodes %v -> %v): it was bound again, not handed over", inodes, now)
		}
		j := c.journalVerbose(t, unit)
		if m := regexp.MustCompile(fdStoreLog).FindString(j); m == "" {
			t.Errorf("journal never says the listener came from the fd store (pattern %s):\n%s", fdStoreLog, tail([]byte(j), 3000))
		} else {
			t.Logf("journal: %s", m)
		}
	})
}
