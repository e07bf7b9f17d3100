//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// h2ProxyPort is haproxy's front port in TestH2Clients.
func h2ProxyPort() int { return portBase + 10 }

// h2loadWindow is how long one h2load run lasts; the restart happens
// h2loadLead into it. h2load does not reconnect an HTTP/2 client after
// GOAWAY, so every restart gets a run of its own.
const (
	h2loadWindow = 2 * time.Second
	h2loadLead   = 500 * time.Millisecond
)

// h2loadRun is what one h2load run saw.
type h2loadRun struct {
	sent    int    // rows of --log-file with a start time: requests it sent
	failed  int    // of those, the ones without a 2xx status (-1: the stream failed)
	unsent  int    // rows without a start time: requests nghttp2 cancelled before sending
	summary string // h2load's "requests:" line (its "failed" counts the unsent too)
}

// startH2load runs h2load against url for h2loadWindow; wait returns its
// figures.
func startH2load(t *testing.T, url string) (wait func() h2loadRun) {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "h2load.log")
	ctx, cancel := context.WithTimeout(context.Background(), h2loadWindow+10*time.Second)
	cmd := exec.CommandContext(ctx, "h2load", "-c", "8", "-m", "16", "-t", "1",
		"-D", strconv.Itoa(int(h2loadWindow/time.Second)), "--log-file", logFile, url)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("h2load: %v", err)
	}
	return func() h2loadRun {
		t.Helper()
		defer cancel()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("h2load: %v\n%s", err, out.String())
		}
		r := parseH2loadLog(t, logFile, begin)
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(line, "requests:") {
				r.summary = strings.TrimSpace(line)
			}
		}
		return r
	}
}

// parseH2loadLog counts the rows of an h2load --log-file: start time in
// microseconds since the epoch, status (-1 for a failed stream), duration.
// A request nghttp2 never sent has no start time (0, or before the run).
func parseH2loadLog(t *testing.T, path string, begin time.Time) h2loadRun {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r h2loadRun
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 3 {
			continue
		}
		start, _ := strconv.ParseInt(cols[0], 10, 64)
		status, _ := strconv.Atoi(cols[1])
		if start < begin.Add(-time.Second).UnixMicro() {
			r.unsent++
			continue
		}
		r.sent++
		if status < 200 || status > 299 {
			r.failed++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return r
}

// h2loadAcrossRestarts runs h2load against url n times, restarting unit
// h2loadLead into each run; pids are the main processes, first to last.
func h2loadAcrossRestarts(t *testing.T, c *container, unit, url string, n int) (runs []h2loadRun, r restartRun, pids []string) {
	t.Helper()
	c.allowRapidRestarts(t, unit)
	pids = []string{c.state(t, unit)["MainPID"]}
	for i := range n {
		wait := startH2load(t, url)
		time.Sleep(h2loadLead) // the load is under way
		start := time.Now()
		out, err := c.run("systemctl", "restart", unit)
		r.times = append(r.times, time.Since(start))
		if err != nil {
			t.Fatalf("restart %d: %v\n%s", i+1, err, out)
		}
		pid := c.state(t, unit)["MainPID"]
		if slices.Contains(pids, pid) || pid == "0" {
			t.Fatalf("restart %d: MainPID %s is not a new process (had %v)", i+1, pid, pids)
		}
		pids = append(pids, pid)
		runs = append(runs, wait())
	}
	return runs, r, pids
}

// sumRuns adds up h2load runs.
func sumRuns(runs []h2loadRun) (total h2loadRun) {
	for _, r := range runs {
		total.sent += r.sent
		total.failed += r.failed
		total.unsent += r.unsent
	}
	return total
}

// slowDrains returns the "drained" lines of unit's journal whose TOOK is
// at least a second, and all the TOOKs.
func slowDrains(t *testing.T, c *container, unit string) (slow []string, took []string) {
	t.Helper()
	for _, e := range withMessage(c.journalJSON(t, unit), "httpadapter: drained") {
		d, err := time.ParseDuration(e.field("TOOK"))
		took = append(took, e.field("TOOK"))
		if err != nil || d >= time.Second {
			slow = append(slow, e.String())
		}
	}
	return slow, took
}

// startHaproxy runs haproxy in the foreground as the test's own process,
// its configuration in a temporary directory: HTTP/1.1 on front, an
// HTTP/2 (h2c) backend at backendPort, no retries.
func startHaproxy(t *testing.T, front, backendPort int) {
	t.Helper()
	cfg := fmt.Sprintf(`global
	maxconn 2000
defaults
	mode http
	retries 0
	timeout connect 2s
	timeout client 10s
	timeout server 10s
frontend fe
	bind 127.0.0.1:%d
	default_backend be
backend be
	server app 127.0.0.1:%d proto h2
`, front, backendPort)
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("haproxy", "-db", "-f", path)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("haproxy: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if !waitFor(5*time.Second, func() bool {
		conn, err := net.Dial("tcp", loopback(front))
		if err == nil {
			conn.Close()
		}
		return err == nil
	}) {
		t.Fatalf("haproxy does not listen on %d:\n%s", front, out.String())
	}
}

