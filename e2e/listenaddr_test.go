//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// movedPort is the address the scenario moves the service to.
func movedPort() int { return portBase + 3 }

func loopback(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// mustRefuse asserts that nothing listens on port: a connection is refused.
func mustRefuse(t testing.TB, port int) {
	t.Helper()
	code, _, err := get(port, "/")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("GET on %d: status %d, err %v; want the connection refused", port, code, err)
	}
	if in := listenInodes(port); len(in) != 0 {
		t.Fatalf("port %d refuses, yet sockets %v listen on it", port, in)
	}
}

// TestListenAddress (issue 12, item 1): the configured address wins over
// the listener the fd store hands back. Changing `listen` and restarting
// moves the service: the new address serves, the old one refuses, the
// store holds the new socket (one descriptor, the one the next restart
// gets back), and the journal and STATUS say that the address changed. A
// reload with a new address says that the restart applies it; the restart
// does. With socket activation the socket unit owns the address: a
// differing configured address is reported, not bound.
func TestListenAddress(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		if in := listenInodes(movedPort()); len(in) > 0 {
			t.Fatalf("port %d is already in use on this host (set SDLIFE_E2E_PORT_BASE)", movedPort())
		}
		const unit = "chi-server.service"
		cfg := defaultConfig()
		oldAddr, newAddr := loopback(servicePort()), loopback(movedPort())

		c.must(t, "systemctl", "start", unit)
		mustGet(t, servicePort(), "/", cfg.Greeting)

		t.Run("restart", func(t *testing.T) {
			cfg.Listen = newAddr
			c.writeConfig(t, cfg)
			c.must(t, "systemctl", "restart", unit)
			moved := c.assertMoved(t, unit, oldAddr, newAddr)
			recordResult("listen-address", "systemd %d | restart after listen %s -> %s | %s", su.systemd, oldAddr, newAddr, moved)
		})

		t.Run("reload then restart", func(t *testing.T) {
			pid := c.state(t, unit)["MainPID"]
			cfg.Listen = oldAddr
			c.writeConfig(t, cfg)
			c.must(t, "systemctl", "reload", unit)
			s := c.state(t, unit)
			want := "listen address " + oldAddr + " applies at the next restart"
			if !strings.Contains(s["StatusText"], want) || s["MainPID"] != pid {
				t.Errorf("after a reload to %s: StatusText %q (want it to contain %q), MainPID %s (was %s)", oldAddr, s["StatusText"], want, s["MainPID"], pid)
			}
			es := withMessage(fromPID(c.journalJSON(t, unit), pid), "sdlife: "+want)
			if len(es) != 1 || es[0].field("PRIORITY") != "4" {
				t.Errorf("want one warning %q in the journal, got %v", "sdlife: "+want, es)
			}
			mustGet(t, movedPort(), "/", cfg.Greeting) // still where it was
			mustRefuse(t, servicePort())
			t.Logf("after the reload: StatusText %q", s["StatusText"])

			c.must(t, "systemctl", "restart", unit)
			moved := c.assertMoved(t, unit, newAddr, oldAddr)
			recordResult("listen-address", "systemd %d | reload to %s: %q; then restart | %s", su.systemd, oldAddr, s["StatusText"], moved)
		})

		t.Run("socket unit", func(t *testing.T) {
			c.must(t, "systemctl", "stop", unit)
			c.must(t, "systemctl", "clean", "--what=fdstore", unit)
			mustRefuse(t, servicePort())
			const (
				sock      = "chi-server-activated.socket"
				activated = "chi-server-activated.service"
			)
			c.writeConfig(t, defaultConfig()) // listen: the service port, not the socket's
			sockAddr, configured := loopback(socketPort()), defaultConfig().Listen
			c.must(t, "systemctl", "start", sock)
			mustGet(t, socketPort(), "/", cfg.Greeting) // starts the service
			// The answer does not wait for PID 1 to process the service's
			// STATUS= and READY=1 (the socket accepted before the service
			// was ready): read the state once the start job has ended.
			s := c.settledState(t, activated, 30*time.Second)
			if s["ActiveState"] != "active" {
				t.Fatalf("%s after the first connection: %v", activated, s)
			}
			mustRefuse(t, servicePort())
			want := "listening on " + sockAddr + " as the socket unit says, not on the configured " + configured
			if !strings.Contains(s["StatusText"], want) {
				t.Errorf("StatusText %q, want it to contain %q", s["StatusText"], want)
			}
			es := fromPID(c.journalJSON(t, activated), s["MainPID"])
			warn := withMessage(es, "httpadapter: the socket unit's listener is not on the configured address")
			if len(warn) != 1 || warn[0].field("PRIORITY") != "4" || warn[0].field("ADDR") != sockAddr || warn[0].field("CONFIGURED") != configured {
				t.Errorf("want one warning with ADDR=%s CONFIGURED=%s; journal:\n%s", sockAddr, configured, lastLines(es, 20))
			} else {
				t.Logf("journal: %v", warn[0])
			}
			t.Logf("StatusText %q", s["StatusText"])
			recordResult("listen-address", "systemd %d | socket unit on %s, config %s | StatusText %q", su.systemd, sockAddr, configured, s["StatusText"])
		})
	})
}

