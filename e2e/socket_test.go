//go:build e2e

package e2e

import (
	"regexp"
	"slices"
	"testing"
	"time"
)

// TestSocketActivation: the socket unit starts the service on the first
// connection, and restarts under load lose nothing.
func TestSocketActivation(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const (
			sock = "chi-server-activated.socket"
			unit = "chi-server-activated.service"
		)
		c.must(t, "systemctl", "start", sock)
		if s := c.state(t, unit); s["ActiveState"] != "inactive" {
			t.Fatalf("service active before any connection: %v", s)
		}
		inodes := listenInodes(socketPort())
		if len(inodes) != 1 {
			t.Fatalf("want the socket unit listening on %d, got inodes %v", socketPort(), inodes)
		}
		// The first request is answered by the service it starts.
		mustGet(t, socketPort(), "/", defaultConfig().Greeting)
		// The socket accepted before the service was ready, by design: the
		// answer proves the service serves, not that PID 1 has processed its
		// READY=1 yet. Wait for the start job the connection triggered to
		// end, then the unit must be up (not failed, not still activating).
		if s := c.settledState(t, unit, 30*time.Second); s["ActiveState"] != "active" || s["SubState"] != "running" {
			t.Fatalf("service after first connection: %v", s)
		}
		if sp := listenInodes(servicePort()); len(sp) != 0 {
			t.Errorf("the service bound its configured address %d as well: it ignored the socket it was handed", servicePort())
		}

		for _, keepAlive := range []bool{false, true} {
			t.Run(modeName(keepAlive), func(t *testing.T) {
				l := restartUnderLoad(t, c, unit, socketPort(), defaultConfig().Greeting, keepAlive, nRestarts)
				if l.failed.Load() != 0 {
					t.Errorf("%d failed requests during %d restarts: %v", l.failed.Load(), nRestarts, l)
				}
			})
		}
		if now := listenInodes(socketPort()); !slices.Equal(now, inodes) {
			t.Errorf("listening socket changed (inodes %v -> %v)", inodes, now)
		}
		if m := regexp.MustCompile(activationLog).FindString(c.journalVerbose(t, unit)); m == "" {
			t.Errorf("journal never says the listener came from the socket unit (pattern %s)", activationLog)
		} else {
			t.Logf("journal: %s", m)
		}
		s := c.state(t, unit)
		t.Logf("after restarts: %v", s)
		if s["ActiveState"] != "active" {
			t.Errorf("after restarts: %v", s)
		}
	})
}
