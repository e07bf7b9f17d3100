//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

// adminPort is the example's admin listener (admin_listen) in
// TestAdminListener.
func adminPort() int { return portBase + 12 }

// TestAdminListener (issue 17, item 7): the example with a second,
// named listener (admin_listen) under the shipped unit. Both listeners
// are stored (NFileDescriptorStore counts two), 10 restarts under load on
// both ports lose no request, each port keeps its listening socket
// (handed back by the fd store, never bound again), and the journal says
// that the admin listener came from the fd store.
func TestAdminListener(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		const unit = "chi-server.service"
		c := bootChiServer(t, su.name)
		cfg := defaultConfig()
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b[:len(b)-1], []byte(fmt.Sprintf(`,"admin_listen":"127.0.0.1:%d"}`+"\n", adminPort()))...)
		c.writeFile(t, configPath, b, 0o644)
		c.allowRapidRestarts(t, unit)
		c.must(t, "systemctl", "start", unit)
		mustGet(t, servicePort(), "/", cfg.Greeting)
		mustGet(t, adminPort(), "/version", "dev")
		public, admin := listenInodes(servicePort()), listenInodes(adminPort())
		if n := atoi(c.state(t, unit)["NFileDescriptorStore"]); n < 2 {
			t.Errorf("NFileDescriptorStore=%d after the start, want both listeners stored", n)
		}

		pids := []string{c.state(t, unit)["MainPID"]}
		lp := startLoad(servicePort(), cfg.Greeting, loadWorkers/2, false)
		la := startLoadURL(http1Fresh, nil, fmt.Sprintf("http://127.0.0.1:%d/version", adminPort()), "dev", loadWorkers/2)
		for i := range nRestarts {
			c.must(t, "systemctl", "restart", unit)
			pid := c.state(t, unit)["MainPID"]
			if slices.Contains(pids, pid) || pid == "0" {
				t.Fatalf("restart %d: MainPID %s is not a new process (had %v)", i+1, pid, pids)
			}
			pids = append(pids, pid)
		}
		lp.finish()
		la.finish()
		t.Logf("public: %v; admin: %v", lp, la)
		recordResult("admin listener", "systemd %d | %d restarts | public: %d ok, %d failed | admin: %d ok, %d failed",
			su.systemd, nRestarts, lp.ok.Load(), lp.failed.Load(), la.ok.Load(), la.failed.Load())
		for name, l := range map[string]*load{"public": lp, "admin": la} {
			if l.failed.Load() != 0 {
				t.Errorf("%s listener: %d failed requests across %d restarts: %v", name, l.failed.Load(), nRestarts, l)
			}
			if l.ok.Load() < 100 {
				t.Errorf("%s listener: only %d successful requests: the load did not really run", name, l.ok.Load())
			}
		}
		if now := listenInodes(servicePort()); !slices.Equal(now, public) {
			t.Errorf("public listening socket changed (%v -> %v): bound again, not handed over", public, now)
		}
		if now := listenInodes(adminPort()); !slices.Equal(now, admin) {
			t.Errorf("admin listening socket changed (%v -> %v): bound again, not handed over", admin, now)
		}
		if n := atoi(c.state(t, unit)["NFileDescriptorStore"]); n < 2 {
			t.Errorf("NFileDescriptorStore=%d after the restarts, want both listeners stored", n)
		}
		fromStore := 0
		for _, e := range c.journalJSON(t, unit) {
			if e.field("MESSAGE") == "sdlife: serving" && e.field("LISTENER") == "admin" && e.field("SOURCE") == "fd store" {
				fromStore++
			}
		}
		if fromStore != nRestarts {
			t.Errorf("the journal says %d times that the admin listener came from the fd store, want %d (once per restart):\n%s",
				fromStore, nRestarts, tail([]byte(c.journalVerbose(t, unit)), 3000))
		}
	})
}
