//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// preserveDropIn is the shipped drop-in deploy/units/preserve/
// fdstore-preserve.conf ("Stop and start without refusals" in
// deploy/units/README.md) that keeps chi-server.service's fd store while
// stopped.
var preserveDropIn = mustRead(filepath.Join(unitsDir, "preserve", "fdstore-preserve.conf"))

const stopStartCycles = 5

// TestStopStart: `systemctl stop` followed by `systemctl start` (a package
// upgrade that replaces the binary in between) under load. With the fd store
// preserved (FileDescriptorStorePreserve=yes) the listening socket stays open
// while the unit is stopped, clients wait in its backlog and none is
// refused; `systemctl clean --what=fdstore` releases it. As shipped
// (FileDescriptorStorePreserve=restart) a stop closes the socket and frees
// the port, so connection attempts between stop and start are refused: the
// documented contrast.
func TestStopStart(t *testing.T) {
	forEachSuite(t, fdStorePreserve, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		dropIn := "/etc/systemd/system/" + unit + ".d/e2e-preserve.conf"
		c.allowRapidRestarts(t, unit)
		// Enabled, as deploy/units/README.md installs it. Before systemd 258
		// (at least on 257) an unreferenced inactive unit is unloaded at
		// once, and with it a preserved store; the enablement (a Wants= from
		// multi-user.target) keeps the unit loaded. 262 pins a unit with a
		// preserved store by itself.
		c.must(t, "systemctl", "enable", unit)
		tests := []struct {
			name     string
			preserve bool // with the drop-in
		}{
			{"preserve=yes", true},
			{"preserve=restart (shipped)", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// A fresh store for each case: the previous one may have left one.
				c.run("systemctl", "stop", unit)
				c.must(t, "systemctl", "clean", "--what=fdstore", unit)
				if tt.preserve {
					c.writeFile(t, dropIn, preserveDropIn, 0o644)
				} else {
					c.must(t, "rm", "-f", dropIn)
				}
				c.must(t, "systemctl", "daemon-reload")
				want := "restart"
				if tt.preserve {
					want = "yes"
				}
				if got := c.show(t, unit, "FileDescriptorStorePreserve")["FileDescriptorStorePreserve"]; got != want {
					t.Fatalf("FileDescriptorStorePreserve=%s, want %s", got, want)
				}
				c.must(t, "systemctl", "start", unit)
				mustGet(t, servicePort(), "/", defaultConfig().Greeting)
				inodes := listenInodes(servicePort())
				for _, keepAlive := range []bool{false, true} {
					t.Run(modeName(keepAlive), func(t *testing.T) {
						l, st := stopStartUnderLoad(t, c, unit, keepAlive)
						refused := l.kind("refused")
						t.Logf("%d x stop+start: %v", stopStartCycles, l)
						recordResult("stop-start", "systemd %d | %s | %s | %d of %d failed (%d refused)",
							su.systemd, tt.name, modeName(keepAlive), l.failed.Load(), l.ok.Load()+l.failed.Load(), refused)
						if tt.preserve {
							if l.failed.Load() != 0 {
								t.Errorf("%d failed requests across %d stop+start with the store preserved: %v", l.failed.Load(), stopStartCycles, l)
							}
							if st.fdStore < 1 || !st.listening {
								t.Errorf("while stopped: want the store kept and the port listening, got %+v", st)
							}
						} else {
							if refused == 0 {
								t.Errorf("no refused connection across %d stop+start without the preserved store (the contrast does not show): %v", stopStartCycles, l)
							}
							if st.fdStore != 0 || st.listening {
								t.Errorf("while stopped: want the store dropped and the port free, got %+v", st)
							}
						}
					})
				}
				now := listenInodes(servicePort())
				if tt.preserve && !slices.Equal(now, inodes) {
					t.Errorf("listening socket changed across stop+start with the store preserved (inodes %v -> %v)", inodes, now)
				}
				if !tt.preserve && slices.Equal(now, inodes) {
					t.Errorf("listening socket %v survived stop+start without the preserved store", now)
				}
				// The release path of the preserved store: stop, then clean.
				c.must(t, "systemctl", "stop", unit)
				c.must(t, "systemctl", "clean", "--what=fdstore", unit)
				if s := c.state(t, unit); s["NFileDescriptorStore"] != "0" || len(listenInodes(servicePort())) != 0 {
					t.Errorf("after stop and clean --what=fdstore: port %d listening %v, %v", servicePort(), listenInodes(servicePort()), s)
				}
			})
		}
		// What an uninstall (disable --now, unit file removed) leaves behind
		// with the store preserved: systemd 262 documents that the store
		// pins the unit, 257 unloads an unreferenced inactive unit.
		t.Run("preserve=yes/uninstalled", func(t *testing.T) {
			c.writeFile(t, dropIn, preserveDropIn, 0o644)
			c.must(t, "systemctl", "daemon-reload")
			c.must(t, "systemctl", "start", unit)
			mustGet(t, servicePort(), "/", defaultConfig().Greeting)
			c.must(t, "systemctl", "disable", "--now", unit)
			c.must(t, "rm", "-rf", "/etc/systemd/system/"+unit, "/etc/systemd/system/"+unit+".d")
			c.must(t, "systemctl", "daemon-reload")
			s := c.show(t, unit, "LoadState", "ActiveState", "NFileDescriptorStore")
			listening := len(listenInodes(servicePort())) > 0
			t.Logf("systemd %d, uninstalled: %v, port listening: %v", su.systemd, s, listening)
			recordResult("stop-start", "systemd %d | preserve=yes, after disable --now and removing the unit file | %v, port listening: %v",
				su.systemd, s, listening)
			if pins := su.systemd >= fdStorePinsUnit; listening != pins {
				t.Errorf("systemd %d: port listening after the uninstall = %v, want %v", su.systemd, listening, pins)
			}
			if listening {
				// The store outlives the unit file, and `clean` needs a loaded
				// unit: only the unit file back (or a reboot) frees the port.
				out, err := c.run("systemctl", "clean", "--what=fdstore", unit)
				t.Logf("clean --what=fdstore of the removed unit: %v %s", err, strings.TrimSpace(out))
				c.copyFile(t, filepath.Join(unitsDir, unit), "/etc/systemd/system/"+unit, 0o644)
				c.must(t, "systemctl", "daemon-reload")
				c.must(t, "systemctl", "clean", "--what=fdstore", unit)
				if now := listenInodes(servicePort()); len(now) != 0 {
					t.Errorf("port still listening after the unit file was put back and its store cleaned: %v", now)
				}
			}
		})
	})
}

