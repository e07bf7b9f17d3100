//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

const (
	unitsDir   = "../deploy/units"
	configPath = "/etc/chi-server/config.json"
	downFile   = "/run/chi-server/down"
)

// chiConfig is the example's config file (examples/chi-server contract).
type chiConfig struct {
	Listen   string    `json:"listen"`
	Greeting string    `json:"greeting"`
	DownFile string    `json:"down_file,omitempty"`
	TLS      *tlsFiles `json:"tls,omitempty"`
}

func defaultConfig() chiConfig {
	return chiConfig{
		Listen:   fmt.Sprintf("127.0.0.1:%d", servicePort()),
		Greeting: "hello from e2e",
		DownFile: downFile,
	}
}

func (c *container) writeConfig(t testing.TB, cfg chiConfig) {
	t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// World-readable: the unit runs under DynamicUser=.
	c.writeFile(t, configPath, append(b, '\n'), 0o644)
}

// installChiServer puts the example binary, its config and the units of
// deploy/units into the container, moved to the test ports by drop-ins, and
// reloads systemd. Nothing is started.
func (c *container) installChiServer(t testing.TB) {
	t.Helper()
	c.copyFile(t, chiServerBin, "/usr/local/bin/chi-server", 0o755)
	c.writeConfig(t, defaultConfig())
	units, err := filepath.Glob(filepath.Join(unitsDir, "chi-server*"))
	if err != nil || len(units) == 0 {
		t.Fatalf("no units in %s: %v", unitsDir, err)
	}
	for _, u := range units {
		c.copyFile(t, u, "/etc/systemd/system/"+filepath.Base(u), 0o644)
	}
	c.writeFile(t, "/etc/systemd/system/chi-server-activated.socket.d/e2e-port.conf",
		[]byte(fmt.Sprintf("[Socket]\nListenStream=\nListenStream=127.0.0.1:%d\n", socketPort())), 0o644)
	c.must(t, "systemctl", "daemon-reload")
}

// bootChiServer boots a container of the suite with the example installed.
func bootChiServer(t *testing.T, suite string) *container {
	t.Helper()
	checkPortsFree(t)
	c := boot(t, suite)
	c.installChiServer(t)
	return c
}

// checkPortsFree fails early if something on the host already uses a test
// port: the containers share the host's network.
func checkPortsFree(t *testing.T) {
	t.Helper()
	for _, p := range []int{servicePort(), socketPort(), naivePort()} {
		if inodes := listenInodes(p); len(inodes) > 0 {
			t.Fatalf("port 127.0.0.1:%d is already in use on this host (set SDLIFE_E2E_PORT_BASE)", p)
		}
	}
}

var requestsRe = regexp.MustCompile(`(\d+) requests`)

// requestCount extracts N from a StatusText containing "<N> requests".
func requestCount(t testing.TB, status string) int {
	t.Helper()
	m := requestsRe.FindStringSubmatch(status)
	if m == nil {
		t.Fatalf("StatusText %q does not contain \"<N> requests\"", status)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

var inFlightRe = regexp.MustCompile(`(\d+) in flight`)

// waitInFlight waits until the unit's StatusText says that n requests are
// in flight: the process has accepted them and they are in their handler.
// STATUS is refreshed about once a second; the wait is bounded by 5s.
func (c *container) waitInFlight(t testing.TB, unit string, n int) {
	t.Helper()
	var status string
	if !waitFor(5*time.Second, func() bool {
		status = c.state(t, unit)["StatusText"]
		m := inFlightRe.FindStringSubmatch(status)
		return m != nil && atoi(m[1]) == n
	}) {
		t.Fatalf("StatusText %q: not %d in flight within 5s", status, n)
	}
}

// waitFor polls cond every 50ms until it holds or the timeout passes; it
// returns whether it held.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// allowRapidRestarts lifts the start rate limit (systemd's default: 5 starts
// in 10s, manual ones included) for a unit that a test restarts 10 times in
// a few seconds. The shipped units have none (a crash loop backs off
// instead, see TestCrashLoop); the drop-in keeps the tests independent of
// that choice.
func (c *container) allowRapidRestarts(t testing.TB, unit string) {
	t.Helper()
	c.writeFile(t, "/etc/systemd/system/"+unit+".d/e2e-start-limit.conf",
		[]byte("[Unit]\nStartLimitIntervalSec=10s\nStartLimitBurst=1000\n"), 0o644)
	c.must(t, "systemctl", "daemon-reload")
}
