//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// failFastDropIn is the shipped drop-in deploy/units/failfast/fail-fast.conf
// ("Crash loops" in deploy/units/README.md): systemd's default start limit
// back, so that a crash loop ends with a failed unit and refused clients.
var failFastDropIn = mustRead(filepath.Join(unitsDir, "failfast", "fail-fast.conf"))

const (
	// brokenBinary replaces the example: it fails at every start, as a bad
	// build would. /bin/sh is allowed by the unit's sandbox.
	brokenBinary = "#!/bin/sh\necho 'chi-server: broken build' >&2\nexit 1\n"
	// crashOutage is how long the broken binary stays installed.
	crashOutage = 20 * time.Second
	// waitTimeout is the waiting clients' timeout: longer than the outage,
	// the backoff's longest delay (RestartMaxDelaySec=5s) and a start.
	waitTimeout = 60 * time.Second
	// crashResetAfter is the config's restart_reset_after: the program
	// sends RESTART_RESET=1 after this much health (default 1m).
	crashResetAfter = "2s"
	// startLimitMsg is what the manager logs when the start limit ends a
	// crash loop.
	startLimitMsg = "Start request repeated too quickly"
)

// TestCrashLoop: the binary is replaced by one that fails at every start,
// `systemctl restart` starts it, and for crashOutage the unit crash-loops
// under fresh-connection load from clients that wait up to waitTimeout, with
// an idle keep-alive pool of poolSize connections open; then the good binary
// is put back. As shipped (RestartSteps= backoff, no start limit) the loop
// never ends the unit: the fd store keeps the listening socket and the
// handed-over pool throughout (NFileDescriptorStore never 0), no connection
// is refused, every waiting request is answered once the good binary is
// back (0 failed), and the pool is answered on the same TCP connections.
// With deploy/units/failfast/fail-fast.conf the contrast: the start limit
// fails the unit, the store is dropped, connections are refused and the
// pool is lost.
func TestCrashLoop(t *testing.T) {
	forEachSuite(t, 0, 0, func(t *testing.T, su suite) {
		unit := "chi-server.service"
		if su.systemd < notifyReload {
			unit = "chi-server-compat.service"
		}
		c := bootChiServer(t, su.name)
		dropIn := "/etc/systemd/system/" + unit + ".d/fail-fast.conf"
		tests := []struct {
			name     string
			failFast bool // with the drop-in
		}{
			{"shipped", false},
			{"fail-fast", true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c.run("systemctl", "stop", unit)
				c.run("systemctl", "reset-failed", unit)
				if tt.failFast {
					c.writeFile(t, dropIn, failFastDropIn, 0o644)
				} else {
					c.must(t, "rm", "-f", dropIn)
				}
				c.must(t, "systemctl", "daemon-reload")
				if tt.failFast {
					checkHardened(t, c, unit, "fail-fast.conf")
				}
				c.copyFile(t, chiServerBin, "/usr/local/bin/chi-server", 0o755)
				c.writeJSONConfig(t, resetConfig{defaultConfig(), crashResetAfter})
				c.must(t, "systemctl", "start", unit)
				greeting := defaultConfig().Greeting
				mustGet(t, servicePort(), "/", greeting)
				pool := openPool(t, servicePort(), poolSize, greeting)
				time.Sleep(250 * time.Millisecond) // the server reaches its idle wait after the response

				r := runCrashLoop(t, c, unit, servicePort(), greeting)
				t.Logf("systemd %d, %s: %v", su.systemd, tt.name, r)
				poolErrs := pool.round(greeting)
				recordResult("crash-loop", "systemd %d | %s | %v | idle pool: %d of %d answered on the same connection",
					su.systemd, tt.name, r, poolSize-len(poolErrs), poolSize)

				if r.restarts < 3 {
					t.Fatalf("only %d automatic restarts in %v: the crash loop did not run", r.restarts, crashOutage)
				}
				if !tt.failFast {
					if n := r.load.failed.Load(); n != 0 {
						t.Errorf("%d failed requests across the crash loop: %v", n, r.load)
					}
					if r.storeEmpty > 0 || r.notListening > 0 {
						t.Errorf("during the crash loop: %d of %d samples with NFileDescriptorStore=0, %d with the port not listening",
							r.storeEmpty, r.samples, r.notListening)
					}
					if r.gaveUp || r.final == "failed" {
						t.Errorf("the unit gave up: %s at the end (states %v, Result=%s)", r.final, r.states, r.result)
					}
					if len(poolErrs) > 0 {
						t.Errorf("after the crash loop, %d of %d idle pool connections failed: %v", len(poolErrs), poolSize, poolErrs[:min(5, len(poolErrs))])
					}
					if su.systemd >= restartSteps {
						checkBackoffReset(t, c, su, unit)
					}
				} else {
					if r.load.kind("refused") == 0 {
						t.Errorf("no refused connection with %s (the contrast does not show): %v", dropIn, r.load)
					}
					if !r.gaveUp || r.final != "failed" || r.storeEmpty == 0 || r.notListening == 0 {
						t.Errorf("with %s: want the start limit hit (%q logged: %v), the unit failed (%s), the store dropped (%d polls) and the port free (%d polls)",
							dropIn, startLimitMsg, r.gaveUp, r.final, r.storeEmpty, r.notListening)
					}
					if len(poolErrs) == 0 {
						t.Errorf("the idle pool survived the start limit: the store was not dropped")
					}
				}
			})
		}
	})
}