// wrkRun is what one wrk run reported.
type wrkRun struct {
	requests, non2xx, socketErrs int
	errs                         string
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// wrkAcrossRestarts runs wrk (HTTP/1.1 keep-alive, 8 connections)
// against port while unit restarts n times.
func wrkAcrossRestarts(t *testing.T, c *container, unit string, port, n int) (wrkRun, restartRun) {
	t.Helper()
	c.allowRapidRestarts(t, unit)
	d := time.Duration(n)*1200*time.Millisecond + 2*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), d+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk", "-t", "1", "-c", "8", "-d", fmt.Sprintf("%ds", int(d/time.Second)),
		fmt.Sprintf("http://127.0.0.1:%d/", port))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("wrk: %v", err)
	}
	var r restartRun
	time.Sleep(time.Second) // the load is under way
	for i := range n {
		start := time.Now()
		o, err := c.run("systemctl", "restart", unit)
		r.times = append(r.times, time.Since(start))
		if err != nil {
			t.Fatalf("restart %d: %v\n%s", i+1, err, o)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wrk: %v\n%s", err, out.String())
	}
	s := out.String()
	var w wrkRun
	if m := wrkRequests.FindStringSubmatch(s); m != nil {
		w.requests = atoi(m[1])
	}
	if m := wrkNon2xx.FindStringSubmatch(s); m != nil {
		w.non2xx = atoi(m[1])
	}
	if m := wrkSocket.FindStringSubmatch(s); m != nil {
		w.socketErrs = atoi(m[1]) + atoi(m[2]) + atoi(m[3]) + atoi(m[4])
		w.errs = m[0]
	}
	return w, r
}

