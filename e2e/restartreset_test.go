//go:build e2e

package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// restartSteps: RestartSteps= and RestartMaxDelaySec= (systemd 254).
	restartSteps = 254
	// restartReset: RESTART_RESET=1 (systemd 258); older managers ignore it.
	restartReset = 258
)

// The backoff of the drop-in below: the n-th automatic restart (n from 0)
// waits 200ms * 25^(n/5), capped at 5 s: 200ms, 381ms, 725ms, 1.38s, 2.63s, 5s.
const stepsDropIn = "[Service]\nRestart=on-failure\nRestartSec=200ms\nRestartSteps=5\nRestartMaxDelaySec=5s\n"

const (
	crashLoop  = 4 // crashes before the healthy spell: the next delay has grown to 2.63s
	initialGap = 200 * time.Millisecond
	grownGap   = 2626 * time.Millisecond // after crashLoop restarts
	resetMsg   = "sdlife: healthy long enough: restart counter reset"
)

// resetConfig is the example's config with restart_reset_after.
type resetConfig struct {
	chiConfig
	RestartResetAfter string `json:"restart_reset_after"`
}

// TestRestartReset: a unit with RestartSteps= backoff crashes (SIGKILL) a
// few times, so that the manager's restart delay grows; then it runs
// healthy past restart_reset_after, the service sends RESTART_RESET=1, and
// the next crash is restarted after the initial delay again (systemd >=
// 258). With restart_reset_after too long to pass, or on a manager that
// ignores RESTART_RESET=1 (257), the next crash waits the grown delay.
func TestRestartReset(t *testing.T) {
	forEachSuite(t, restartSteps, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.allowRapidRestarts(t, unit)
		c.dropIn(t, unit, "e2e-steps.conf", stepsDropIn)
		tests := []struct {
			name      string
			after     string // restart_reset_after
			wantReset bool   // the final crash restarts after the initial delay
		}{
			{"restart_reset_after=2s", "2s", su.systemd >= restartReset},
			{"restart_reset_after=1h", "1h", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c.run("systemctl", "stop", unit)
				c.writeJSONConfig(t, resetConfig{defaultConfig(), tt.after})
				c.must(t, "systemctl", "start", unit) // a manual start: NRestarts 0
				pid := c.state(t, unit)["MainPID"]
				var next []string // RestartUSecNext before each crash
				for i := 0; i < crashLoop; i++ {
					next = append(next, c.show(t, unit, "RestartUSecNext")["RestartUSecNext"])
					pid = c.crash(t, unit, pid)
				}
				// A healthy spell: RESTART_RESET=1 goes out after 2s of passing
				// health checks (at the next round: WatchdogSec=5s pings every
				// 2.5s); with 1h it never does. Either way wait as long.
				spell := time.Now()
				sent := waitFor(8*time.Second, func() bool {
					return len(withMessage(fromPID(c.journalJSON(t, unit), pid), resetMsg)) > 0
				})
				healthy := time.Since(spell)
				if sent != (tt.after == "2s") {
					t.Fatalf("%q logged after %v of health: %v, want %v", resetMsg, healthy.Round(time.Millisecond), sent, tt.after == "2s")
				}
				before := c.show(t, unit, "NRestarts", "RestartUSecNext")
				next = append(next, before["RestartUSecNext"])
				c.crash(t, unit, pid)

				delays := restartDelays(t, c, unit)
				if len(delays) < crashLoop+1 {
					t.Fatalf("found %d restart delays in the journal, want %d", len(delays), crashLoop+1)
				}
				delays = delays[len(delays)-crashLoop-1:] // this case's
				t.Logf("systemd %d, %s: delays %v (RestartUSecNext before each crash %v); after %v healthy (reset logged: %v) NRestarts=%s",
					su.systemd, tt.name, delays, next, healthy.Round(time.Millisecond), sent, before["NRestarts"])
				recordResult("restart-reset", "systemd %d | %s | crash-loop delays %v | after the healthy spell: NRestarts=%s RestartUSecNext=%s, delay %v",
					su.systemd, tt.name, delays[:crashLoop], before["NRestarts"], before["RestartUSecNext"], delays[crashLoop])

				// The backoff really grows over the crash loop.
				for i := 1; i < crashLoop; i++ {
					if delays[i] <= delays[i-1] {
						t.Errorf("restart delay %d (%v) did not grow over %d (%v)", i+1, delays[i], i, delays[i-1])
					}
				}
				if delays[0] > grownGap/2 || delays[crashLoop-1] < time.Second {
					t.Errorf("crash-loop delays %v: want about 200ms growing to about 1.4s", delays[:crashLoop])
				}
				// The manager's own figure for the next delay (exact), and the
				// delay measured in its journal (with its scheduling slack).
				final := delays[crashLoop]
				nextGap, err := time.ParseDuration(before["RestartUSecNext"])
				if err != nil {
					t.Fatalf("RestartUSecNext=%q: %v", before["RestartUSecNext"], err)
				}
				if tt.wantReset {
					if nextGap != initialGap || final > grownGap/2 {
						t.Errorf("after RESTART_RESET=1: RestartUSecNext=%v, the crash was restarted after %v, want the initial ~%v", nextGap, final, initialGap)
					}
					if before["NRestarts"] != "0" {
						t.Errorf("NRestarts=%s after RESTART_RESET=1, want 0", before["NRestarts"])
					}
				} else if nextGap < grownGap-time.Millisecond || final < grownGap*3/4 {
					t.Errorf("without a reset: RestartUSecNext=%v, the crash was restarted after %v, want the grown ~%v", nextGap, final, grownGap)
				}
			})
		}
	})
}

// crash kills the main process with SIGKILL and waits for the manager's
// automatic restart to make a new one active; it returns the new MainPID.
func (c *container) crash(t *testing.T, unit, pid string) string {
	t.Helper()
	c.must(t, "systemctl", "kill", "--kill-whom=main", "-s", "SIGKILL", unit)
	var s map[string]string
	if !waitFor(15*time.Second, func() bool {
		s = c.state(t, unit)
		return s["MainPID"] != pid && s["MainPID"] != "0" && s["ActiveState"] == "active"
	}) {
		t.Fatalf("no new active main process within 15s of killing %s: %v", pid, s)
	}
	return s["MainPID"]
}

// restartDelays returns, for every SIGKILL of the main process in the
// unit's journal, the manager's time from noticing the exit to scheduling
// the restart job: the RestartSec= delay it applied, by its own clock.
func restartDelays(t *testing.T, c *container, unit string) []time.Duration {
	t.Helper()
	var (
		delays []time.Duration
		exited uint64
	)
	for _, e := range c.journalJSON(t, unit) {
		msg := e.field("MESSAGE")
		mono, err := strconv.ParseUint(e.field("__MONOTONIC_TIMESTAMP"), 10, 64)
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(msg, "Main process exited, code=killed"):
			exited = mono
		case strings.Contains(msg, "Scheduled restart job") && exited != 0:
			delays = append(delays, (time.Duration(mono-exited) * time.Microsecond).Round(time.Millisecond))
			exited = 0
		}
	}
	return delays
}