// TestCrashLoopActivated: the crash loop of TestCrashLoop with the
// socket-activated pair, where the socket unit holds the listener and the
// service has no fd store. As shipped (no start limit) the socket stays
// active throughout and no connection is refused; with
// deploy/units/failfast/fail-fast.conf the service's start limit fails the
// socket unit too (service-start-limit-hit), which closes the listener.
func TestCrashLoopActivated(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		const (
			unit   = "chi-server-activated.service"
			socket = "chi-server-activated.socket"
		)
		c := bootChiServer(t, su.name)
		dropIn := "/etc/systemd/system/" + unit + ".d/fail-fast.conf"
		for _, failFast := range []bool{false, true} {
			name := "shipped"
			if failFast {
				name = "fail-fast"
			}
			t.Run(name, func(t *testing.T) {
				c.run("systemctl", "stop", socket, unit)
				c.run("systemctl", "reset-failed")
				if failFast {
					c.writeFile(t, dropIn, failFastDropIn, 0o644)
				} else {
					c.must(t, "rm", "-f", dropIn)
				}
				c.must(t, "systemctl", "daemon-reload")
				c.copyFile(t, chiServerBin, "/usr/local/bin/chi-server", 0o755)
				c.must(t, "systemctl", "start", socket)
				greeting := defaultConfig().Greeting
				mustGet(t, socketPort(), "/", greeting) // starts the service
				r := runCrashLoop(t, c, unit, socketPort(), greeting)
				sock := c.show(t, socket, "ActiveState", "Result")
				t.Logf("systemd %d, %s: %v; %s after the fix: %v", su.systemd, name, r, socket, sock)
				recordResult("crash-loop", "systemd %d | activated pair, %s | %v", su.systemd, name, r)
				if r.restarts < 3 {
					t.Fatalf("only %d automatic restarts in %v: the crash loop did not run", r.restarts, crashOutage)
				}
				if !failFast {
					if n := r.load.failed.Load(); n != 0 || r.notListening > 0 {
						t.Errorf("%d failed requests across the crash loop, port not listening in %d of %d polls: %v", n, r.notListening, r.samples, r.load)
					}
					if r.gaveUp || r.final == "failed" {
						t.Errorf("the service gave up: %s at the end (Result=%s)", r.final, r.result)
					}
				} else {
					if r.load.kind("refused") == 0 || r.notListening == 0 || !r.gaveUp {
						t.Errorf("with %s: want the start limit hit (%v), the socket closed (%d polls) and connections refused: %v",
							dropIn, r.gaveUp, r.notListening, r.load)
					}
					if j := c.journal(t, socket); !strings.Contains(j, "service-start-limit-hit") {
						t.Errorf("%s did not fail with result service-start-limit-hit:\n%s", socket, j)
					}
				}
			})
		}
	})
}

// checkHardened checks unit with a drop-in applied: `systemd-analyze
// verify` has nothing to say about it and the exposure stays at most
// maxTLSExposure (1.0), as with the TLS drop-ins.
func checkHardened(t *testing.T, c *container, unit, dropIn string) {
	t.Helper()
	if out, err := c.run("systemd-analyze", "verify", "/etc/systemd/system/"+unit); err != nil || strings.Contains(out, "chi-server") {
		t.Errorf("systemd-analyze verify %s with %s: %v\n%s", unit, dropIn, err, out)
	}
	out, err := c.run("systemd-analyze", "security", "--no-pager", unit)
	m := exposureRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security %s: %v, no overall exposure in:\n%s", unit, err, out)
	}
	t.Logf("%s with %s: exposure %s %s", unit, dropIn, m[1], m[2])
	if score, _ := strconv.ParseFloat(m[1], 64); score > maxTLSExposure {
		t.Errorf("%s with %s: exposure %.1f > %.1f", unit, dropIn, score, maxTLSExposure)
	}
}