// TestH2Clients: real third-party HTTP/2 clients across 10 `systemctl
// restart`s lose nothing (issue 19): h2load over h2c and over TLS (h2),
// one run per restart, with not one request it sent failing; haproxy with
// an HTTP/2 (h2c) backend and retries 0, wrk in front, with not one failed
// client request. No drain takes a second or more. The naive net/http
// server (e2e/naive) runs the same for comparison; only its figures are
// recorded.
func TestH2Clients(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		unit := "chi-server.service"
		ca := newTestCA(t)
		sc := ca.issue(t, "h2clients")
		c.installCert(t, sc, 0o600)
		c.writeFile(t, "/etc/naive/tls.crt", sc.certPEM, 0o644)
		c.writeFile(t, "/etc/naive/tls.key", sc.keyPEM, 0o644) // DynamicUser, no credentials: test key only
		c.installTLSDropIn(t, unit, "credentials.conf", credentialsDropIn)
		c.installNaive(t, "-h2c")
		c.must(t, "systemctl", "start", "naive.service")

		phases := []struct {
			name       string
			tls        *tlsFiles
			naiveFlags string
			scheme     string
		}{
			{"h2c", nil, "-h2c", "http"},
			{"h2", &tlsFiles{CertFile: "tls.crt", KeyFile: "tls.key"}, "-tls-cert /etc/naive/tls.crt -tls-key /etc/naive/tls.key", "https"},
		}
		for _, ph := range phases {
			cfg := defaultConfig()
			cfg.TLS = ph.tls
			c.writeConfig(t, cfg)
			c.must(t, "systemctl", "restart", unit)
			c.setNaiveFlags(t, ph.naiveFlags)
			c.must(t, "systemctl", "restart", "naive.service")
			t.Run("h2load_"+ph.name, func(t *testing.T) {
				runs, r, pids := h2loadAcrossRestarts(t, c, unit, fmt.Sprintf("%s://127.0.0.1:%d/", ph.scheme, servicePort()), nRestarts)
				tot := sumRuns(runs)
				t.Logf("sdlife: %d sent, %d failed, %d unsent; restarts %s; last run %s", tot.sent, tot.failed, tot.unsent, durations(r), runs[len(runs)-1].summary)
				t.Logf("sdlife restarts: %s", restartTimeline(c.journalJSON(t, unit), poolRun{oldPID: pids[:len(pids)-1], newPID: pids[1:]}))
				recordResult("h2 clients", "systemd %d | chi-server (sdlife) | h2load %s | %d of %d sent failed | %d cancelled unsent | restart %s",
					su.systemd, ph.name, tot.failed, tot.sent, tot.unsent, durations(r))
				if tot.failed != 0 {
					for i, run := range runs {
						t.Logf("run %d: %+v", i+1, run)
					}
					t.Errorf("%d of %d requests h2load sent failed across %d restarts", tot.failed, tot.sent, nRestarts)
				}
				if tot.sent < 1000 {
					t.Errorf("only %d requests sent: the load did not really run", tot.sent)
				}

				nruns, nr, _ := h2loadAcrossRestarts(t, c, "naive.service", fmt.Sprintf("%s://127.0.0.1:%d/", ph.scheme, naivePort()), nRestarts)
				ntot := sumRuns(nruns)
				t.Logf("naive: %d sent, %d failed, %d unsent; restarts %s", ntot.sent, ntot.failed, ntot.unsent, durations(nr))
				recordResult("h2 clients", "systemd %d | naive net/http | h2load %s | %d of %d sent failed | %d cancelled unsent | restart %s",
					su.systemd, ph.name, ntot.failed, ntot.sent, ntot.unsent, durations(nr))
			})
		}

		// haproxy with an h2c backend: plain listeners again.
		c.writeConfig(t, defaultConfig())
		c.must(t, "systemctl", "restart", unit)
		c.setNaiveFlags(t, "-h2c")
		c.must(t, "systemctl", "restart", "naive.service")
		t.Run("haproxy_h2c_backend", func(t *testing.T) {
			startHaproxy(t, h2ProxyPort(), servicePort())
			w, r := wrkAcrossRestarts(t, c, unit, h2ProxyPort(), nRestarts)
			t.Logf("sdlife behind haproxy: %d requests, %d non-2xx, %s; restarts %s", w.requests, w.non2xx, w.errs, durations(r))
			recordResult("h2 clients", "systemd %d | chi-server (sdlife) | haproxy h2c backend, retries 0, wrk | %d of %d failed (%d non-2xx, %s) | restart %s",
				su.systemd, w.non2xx+w.socketErrs, w.requests, w.non2xx, w.errs, durations(r))
			if w.non2xx+w.socketErrs != 0 {
				t.Errorf("%d non-2xx responses and %s through haproxy across %d restarts", w.non2xx, w.errs, nRestarts)
			}
			if w.requests < 1000 {
				t.Errorf("only %d requests: the load did not really run", w.requests)
			}
		})
		t.Run("haproxy_h2c_backend_naive", func(t *testing.T) {
			startHaproxy(t, h2ProxyPort()+1, naivePort())
			w, r := wrkAcrossRestarts(t, c, "naive.service", h2ProxyPort()+1, nRestarts)
			t.Logf("naive behind haproxy: %d requests, %d non-2xx, %s; restarts %s", w.requests, w.non2xx, w.errs, durations(r))
			recordResult("h2 clients", "systemd %d | naive net/http | haproxy h2c backend, retries 0, wrk | %d of %d failed (%d non-2xx, %s) | restart %s",
				su.systemd, w.non2xx+w.socketErrs, w.requests, w.non2xx, w.errs, durations(r))
		})

		slow, took := slowDrains(t, c, unit)
		t.Logf("drains took %v", took)
		recordResult("h2 clients", "systemd %d | chi-server (sdlife) | drains | %s", su.systemd, strings.Join(took, " "))
		if len(slow) > 0 {
			t.Errorf("%d drains took a second or more:\n%s", len(slow), strings.Join(slow, "\n"))
		}
	})
}
