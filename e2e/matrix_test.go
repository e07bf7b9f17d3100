//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// Bounds on one `systemctl restart` under load (the whole command, nsenter
// included): well under a second, never stalled on the drain timeout.
const (
	maxMedianRestart = time.Second
	maxRestart       = 2 * time.Second
)

// restartRun is the outcome of restarts under one load.
type restartRun struct {
	load  *load
	times []time.Duration // of each `systemctl restart`
}

func (r restartRun) median() time.Duration {
	s := slices.Clone(r.times)
	slices.Sort(s)
	return s[len(s)/2]
}

func (r restartRun) max() time.Duration { return slices.Max(r.times) }

// restartUnderLoadKind restarts unit n times while the load l runs, and
// finishes l. Every restart must give a new main process.
func restartUnderLoadKind(t *testing.T, c *container, unit string, n int, l *load) restartRun {
	t.Helper()
	defer l.finish()
	c.allowRapidRestarts(t, unit)
	pids := []string{c.state(t, unit)["MainPID"]}
	time.Sleep(500 * time.Millisecond)
	var times []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		out, err := c.run("systemctl", "restart", unit)
		times = append(times, time.Since(start))
		if err != nil {
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
	if l.ok.Load() < 500 {
		t.Errorf("only %d successful requests: the load did not really run", l.ok.Load())
	}
	return restartRun{load: l, times: times}
}

// installNaive puts the baseline server and its unit into the container,
// on the naive port, with extra command-line flags (see e2e/naive).
func (c *container) installNaive(t testing.TB, flags string) {
	t.Helper()
	c.copyFile(t, naiveBin, "/usr/local/bin/naive", 0o755)
	b, err := os.ReadFile("testdata/naive.service")
	if err != nil {
		t.Fatal(err)
	}
	c.writeFile(t, "/etc/systemd/system/naive.service", b, 0o644)
	c.setNaiveFlags(t, flags)
}

func (c *container) setNaiveFlags(t testing.TB, flags string) {
	t.Helper()
	c.writeFile(t, "/etc/systemd/system/naive.service.d/e2e-port.conf",
		[]byte(fmt.Sprintf("[Service]\nEnvironment=NAIVE_LISTEN=127.0.0.1:%d\nEnvironment=\"NAIVE_FLAGS=%s\"\n", naivePort(), flags)), 0o644)
	c.must(t, "systemctl", "daemon-reload")
}

// retries is the count of requests Go's client re-sent on a new
// connection, or "n/a" for h2c, where its GetConn hook fires twice for
// every request (once per transport layer), so the count says nothing.
func retries(l *load) string {
	if l.client == h2cPriorKnowledge {
		return "n/a"
	}
	return fmt.Sprint(l.retried.Load())
}

// durations formats restart times as "min–max, median".
func durations(r restartRun) string {
	return fmt.Sprintf("median %v, max %v, min %v", r.median().Round(time.Millisecond),
		r.max().Round(time.Millisecond), slices.Min(r.times).Round(time.Millisecond))
}

// TestRestartMatrix: 10 `systemctl restart`s under load lose no request for
// every kind of client a real service has: HTTP/1.1 with a new connection
// per request and with keep-alive, h2c (prior knowledge), HTTPS with
// HTTP/1.1 and HTTPS with h2; each restart takes well under a second. The
// certificate is handed in with deploy/units/tls/credentials.conf. The
// naive net/http server (e2e/naive) runs the same loads for comparison;
// only its figures are recorded, nothing is asserted on them.
func TestRestartMatrix(t *testing.T) {
	forEachSuite(t, 0, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		unit := "chi-server.service"
		if su.systemd < notifyReload {
			unit = "chi-server-compat.service"
		}
		ca := newTestCA(t)
		sc := ca.issue(t, "matrix")
		c.installCert(t, sc, 0o600)
		c.writeFile(t, "/etc/naive/tls.crt", sc.certPEM, 0o644)
		c.writeFile(t, "/etc/naive/tls.key", sc.keyPEM, 0o644) // DynamicUser, no credentials: test key only
		c.installTLSDropIn(t, unit, "credentials.conf", credentialsDropIn)
		c.installNaive(t, "")
		greeting := defaultConfig().Greeting

		phases := []struct {
			name       string
			tls        *tlsFiles
			naiveFlags string
			kinds      []clientKind
		}{
			{"plain", nil, "-h2c", []clientKind{http1Fresh, http1KeepAlive, h2cPriorKnowledge}},
			{"tls", &tlsFiles{CertFile: "tls.crt", KeyFile: "tls.key"},
				"-tls-cert /etc/naive/tls.crt -tls-key /etc/naive/tls.key", []clientKind{https1, https2}},
		}
		for _, ph := range phases {
			cfg := defaultConfig()
			cfg.TLS = ph.tls
			c.writeConfig(t, cfg)
			c.must(t, "systemctl", "restart", unit)
			c.setNaiveFlags(t, ph.naiveFlags)
			c.must(t, "systemctl", "restart", "naive.service")
			inodes := listenInodes(servicePort())
			for _, kind := range ph.kinds {
				t.Run(strings.ReplaceAll(kind.String(), "/", "_"), func(t *testing.T) {
					r := restartUnderLoadKind(t, c, unit, nRestarts, startLoadKind(kind, ca.pool, servicePort(), greeting, loadWorkers))
					maxLat, p999 := r.load.latency()
					t.Logf("%s: %v; restarts %s; latency max %v p99.9 %v", unit, r.load, durations(r), maxLat, p999)
					recordResult("restart matrix", "systemd %d | chi-server (sdlife) | %s | %d of %d failed (%s) | max %v, p99.9 %v | restart %s | %s client retries",
						su.systemd, kind, r.load.failed.Load(), r.load.ok.Load()+r.load.failed.Load(), errKinds(r.load),
						maxLat.Round(time.Millisecond), p999.Round(time.Millisecond), durations(r), retries(r.load))
					if r.load.failed.Load() != 0 {
						t.Errorf("%d failed requests during %d restarts: %v", r.load.failed.Load(), nRestarts, r.load)
					}
					if r.median() >= maxMedianRestart || r.max() >= maxRestart {
						t.Errorf("restarts took %s: want median < %v and max < %v", durations(r), maxMedianRestart, maxRestart)
					}

					n := startLoadKind(kind, ca.pool, naivePort(), greeting, loadWorkers)
					nr := restartUnderLoadKind(t, c, "naive.service", nRestarts, n)
					maxLat, p999 = nr.load.latency()
					t.Logf("naive: %v; restarts %s; latency max %v p99.9 %v", nr.load, durations(nr), maxLat, p999)
					recordResult("restart matrix", "systemd %d | naive net/http | %s | %d of %d failed (%s) | max %v, p99.9 %v | restart %s | %s client retries",
						su.systemd, kind, nr.load.failed.Load(), nr.load.ok.Load()+nr.load.failed.Load(), errKinds(nr.load),
						maxLat.Round(time.Millisecond), p999.Round(time.Millisecond), durations(nr), retries(nr.load))
				})
			}
			if now := listenInodes(servicePort()); !slices.Equal(now, inodes) {
				t.Errorf("listening socket changed across restarts (inodes %v -> %v)", inodes, now)
			}
		}
		if s := c.state(t, unit); s["ActiveState"] != "active" {
			t.Errorf("after the matrix: %v", s)
		}
	})
}