// checkBackoffReset checks, after the crash loop, the shipped backoff and
// its reset: the loop has grown the next delay to RestartMaxDelaySec=5s;
// once the program has been healthy for crashResetAfter it sends
// RESTART_RESET=1, and systemd >= 258 starts over at RestartSec=100ms with
// NRestarts=0, while 257 keeps the grown delay until a manual start.
func checkBackoffReset(t *testing.T, c *container, su suite, unit string) {
	t.Helper()
	grown := c.show(t, unit, "NRestarts", "RestartUSecNext", "MainPID")
	if grown["RestartUSecNext"] != "5s" {
		t.Errorf("after the crash loop: %v, want RestartUSecNext=5s (RestartMaxDelaySec=)", grown)
	}
	if !waitFor(8*time.Second, func() bool {
		return len(withMessage(fromPID(c.journalJSON(t, unit), grown["MainPID"]), resetMsg)) > 0
	}) {
		t.Fatalf("no %q within 8s of restart_reset_after=%s", resetMsg, crashResetAfter)
	}
	after := c.show(t, unit, "NRestarts", "RestartUSecNext")
	t.Logf("systemd %d: after the crash loop %v, after RESTART_RESET=1 %v", su.systemd, grown, after)
	recordResult("crash-loop", "systemd %d | shipped | after the loop NRestarts=%s RestartUSecNext=%s; healthy for restart_reset_after=%s: NRestarts=%s RestartUSecNext=%s",
		su.systemd, grown["NRestarts"], grown["RestartUSecNext"], crashResetAfter, after["NRestarts"], after["RestartUSecNext"])
	want := map[string]string{"NRestarts": grown["NRestarts"], "RestartUSecNext": "5s"}
	if su.systemd >= restartReset {
		want = map[string]string{"NRestarts": "0", "RestartUSecNext": "100ms"}
	}
	for k, v := range want {
		if after[k] != v {
			t.Errorf("after RESTART_RESET=1 on systemd %d: %s=%s, want %s", su.systemd, k, after[k], v)
		}
	}
}

// crashRun is what the test saw of one crash loop.
type crashRun struct {
	port         int // the service's
	load         *waitingLoad
	samples      int           // `systemctl show` polls during the outage
	storeEmpty   int           // polls with NFileDescriptorStore=0
	notListening int           // polls with nothing listening on the port
	states       []string      // ActiveState/SubState seen, in order, each once
	final        string        // ActiveState at the end of the outage
	result       string        // Result= then (257 keeps exit-code at the start limit, 262 says start-limit-hit)
	results      []string      // Result= seen, in order, each once
	gaveUp       bool          // the manager logged startLimitMsg
	restarts     int           // automatic restarts during the outage (NRestarts)
	back         time.Duration // from the good binary's return to a serving unit
}

func (r crashRun) String() string {
	return fmt.Sprintf("%d restarts in %v, states %s, start limit hit: %v, Result=%s (seen: %s); NFileDescriptorStore=0 in %d of %d polls, port not listening in %d; serving %v after the fix; %v",
		r.restarts, crashOutage, strings.Join(r.states, " > "),
		r.gaveUp, r.result, strings.Join(r.results, ", "), r.storeEmpty, r.samples, r.notListening, r.back.Round(time.Millisecond), r.load)
}