// assertMoved checks a restart that moved the service from one address to
// another, and that the store holds the new socket: a further restart gets
// that very socket back. It returns a summary for the results.
func (c *container) assertMoved(t *testing.T, unit, from, to string) string {
	t.Helper()
	fromPort, toPort := portOf(t, from), portOf(t, to)
	mustGet(t, toPort, "/", "")
	mustRefuse(t, fromPort)
	s := c.state(t, unit)
	want := "listen address changed from " + from + " to " + to
	if !strings.Contains(s["StatusText"], want) {
		t.Errorf("StatusText %q, want it to contain %q", s["StatusText"], want)
	}
	if s["NFileDescriptorStore"] != "1" {
		t.Errorf("NFileDescriptorStore=%s, want 1 (the new listener only)", s["NFileDescriptorStore"])
	}
	es := fromPID(c.journalJSON(t, unit), s["MainPID"])
	warn := withMessage(es, "httpadapter: "+want)
	if len(warn) != 1 || warn[0].field("PRIORITY") != "4" || warn[0].field("FROM") != from || warn[0].field("TO") != to {
		t.Errorf("want one warning %q with FROM and TO; journal:\n%s", "httpadapter: "+want, lastLines(es, 20))
	} else {
		t.Logf("journal: %v", warn[0])
	}
	if serving := withMessage(es, "sdlife: serving"); len(serving) != 1 || serving[0].field("SOURCE") != "bound" {
		t.Errorf("want the new address bound; journal:\n%s", lastLines(es, 20))
	}
	inodes := listenInodes(toPort)

	// The store holds the new socket: the next restart is handed it back.
	c.must(t, "systemctl", "restart", unit)
	mustGet(t, toPort, "/", "")
	mustRefuse(t, fromPort)
	s2 := c.state(t, unit)
	es = fromPID(c.journalJSON(t, unit), s2["MainPID"])
	if serving := withMessage(es, "sdlife: serving"); len(serving) != 1 || serving[0].field("SOURCE") != "fd store" || serving[0].field("ADDR") != to {
		t.Errorf("after another restart: want the listener on %s from the fd store; journal:\n%s", to, lastLines(es, 20))
	}
	if now := listenInodes(toPort); len(inodes) != 1 || !slices.Equal(now, inodes) {
		t.Errorf("listening socket on %s: %v after the move, %v after another restart; want one, the same", to, inodes, now)
	}
	if s2["NFileDescriptorStore"] != "1" || strings.Contains(s2["StatusText"], "changed") {
		t.Errorf("after another restart: %v", s2)
	}
	t.Logf("moved %s -> %s: StatusText %q, NFileDescriptorStore=%s, socket inode %v kept by the next restart",
		from, to, s["StatusText"], s["NFileDescriptorStore"], inodes)
	return fmt.Sprintf("new serves, old refused, NFileDescriptorStore=%s, StatusText %q, next restart: the same socket from the fd store",
		s["NFileDescriptorStore"], s["StatusText"])
}

func portOf(t testing.TB, addr string) int {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	return atoi(addr[i+1:])
}
