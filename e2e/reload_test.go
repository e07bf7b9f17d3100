//go:build e2e

package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReload: `systemctl reload` of the notify-reload unit returns when the
// new config is live; an invalid config is refused, the old one kept, and
// STATUS says why.
func TestReload(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.must(t, "systemctl", "start", unit)
		pid := c.state(t, unit)["MainPID"]

		cfg := defaultConfig()
		if status := c.state(t, unit)["StatusText"]; !strings.HasPrefix(status, "Serving") {
			t.Errorf("StatusText %q right after start, want the Serving phase", status)
		}

		cfg.Greeting = "reloaded once"
		c.writeConfig(t, cfg)
		c.must(t, "systemctl", "reload", unit)
		mustGet(t, servicePort(), "/", cfg.Greeting) // at once: no polling

		cfg.Greeting = "reloaded twice"
		c.writeConfig(t, cfg)
		c.must(t, "systemctl", "reload", unit)
		mustGet(t, servicePort(), "/", cfg.Greeting)

		okStatus := c.state(t, unit)["StatusText"]
		c.writeFile(t, configPath, []byte(`{"greeting": 42}`+"\n"), 0o644)
		out, err := c.run("systemctl", "reload", unit)
		t.Logf("reload with invalid config: err=%v %s", err, out)
		mustGet(t, servicePort(), "/", "reloaded twice")
		s := c.state(t, unit)
		if s["ActiveState"] != "active" || s["MainPID"] != pid {
			t.Fatalf("after invalid reload: want active with MainPID %s, got %v", pid, s)
		}
		// STATUS says why as soon as `systemctl reload` returns: the library
		// sends it before the READY=1 that ends the reload.
		why := regexp.MustCompile(`reload failed: .*greeting`)
		if !why.MatchString(s["StatusText"]) {
			t.Errorf("StatusText %q does not say why the reload failed when reload returned (before: %q)", s["StatusText"], okStatus)
		}
		t.Logf("StatusText after the invalid reload: %q", s["StatusText"])

		// A good config afterwards is taken again.
		cfg.Greeting = "reloaded after a bad one"
		c.writeConfig(t, cfg)
		c.must(t, "systemctl", "reload", unit)
		mustGet(t, servicePort(), "/", cfg.Greeting)
	})
}

// TestReloadUnderLoad: 10 reloads during continuous traffic fail no request.
func TestReloadUnderLoad(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.must(t, "systemctl", "start", unit)
		pid := c.state(t, unit)["MainPID"]
		for _, keepAlive := range []bool{false, true} {
			t.Run(modeName(keepAlive), func(t *testing.T) {
				l := startLoad(servicePort(), defaultConfig().Greeting, loadWorkers, keepAlive)
				defer l.finish()
				time.Sleep(300 * time.Millisecond)
				for i := 0; i < 10; i++ {
					start := time.Now()
					c.must(t, "systemctl", "reload", unit)
					if d := time.Since(start); d > 5*time.Second {
						t.Errorf("reload %d took %v", i+1, d)
					}
					time.Sleep(200 * time.Millisecond)
				}
				l.finish()
				t.Logf("10 reloads: %v", l)
				if l.failed.Load() != 0 || l.ok.Load() < 500 {
					t.Errorf("during 10 reloads: %v", l)
				}
			})
		}
		if s := c.state(t, unit); s["MainPID"] != pid || s["ActiveState"] != "active" {
			t.Errorf("after reloads: want MainPID %s active, got %v", pid, s)
		}
	})
}