// runCrashLoop installs brokenBinary, restarts unit into it under load, polls
// the unit for crashOutage, puts the example back and waits until the unit
// serves again: by its own next automatic restart, or, once it has given
// up, after `systemctl reset-failed` and `systemctl start`.
func runCrashLoop(t *testing.T, c *container, unit string, port int, greeting string) crashRun {
	t.Helper()
	r := crashRun{port: port}
	l := startWaitingLoad(port, greeting, loadWorkers)
	defer l.finish()
	r.load = l
	time.Sleep(500 * time.Millisecond)

	limitHits := strings.Count(c.journal(t, unit), startLimitMsg)
	c.writeFile(t, "/usr/local/bin/chi-server", []byte(brokenBinary), 0o755)
	// Fails: the start job of the broken binary fails.
	out, err := c.run("systemctl", "restart", unit)
	t.Logf("systemctl restart into the broken binary: %v %s", err, strings.TrimSpace(out))
	s := r.poll(t, c, unit, crashOutage)
	r.final, r.result, r.restarts = s["ActiveState"], s["Result"], atoi(s["NRestarts"])
	j := c.journal(t, unit)
	r.gaveUp = strings.Count(j, startLimitMsg) > limitHits
	if slices.Contains(r.results, "resources") {
		// An attempt that failed before the program ran: say why.
		for _, line := range strings.Split(j, "\n") {
			if strings.Contains(line, "systemd[1]") && !strings.Contains(line, "pids.max") &&
				(strings.Contains(line, "resources") || strings.Contains(line, "Failed to ") && !strings.Contains(line, "Failed to start")) {
				t.Logf("manager: %s", line)
			}
		}
	}

	c.copyFile(t, chiServerBin, "/usr/local/bin/chi-server", 0o755)
	fixed := time.Now()
	if s["ActiveState"] == "failed" {
		c.must(t, "systemctl", "reset-failed") // the unit and a socket unit it took down
		c.must(t, "systemctl", "start", unit)
	}
	if !waitFor(15*time.Second, func() bool {
		s = c.state(t, unit)
		return s["ActiveState"] == "active"
	}) {
		t.Fatalf("not active within 15s of putting the example back: %v", s)
	}
	r.back = time.Since(fixed)
	mustGet(t, port, "/", greeting)
	time.Sleep(time.Second)
	l.finish()
	if l.ok.Load() < 100 {
		t.Errorf("only %d successful requests: the load did not really run", l.ok.Load())
	}
	return r
}

// poll samples the unit and the port every 100ms for d and returns the
// last sample (r.samples counts them).
func (r *crashRun) poll(t *testing.T, c *container, unit string, d time.Duration) map[string]string {
	t.Helper()
	var s map[string]string
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		s = c.show(t, unit, "ActiveState", "SubState", "Result", "NRestarts", "NFileDescriptorStore")
		r.samples++
		if s["NFileDescriptorStore"] == "0" {
			r.storeEmpty++
		}
		if len(listenInodes(r.port)) == 0 {
			r.notListening++
		}
		if st := s["ActiveState"] + "/" + s["SubState"]; !slices.Contains(r.states, st) {
			r.states = append(r.states, st)
		}
		if !slices.Contains(r.results, s["Result"]) {
			r.results = append(r.results, s["Result"])
		}
	}
	return s
}

// waitingLoad is the load of clients that wait: GET / on a new connection
// per request from several goroutines, each request allowed waitTimeout,
// until stopped. A request that does not end in a 200 with the greeting is
// a failure, counted by kind (classify).
type waitingLoad struct {
	url, want string
	started   time.Time

	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       map[string]int
	samples    []string
	maxLat     time.Duration

	stop atomic.Bool
	wg   sync.WaitGroup
}

func startWaitingLoad(port int, want string, workers int) *waitingLoad {
	l := &waitingLoad{
		url:     fmt.Sprintf("http://127.0.0.1:%d/", port),
		want:    want + "\n",
		started: time.Now(),
		errs:    map[string]int{},
	}
	for range workers {
		l.wg.Go(l.worker)
	}
	return l
}

func (l *waitingLoad) worker() {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: waitTimeout}
	for !l.stop.Load() && time.Since(l.started) < maxLoadDuration {
		start := time.Now()
		resp, err := client.Get(l.url)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		lat := time.Since(start)
		l.mu.Lock()
		l.maxLat = max(l.maxLat, lat)
		l.mu.Unlock()
		switch {
		case err != nil:
			l.fail(classify(err), err.Error())
		case resp.StatusCode != http.StatusOK:
			l.fail(fmt.Sprintf("status %d", resp.StatusCode), string(body))
		case string(body) != l.want:
			l.fail("wrong body", fmt.Sprintf("%q", body))
		default:
			l.ok.Add(1)
		}
	}
}

func (l *waitingLoad) fail(kind, detail string) {
	l.failed.Add(1)
	l.mu.Lock()
	l.errs[kind]++
	if len(l.samples) < 3 {
		l.samples = append(l.samples, fmt.Sprintf("+%v %s: %s", time.Since(l.started).Round(time.Millisecond), kind, detail))
	}
	l.mu.Unlock()
	time.Sleep(10 * time.Millisecond) // a refused port must not spin the CPU
}

// finish stops the workers (each completes its current request) and waits.
func (l *waitingLoad) finish() {
	l.stop.Store(true)
	l.wg.Wait()
}

func (l *waitingLoad) kind(k string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errs[k]
}

