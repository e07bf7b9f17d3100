//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCompat: on systemd before 253 (bookworm: 252), which lacks Type=notify-reload,
// chi-server-compat.service (Type=notify + ExecReload=kill -HUP) starts,
// reloads, and restarts under load without losing requests.
func TestCompat(t *testing.T) {
	forEachSuite(t, 0, notifyReload, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server-compat.service"
		t.Logf("%s", strings.SplitN(c.must(t, "systemctl", "--version"), "\n", 2)[0])

		c.must(t, "systemctl", "start", unit)
		mustGet(t, servicePort(), "/", defaultConfig().Greeting)
		s := c.state(t, unit)
		if s["ActiveState"] != "active" || !requestsRe.MatchString(s["StatusText"]) {
			t.Fatalf("after start: %v", s)
		}

		t.Run("reload", func(t *testing.T) {
			cfg := defaultConfig()
			cfg.Greeting = "reloaded on 252"
			c.writeConfig(t, cfg)
			c.must(t, "systemctl", "reload", unit)
			// ExecReload= only sends the signal: the new config is live shortly
			// after `systemctl reload` returns, not necessarily at once.
			var body string
			if !waitFor(2*time.Second, func() bool {
				_, body, _ = get(servicePort(), "/")
				return body == cfg.Greeting+"\n"
			}) {
				t.Fatalf("greeting %q 2s after reload, want %q", body, cfg.Greeting)
			}
			c.writeConfig(t, defaultConfig())
			c.must(t, "systemctl", "reload", unit)
			waitFor(2*time.Second, func() bool {
				_, body, _ = get(servicePort(), "/")
				return body == defaultConfig().Greeting+"\n"
			})
		})

		inodes := listenInodes(servicePort())
		for _, keepAlive := range []bool{false, true} {
			t.Run("restart/"+modeName(keepAlive), func(t *testing.T) {
				l := restartUnderLoad(t, c, unit, servicePort(), defaultConfig().Greeting, keepAlive, nRestarts)
				if l.failed.Load() != 0 {
					t.Errorf("%d failed requests during %d restarts: %v", l.failed.Load(), nRestarts, l)
				}
			})
		}
		s = c.state(t, unit)
		if atoi(s["NFileDescriptorStore"]) < 1 {
			t.Errorf("NFileDescriptorStore=%s after restarts on systemd 252", s["NFileDescriptorStore"])
		}
		if now := listenInodes(servicePort()); !slices.Equal(now, inodes) {
			t.Errorf("listening socket changed across restarts on 252 (inodes %v -> %v)", inodes, now)
		}

		// Without FileDescriptorStorePreserve= (254), a stop must still drop the
		// store and free the port.
		c.must(t, "systemctl", "stop", unit)
		s = c.state(t, unit)
		if s["ActiveState"] != "inactive" || s["Result"] != "success" || s["NFileDescriptorStore"] != "0" {
			t.Errorf("after stop on 252: %v", s)
		}
		if now := listenInodes(servicePort()); len(now) != 0 {
			t.Errorf("port %d still listening after stop on 252 (inodes %v)", servicePort(), now)
		}
	})
}
