//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// takenPort is a port another process (the test, on the host, whose
// network the container shares) holds while the service is told to move
// there.
func takenPort() int { return portBase + 4 }

// TestListenFail (issue 16, item 1): a `listen` that cannot be bound never
// costs the working socket. A reload that names it is refused (StatusText
// says why, the greeting of the same file does not apply); a restart with
// it in the file keeps serving on the socket the fd store handed back,
// under load (5 restarts, 8 workers, a new connection per request) with 0
// failed requests and no failed start (NRestarts
// unchanged), StatusText names the bad address after every refresh, the
// journal has one ERROR line per start; a reload back to the address
// served clears it. Twice: an address that does not parse or resolve
// (999.1.1.1:80), and a port another process holds.
func TestListenFail(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.allowRapidRestarts(t, unit)
		cfg := defaultConfig()
		c.must(t, "systemctl", "start", unit)
		mustGet(t, servicePort(), "/", cfg.Greeting)
		inodes := listenInodes(servicePort())
		if len(inodes) != 1 {
			t.Fatalf("want one listening socket on %d, got %v", servicePort(), inodes)
		}

		tests := []struct {
			name      string
			give      string
			hold      bool   // the test holds the port, as another process
			wantWhy   string // in the refused reload's StatusText
			wantErrno string // StatusErrno after the restart
		}{
			{"unresolvable", "999.1.1.1:80", false, "999.1.1.1", "0"},
			{"port taken", loopback(takenPort()), true, "address already in use", "98"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.hold {
					l, err := net.Listen("tcp", tt.give)
					if err != nil {
						t.Fatalf("holding %s: %v", tt.give, err)
					}
					defer l.Close()
				}
				before := c.state(t, unit)
				bad := cfg
				bad.Listen, bad.Greeting = tt.give, "not applied"

				// The reload is refused.
				c.writeConfig(t, bad)
				c.must(t, "systemctl", "reload", unit)
				s := c.state(t, unit)
				if !strings.Contains(s["StatusText"], "reload failed") || !strings.Contains(s["StatusText"], tt.wantWhy) || s["MainPID"] != before["MainPID"] {
					t.Errorf("after a reload to %s: StatusText %q (want reload failed, %q), MainPID %s (was %s)", tt.give, s["StatusText"], tt.wantWhy, s["MainPID"], before["MainPID"])
				}
				mustGet(t, servicePort(), "/", cfg.Greeting) // nothing of the file applied
				refused := s["StatusText"]

				// Restarts with the file still naming it keep the socket.
				bad.Greeting = cfg.Greeting
				c.writeConfig(t, bad)
				l := restartUnderLoad(t, c, unit, servicePort(), cfg.Greeting, false, 5)
				s = c.state(t, unit)
				note := "cannot listen on the configured " + tt.give
				if l.failed.Load() != 0 {
					t.Errorf("%d failed requests across the restarts: %v", l.failed.Load(), l)
				}
				if s["ActiveState"] != "active" || s["NRestarts"] != before["NRestarts"] {
					t.Errorf("after the restarts: %v; want active, NRestarts %s", s, before["NRestarts"])
				}
				if !strings.Contains(s["StatusText"], note) || !strings.Contains(s["StatusText"], "serving "+loopback(servicePort())) {
					t.Errorf("StatusText %q, want it to contain %q and the address served", s["StatusText"], note)
				}
				// Still said once STATUS= was refreshed by the traffic.
				mustGet(t, servicePort(), "/", cfg.Greeting)
				var refreshed string
				if !waitFor(5*time.Second, func() bool {
					refreshed = c.state(t, unit)["StatusText"]
					return requestCount(t, refreshed) > 0
				}) || !strings.Contains(refreshed, note) {
					t.Errorf("StatusText %q after a refresh, want it to count requests and contain %q", refreshed, note)
				}
				if e := c.show(t, unit, "StatusErrno")["StatusErrno"]; e != tt.wantErrno {
					t.Errorf("StatusErrno=%s, want %s", e, tt.wantErrno)
				}
				if now := listenInodes(servicePort()); !slices.Equal(now, inodes) {
					t.Errorf("listening socket %v, was %v: want the same socket kept", now, inodes)
				}
				es := fromPID(c.journalJSON(t, unit), s["MainPID"])
				errs := withMessage(es, "httpadapter: cannot listen on the configured address")
				if len(errs) != 1 || errs[0].field("PRIORITY") != "3" || errs[0].field("CONFIGURED") != tt.give {
					t.Errorf("want one ERROR line with CONFIGURED=%s; journal:\n%s", tt.give, lastLines(es, 20))
				} else {
					t.Logf("journal: %v", errs[0])
				}
				if tt.hold {
					if in := listenInodes(takenPort()); len(in) != 1 {
						t.Errorf("port %d: listening sockets %v, want only the test's", takenPort(), in)
					}
				}

				// A reload back to the address served clears it.
				c.writeConfig(t, cfg)
				c.must(t, "systemctl", "reload", unit)
				cleared := c.state(t, unit)
				if strings.Contains(cleared["StatusText"], "cannot listen") || strings.Contains(cleared["StatusText"], "reload failed") {
					t.Errorf("after a reload back to %s: StatusText %q", cfg.Listen, cleared["StatusText"])
				}
				mustGet(t, servicePort(), "/", cfg.Greeting)
				recordResult("listen-fail", "systemd %d | listen %s | reload: %q | 5 restarts under load: %d ok, %d failed, NRestarts %s -> %s, same socket %v, StatusText %q, StatusErrno %s | reload back: %q",
					su.systemd, tt.give, refused, l.ok.Load(), l.failed.Load(), before["NRestarts"], s["NRestarts"],
					slices.Equal(listenInodes(servicePort()), inodes), s["StatusText"], tt.wantErrno, cleared["StatusText"])
			})
		}

		t.Run("port freed", func(t *testing.T) {
			// The same file once the port is free: the restart moves there.
			moved := cfg
			moved.Listen = loopback(takenPort())
			c.writeConfig(t, moved)
			c.must(t, "systemctl", "reload", unit)
			c.must(t, "systemctl", "restart", unit)
			s := c.state(t, unit)
			mustGet(t, takenPort(), "/", cfg.Greeting)
			mustRefuse(t, servicePort())
			if !strings.Contains(s["StatusText"], fmt.Sprintf("listen address changed from %s to %s", cfg.Listen, moved.Listen)) {
				t.Errorf("StatusText %q", s["StatusText"])
			}
			if s["NFileDescriptorStore"] != "1" {
				t.Errorf("NFileDescriptorStore=%s, want 1 (the new listener only)", s["NFileDescriptorStore"])
			}
			c.must(t, "systemctl", "stop", unit)
		})
	})
}