func (l *waitingLoad) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprintf("%d ok, %d failed, longest request %v", l.ok.Load(), l.failed.Load(), l.maxLat.Round(time.Millisecond))
	if len(l.errs) > 0 {
		var kinds []string
		for k, n := range l.errs {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
		}
		sort.Strings(kinds)
		s += " (" + strings.Join(kinds, ", ") + "; first: " + strings.Join(l.samples, " | ") + ")"
	}
	return s
}

// alertUnit is the OnFailure= unit of TestCrashLoopRestartMode: it counts
// how often the manager reports the service failed.
const (
	alertUnit  = "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo failed >>/run/crash-alerts'\n"
	alertsFile = "/run/crash-alerts"
)

// TestCrashLoopRestartMode: what RestartMode= changes in the shipped crash
// loop. With normal (the default) every failed attempt passes through the
// failed state, so OnFailure= fires while the loop goes on and `systemctl
// restart` returns with the first failed start; with direct the unit goes
// straight back to activating, OnFailure= never fires and `systemctl
// restart` waits for a start that succeeds. The fd store is kept either way.
func TestCrashLoopRestartMode(t *testing.T) {
	forEachSuite(t, restartSteps, 0, func(t *testing.T, su suite) {
		const unit = "chi-server.service"
		c := bootChiServer(t, su.name)
		c.writeFile(t, "/etc/systemd/system/crash-alert.service", []byte(alertUnit), 0o644)
		tests := []struct {
			name   string
			dropIn string
			// failed: each failed attempt passes through the failed state
			// (OnFailure= fires, the restart job fails).
			failed bool
		}{
			{"RestartMode=normal", "[Unit]\nOnFailure=crash-alert.service\n", true},
			{"RestartMode=direct", "[Unit]\nOnFailure=crash-alert.service\n[Service]\nRestartMode=direct\n", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c.run("systemctl", "stop", unit)
				c.must(t, "rm", "-f", alertsFile)
				c.dropIn(t, unit, "e2e-restart-mode.conf", tt.dropIn)
				c.copyFile(t, chiServerBin, "/usr/local/bin/chi-server", 0o755)
				c.must(t, "systemctl", "start", unit)
				mustGet(t, servicePort(), "/", defaultConfig().Greeting)
				c.writeFile(t, "/usr/local/bin/chi-server", []byte(brokenBinary), 0o755)
				// Whether `systemctl restart` comes back while the loop goes on:
				// its job fails with the first failed start (normal), or waits
				// for a start that succeeds (direct). timeout(1) ends only the
				// client; the job stays.
				start := time.Now()
				_, err := c.run("timeout", "3", "systemctl", "restart", unit)
				returned := time.Since(start) < 3*time.Second
				r := crashRun{port: servicePort()}
				s := r.poll(t, c, unit, 5*time.Second)
				out, _ := c.run("cat", alertsFile)
				alerts := strings.Count(out, "failed")
				c.copyFile(t, chiServerBin, "/usr/local/bin/chi-server", 0o755)
				if !waitFor(15*time.Second, func() bool { return c.state(t, unit)["ActiveState"] == "active" }) {
					t.Fatalf("not active within 15s of putting the example back")
				}
				t.Logf("systemd %d, %s: systemctl restart returned within 3s: %v (%v); %s restarts in 5s, OnFailure= fired %d times, states %v, NFileDescriptorStore=0 in %d of %d polls",
					su.systemd, tt.name, returned, err, s["NRestarts"], alerts, r.states, r.storeEmpty, r.samples)
				recordResult("crash-loop", "systemd %d | %s | systemctl restart returned within 3s: %v; %s restarts in 5s, OnFailure= fired %d times, states %s, NFileDescriptorStore=0 in %d of %d polls",
					su.systemd, tt.name, returned, s["NRestarts"], alerts, strings.Join(r.states, " > "), r.storeEmpty, r.samples)
				if atoi(s["NRestarts"]) < 3 {
					t.Fatalf("only %s automatic restarts in 5s: the crash loop did not run", s["NRestarts"])
				}
				if (alerts > 0) != tt.failed {
					t.Errorf("OnFailure= fired %d times, want it to fire: %v", alerts, tt.failed)
				}
				if returned != tt.failed {
					t.Errorf("systemctl restart returned within 3s: %v, want %v", returned, tt.failed)
				}
				if r.storeEmpty > 0 {
					t.Errorf("NFileDescriptorStore=0 in %d of %d polls", r.storeEmpty, r.samples)
				}
			})
		}
	})
}
