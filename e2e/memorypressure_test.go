//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// memoryPressureWatch: MemoryPressureWatch= and $MEMORY_PRESSURE_WATCH
// (systemd 254).
const memoryPressureWatch = 254

const (
	pressureFIFO    = "/run/chi-server-pressure"
	armedMsg        = "sdlife: memory pressure watch armed"
	notArmedMsg     = "sdlife: memory pressure watch not armed"
	releasingMsg    = "sdlife: memory pressure: releasing memory"
	pressureStatus  = "memory pressure"
	pressureLimit   = 5 * time.Second  // Options.MemoryPressureInterval's default
	pressureNoteFor = 10 * time.Second // how long STATUS says so (memorypressure.go)
)

// TestMemoryPressure: with MemoryPressureWatch=auto the manager hands the
// service its cgroup's memory.pressure, and the service arms it (a PSI
// trigger written into cgroupfs) inside the shipped sandbox; through a FIFO
// given as the watch path, an event written by the test makes the service
// release memory, say so in STATUS for a while and in the journal, at most
// once per interval.
func TestMemoryPressure(t *testing.T) {
	forEachSuite(t, memoryPressureWatch, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"

		t.Run("auto", func(t *testing.T) {
			c.dropIn(t, unit, "e2e-pressure.conf", "[Service]\nMemoryPressureWatch=auto\n")
			defer c.run("systemctl", "stop", unit)
			c.must(t, "systemctl", "start", unit)
			mustGet(t, servicePort(), "/", defaultConfig().Greeting)
			s := c.show(t, unit, "MainPID", "MemoryPressureWatch", "MemoryAccounting", "ProtectControlGroups", "ControlGroup")
			t.Logf("systemd %d: %v", su.systemd, s)
			watch, ok := c.environOf(t, s["MainPID"], "MEMORY_PRESSURE_WATCH")
			write, _ := c.environOf(t, s["MainPID"], "MEMORY_PRESSURE_WRITE")
			t.Logf("MEMORY_PRESSURE_WATCH=%q (set: %v) MEMORY_PRESSURE_WRITE=%q", watch, ok, write)
			if out, err := c.run("ls", "-ln", watch); err == nil {
				t.Logf("%s", strings.TrimSpace(out))
			}
			// How the sandbox lets it through: the manager chowns the file to
			// the dynamic user and mounts it read-write into the otherwise
			// read-only /sys/fs/cgroup of ProtectControlGroups=yes.
			if out, err := c.run("nsenter", "-t", s["MainPID"], "-m", "grep", "-E", " /sys/fs/cgroup[ /]", "/proc/self/mountinfo"); err == nil {
				t.Logf("cgroup mounts in the service's namespace:\n%s", strings.TrimSpace(out))
			}
			if want := "/sys/fs/cgroup" + s["ControlGroup"] + "/memory.pressure"; watch != want {
				t.Fatalf("MEMORY_PRESSURE_WATCH=%q, want %q", watch, want)
			}
			es := fromPID(c.journalJSON(t, unit), s["MainPID"])
			if bad := withMessage(es, notArmedMsg); len(bad) > 0 {
				t.Fatalf("the watch was not armed: %v", bad[0])
			}
			armed := withMessage(es, armedMsg)
			if len(armed) != 1 {
				t.Fatalf("want one %q, got %d; journal:\n%s", armedMsg, len(armed), lastLines(es, 20))
			}
			t.Logf("journal: %v", armed[0])
			if armed[0].field("KIND") != "psi" || armed[0].field("PATH") != watch {
				t.Errorf("armed with KIND=%q PATH=%q, want psi %s", armed[0].field("KIND"), armed[0].field("PATH"), watch)
			}
			recordResult("memory-pressure", "systemd %d | MemoryPressureWatch=auto, shipped sandbox (ProtectControlGroups=%s) | %s | armed, kind=%s",
				su.systemd, s["ProtectControlGroups"], watch, armed[0].field("KIND"))
		})

		t.Run("fifo", func(t *testing.T) {
			// MemoryPressureWatch= takes no path: "skip" leaves the two
			// variables to the unit, which names a FIFO the test writes to
			// (the protocol's FIFO form). Mode 0666: the DynamicUser= opens it
			// read-write, and a FIFO may be written on the read-only /run of
			// ProtectSystem=strict.
			c.must(t, "mkfifo", "-m", "0666", pressureFIFO)
			c.dropIn(t, unit, "e2e-pressure.conf",
				"[Service]\nMemoryPressureWatch=skip\nEnvironment=MEMORY_PRESSURE_WATCH="+pressureFIFO+"\n")
			defer c.run("systemctl", "stop", unit)
			c.must(t, "systemctl", "start", unit)
			mustGet(t, servicePort(), "/", defaultConfig().Greeting)
			pid := c.state(t, unit)["MainPID"]
			es := fromPID(c.journalJSON(t, unit), pid)
			armed := withMessage(es, armedMsg)
			if len(armed) != 1 || armed[0].field("KIND") != "fifo" || armed[0].field("PATH") != pressureFIFO {
				t.Fatalf("want the FIFO armed (kind fifo); journal:\n%s", lastLines(es, 20))
			}
			if st := c.state(t, unit)["StatusText"]; strings.Contains(st, pressureStatus) {
				t.Fatalf("StatusText %q before any event", st)
			}

			// Three events in quick succession: one reaction.
			signalled := time.Now()
			for i := 0; i < 3; i++ {
				c.signalPressure(t)
			}
			var seen time.Duration
			if !waitFor(2*time.Second, func() bool {
				seen = time.Since(signalled)
				return strings.Contains(c.state(t, unit)["StatusText"], pressureStatus)
			}) {
				t.Fatalf("StatusText %q does not say %q within 2s of the event", c.state(t, unit)["StatusText"], pressureStatus)
			}
			t.Logf("STATUS says %q %v after the first write", pressureStatus, seen.Round(time.Millisecond))
			// It stays for a while (the note lasts 10 s): sampled until 5 s
			// after the event.
			for time.Since(signalled) < pressureLimit+time.Second {
				if st := c.state(t, unit)["StatusText"]; !strings.Contains(st, pressureStatus) {
					t.Fatalf("StatusText %q lost %q only %v after the event", st, pressureStatus, time.Since(signalled).Round(time.Millisecond))
				}
				time.Sleep(250 * time.Millisecond)
			}
			es = fromPID(c.journalJSON(t, unit), pid)
			reactions := withMessage(es, releasingMsg)
			t.Logf("3 writes in a burst: %d reaction(s): %v", len(reactions), reactions)
			if len(reactions) != 1 {
				t.Fatalf("3 writes within the rate limit gave %d reactions, want 1; journal:\n%s", len(reactions), lastLines(es, 20))
			}
			if p := reactions[0].field("PRIORITY"); p != "4" {
				t.Errorf("reaction logged at PRIORITY %s, want 4 (warning)", p)
			}

			// Past the interval another event is a second reaction.
			c.signalPressure(t)
			if !waitFor(2*time.Second, func() bool {
				return len(withMessage(fromPID(c.journalJSON(t, unit), pid), releasingMsg)) == 2
			}) {
				t.Fatalf("an event %v after the first gave no second reaction", time.Since(signalled).Round(time.Millisecond))
			}
			second := time.Now()
			// The note ends 10 s after the last reaction.
			var cleared time.Duration
			if !waitFor(pressureNoteFor+3*time.Second, func() bool {
				cleared = time.Since(second)
				return !strings.Contains(c.state(t, unit)["StatusText"], pressureStatus)
			}) {
				t.Errorf("StatusText still says %q %v after the last event", pressureStatus, time.Since(second).Round(time.Millisecond))
			}
			if cleared < pressureNoteFor-time.Second {
				t.Errorf("StatusText dropped %q %v after the last event, want about %v", pressureStatus, cleared.Round(time.Millisecond), pressureNoteFor)
			}
			st := c.state(t, unit)
			if st["MainPID"] != pid || st["ActiveState"] != "active" {
				t.Errorf("after the events: %v", st)
			}
			mustGet(t, servicePort(), "/", defaultConfig().Greeting)
			t.Logf("STATUS cleared %v after the last reaction; now %q", cleared.Round(time.Millisecond), st["StatusText"])
			recordResult("memory-pressure", "systemd %d | FIFO watch | STATUS says so %v after the event; 3 writes in a burst: 1 reaction, 1 more after %v: 2; note cleared %v after the last",
				su.systemd, seen.Round(time.Millisecond), second.Sub(signalled).Round(time.Millisecond), cleared.Round(time.Millisecond))
		})
	})
}

// signalPressure writes one event into the pressure FIFO (the service holds
// it open, so the open does not block; timeout guards the case it does not).
func (c *container) signalPressure(t testing.TB) {
	t.Helper()
	c.must(t, "timeout", "5", "sh", "-c", "printf x >"+pressureFIFO)
}