// fdStorePinsUnit: from this systemd on (somewhere in 258..262; 257 does
// not, 262 does) a store kept by FileDescriptorStorePreserve=yes keeps its
// unit loaded even when nothing else references it.
const fdStorePinsUnit = 262

// stopped is what the test saw of the unit between a stop and the start.
type stopped struct {
	activeState string
	fdStore     int  // NFileDescriptorStore
	listening   bool // something listens on the service port
}

// stopStartUnderLoad runs stopStartCycles `systemctl stop` + `systemctl
// start` of unit during a load on the service port, and returns the load and
// what the unit looked like after the first stop.
func stopStartUnderLoad(t *testing.T, c *container, unit string, keepAlive bool) (*load, stopped) {
	t.Helper()
	pids := []string{c.state(t, unit)["MainPID"]}
	l := startLoad(servicePort(), defaultConfig().Greeting, loadWorkers, keepAlive)
	defer l.finish()
	time.Sleep(500 * time.Millisecond)
	var st stopped
	for i := 0; i < stopStartCycles; i++ {
		if out, err := c.run("systemctl", "stop", unit); err != nil {
			t.Fatalf("stop %d: %v\n%s", i+1, err, out)
		}
		if i == 0 {
			s := c.state(t, unit)
			st = stopped{s["ActiveState"], atoi(s["NFileDescriptorStore"]), len(listenInodes(servicePort())) > 0}
			if st.activeState != "inactive" {
				t.Errorf("after stop %d: %v", i+1, s)
			}
		}
		if out, err := c.run("systemctl", "start", unit); err != nil {
			t.Fatalf("start %d: %v\n%s", i+1, err, out)
		}
		pid := c.state(t, unit)["MainPID"]
		if slices.Contains(pids, pid) || pid == "0" {
			t.Fatalf("start %d: MainPID %s is not a new process (had %v)", i+1, pid, pids)
		}
		pids = append(pids, pid)
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	l.finish()
	if l.ok.Load() < 1000 {
		t.Errorf("only %d successful requests: the load did not really run", l.ok.Load())
	}
	return l, st
}

// kind returns how many failures of one kind (see classify) the load saw.
func (l *load) kind(k string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errs[k]
}

// mustRead reads a file of the repository at package initialisation; the
// tests cannot run without it.
func mustRead(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return b
}
