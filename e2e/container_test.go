//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// container is one booted systemd-nspawn container with its own systemd as
// PID 1. It shares the host's network namespace, so services inside that
// listen on 127.0.0.1:PORT are reachable from the test.
type container struct {
	name    string
	suite   string
	cmd     *exec.Cmd
	pid1    int
	done    chan struct{} // closed when systemd-nspawn exited
	pidFile string
	off     sync.Once
}

var (
	containerSeq atomic.Int64
	liveMu       sync.Mutex
	live         = map[*container]bool{}
)

// consoleNoise is what systemd-nspawn 252 prints on every exit with
// --register=no (it then leaves the directory behind; poweroff removes it).
var consoleNoise = regexp.MustCompile(`(?m)^Attempted to remove disk file system under "/run/systemd/nspawn/propagate/[^"]*", and we can't allow that.\n?`)

// sigRTMin4 is SIGRTMIN+4 as the C library numbers it: systemd powers off on it.
const sigRTMin4 = syscall.Signal(34 + 4)

func rootfsFor(t testing.TB, suite string) string {
	dir := os.Getenv(rootfsEnv(suite))
	if dir == "" {
		dir = filepath.Join(cacheDir, suite)
	}
	if _, err := os.Stat(filepath.Join(dir, "lib/systemd/systemd")); err != nil {
		t.Fatalf("no %s rootfs at %s (build it with: e2e/rootfs.sh %s): %v", suite, dir, suite, err)
	}
	return dir
}

// boot starts a fresh container (volatile overlay: nothing persists) and
// waits until its systemd reports running or degraded. It is always powered
// off when the test ends, whatever the outcome.
func boot(t *testing.T, suite string) *container {
	t.Helper()
	rootfs := rootfsFor(t, suite)
	c := &container{
		name:  fmt.Sprintf("sdlife-e2e-%d-%d", os.Getpid(), containerSeq.Add(1)),
		suite: suite,
		done:  make(chan struct{}),
	}
	console, err := os.Create(filepath.Join(stateDir, c.name+".console"))
	if err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command("systemd-nspawn", "-q", "--register=no", "--keep-unit",
		"--console=pipe", "--volatile=overlay", "-D", rootfs, "-M", c.name,
		// Let the container's systemd load BPF programs, so that IPAddressDeny=
		// and IP accounting are enforced as on a real host.
		"--system-call-filter=bpf",
		"--boot")
	// A pure cgroup v2 tree inside the container even on a host with the
	// hybrid layout: like every current distribution (and required for BPF
	// firewalling). systemd 258 and later refuse cgroup v1 entirely.
	c.cmd.Env = append(os.Environ(), "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
	c.cmd.Stdout, c.cmd.Stderr = console, console // stdin: /dev/null
	cgroupFD, err := makeCgroup(c.name)
	if err != nil {
		console.Close()
		t.Fatalf("the cgroup of %s: %v", c.name, err)
	}
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, UseCgroupFD: true, CgroupFD: cgroupFD}
	err = c.cmd.Start()
	syscall.Close(cgroupFD)
	if err != nil {
		console.Close()
		removeCgroup(c.name)
		t.Fatalf("systemd-nspawn: %v", err)
	}
	go func() {
		c.cmd.Wait()
		console.Close()
		close(c.done)
	}()
	liveMu.Lock()
	live[c] = true
	liveMu.Unlock()
	c.pidFile = filepath.Join(stateDir, c.name+".pid")
	t.Cleanup(func() {
		if t.Failed() && c.pid1 > 0 {
			c.dumpDiagnostics(t)
		}
		c.poweroff(t.Logf)
		if t.Failed() {
			if b, err := os.ReadFile(console.Name()); err == nil && len(consoleNoise.ReplaceAll(b, nil)) > 0 {
				t.Logf("console of %s (last 2 KiB):\n%s", c.name, tail(b, 2048))
			}
		}
		os.Remove(console.Name())
	})

	c.pid1 = c.findPID1(t)
	if cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.pid1)); !strings.Contains(string(cg), "0::/"+c.name+"/") {
		t.Fatalf("%s: PID 1 is not in the container's own cgroup /%s: %s", c.name, c.name, cg)
	}
	os.WriteFile(c.pidFile, []byte(fmt.Sprintf("%d %d\n", c.cmd.Process.Pid, c.pid1)), 0o644)

	start := time.Now()
	var state string
	for time.Since(start) < 90*time.Second {
		out, _ := c.run("systemctl", "is-system-running")
		state = strings.TrimSpace(out)
		if state == "running" || state == "degraded" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	switch state {
	case "running":
	case "degraded":
		out, _ := c.run("systemctl", "--failed", "--no-legend")
		t.Logf("%s booted degraded (continuing): %s", c.name, out)
	default:
		t.Fatalf("%s did not boot within 90s: is-system-running=%q", c.name, state)
	}
	t.Logf("%s (%s) running after %v, PID1 %d", c.name, suite, time.Since(start).Round(time.Millisecond), c.pid1)
	return c
}

// A container gets a cgroup of its own, /<name> in the cgroup v2 hierarchy,
// and systemd-nspawn starts in it. nspawn --keep-unit runs the container in
// a "payload" group beside its own, under the group it was started in: on a
// host where no systemd assigns one per caller (a CI sandbox, where every
// process is in the root group), every container of every concurrent run
// would be in the same /payload, and their systemds would share
// /payload/system.slice/chi-server.service. A container's boot and
// power-off remove the empty groups under /payload, another container's
// too (an empty group made there is gone after one boot of the shared
// layout, kept with this one): a unit's group is empty between its
// creation and the spawn of its process, and a restart that loses it there
// fails with "Failed to spawn executor: No such file or directory" (seen on
// systemd 262, after "bpf-firewall: Attaching egress BPF program to cgroup
// ... failed: No such file or directory").
//
// The hierarchy need not be mounted on the host (a hybrid host has only
// cgroup v1 at /sys/fs/cgroup): withCgroupRoot mounts it in a mount
// namespace of its own, so nothing is left mounted on the host.

// makeCgroup creates the group of container name and returns a directory
// descriptor of it for SysProcAttr.CgroupFD (the caller closes it).
func makeCgroup(name string) (int, error) {
	fd := -1
	err := withCgroupRoot(func(root string) error {
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		var err error
		fd, err = syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != nil {
			syscall.Rmdir(dir)
			return fmt.Errorf("open %s: %w", dir, err)
		}
		return nil
	})
	return fd, err
}

// removeCgroup removes the group of container name and the groups its
// systemd left in it, deepest first. Call it once the container is off.
func removeCgroup(name string) error {
	return withCgroupRoot(func(root string) error {
		var dirs []string
		err := filepath.WalkDir(filepath.Join(root, name), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		for i := len(dirs) - 1; i >= 0; i-- {
			if rmErr := syscall.Rmdir(dirs[i]); rmErr != nil && err == nil {
				err = fmt.Errorf("removing cgroup %s: %w", strings.TrimPrefix(dirs[i], root), rmErr)
			}
		}
		return err
	})
}

// withCgroupRoot runs f with the cgroup v2 hierarchy mounted at root, in a
// mount namespace private to one OS thread, which ends with f.
func withCgroupRoot(f func(root string) error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, with its mount namespace, exits with
		// this goroutine.
		runtime.LockOSThread()
		errc <- func() error {
			if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("private mounts: %w", err)
			}
			root, err := os.MkdirTemp("", "sdlife-e2e-cgroup-")
			if err != nil {
				return err
			}
			defer os.Remove(root)
			if err := syscall.Mount("cgroup2", root, "cgroup2", 0, ""); err != nil {
				return fmt.Errorf("mount cgroup2: %w", err)
			}
			defer syscall.Unmount(root, syscall.MNT_DETACH)
			return f(root)
		}()
	}()
	return <-errc
}

// findPID1 returns the container's PID 1 as seen from the host: the child of
// the systemd-nspawn process that runs systemd.
func (c *container) findPID1(t *testing.T) int {
	nspawn := c.cmd.Process.Pid
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			t.Fatalf("systemd-nspawn exited during boot (see console log)")
		default:
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", nspawn, nspawn))
		for _, f := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(f)
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if strings.TrimSpace(string(comm)) == "systemd" {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no systemd child of systemd-nspawn %d after 30s", nspawn)
	return 0
}

// poweroff asks the container's systemd to power off, waits for nspawn to
// exit, and kills it if that takes too long. Safe to call more than once.
func (c *container) poweroff(logf func(string, ...any)) {
	c.off.Do(func() {
		defer func() {
			liveMu.Lock()
			delete(live, c)
			liveMu.Unlock()
			os.Remove(c.pidFile)
			// nspawn --register=no leaves this mount-propagation dir behind.
			os.RemoveAll(filepath.Join("/run/systemd/nspawn/propagate", c.name))
			if err := removeCgroup(c.name); err != nil {
				logf("%s: %v", c.name, err)
			}
		}()
		if c.pid1 > 0 {
			syscall.Kill(c.pid1, sigRTMin4)
		} else {
			c.cmd.Process.Signal(syscall.SIGTERM) // nspawn itself: no PID 1 yet
		}
		select {
		case <-c.done:
			return
		case <-time.After(45 * time.Second):
		}
		logf("%s: no clean poweroff within 45s, killing it", c.name)
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		if c.pid1 > 0 {
			syscall.Kill(c.pid1, syscall.SIGKILL)
		}
		select {
		case <-c.done:
		case <-time.After(15 * time.Second):
			logf("%s: systemd-nspawn %d still alive after SIGKILL", c.name, c.cmd.Process.Pid)
		}
	})
}

func poweroffAll() {
	liveMu.Lock()
	cs := make([]*container, 0, len(live))
	for c := range live {
		cs = append(cs, c)
	}
	liveMu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.poweroff(func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
		}()
	}
	wg.Wait()
}

// run executes a command inside the container (all its namespaces).
func (c *container) run(args ...string) (string, error) {
	return c.runInput(nil, args...)
}

func (c *container) runInput(stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(c.pid1), "-a", "--"}, args...)...)
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", "SYSTEMD_LOG_COLOR=0",
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// must runs a command in the container and fails the test if it fails.
func (c *container) must(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.run(args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// writeFile creates path inside the container (through its own mount
// namespace, so no symlink in the rootfs can point outside of it).
func (c *container) writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	script := `set -e; mkdir -p "$(dirname "$1")"; cat >"$1.e2e-tmp"; chmod "$2" "$1.e2e-tmp"; mv -f "$1.e2e-tmp" "$1"`
	if out, err := c.runInput(data, "sh", "-c", script, "sh", path, fmt.Sprintf("%o", mode)); err != nil {
		t.Fatalf("writing %s in container: %v\n%s", path, err, out)
	}
}

func (c *container) copyFile(t testing.TB, hostPath, path string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(hostPath)
	if err != nil {
		t.Fatal(err)
	}
	c.writeFile(t, path, b, mode)
}

// show returns unit properties as systemd reports them.
func (c *container) show(t testing.TB, unit string, props ...string) map[string]string {
	t.Helper()
	args := []string{"systemctl", "show", unit}
	for _, p := range props {
		args = append(args, "-p", p)
	}
	out := c.must(t, args...)
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// state is the usual snapshot asserted on.
func (c *container) state(t testing.TB, unit string) map[string]string {
	t.Helper()
	return c.show(t, unit, "ActiveState", "SubState", "Result", "StatusText",
		"NRestarts", "NFileDescriptorStore", "MainPID")
}

// settledState is state once the manager has finished what it was doing
// with the unit: it polls (bounded by timeout) while ActiveState is a
// transition (activating, deactivating, reloading, refreshing) and returns
// the first snapshot that is not, or the last one at the timeout. It stands
// for the manager's own notion of "done" where the test has no job to wait
// on: a socket-activated start is the manager's job, not the test's, and a
// request answered by the service proves that it accepts, not that PID 1
// has processed its READY=1 yet.
func (c *container) settledState(t testing.TB, unit string, timeout time.Duration) map[string]string {
	t.Helper()
	var s map[string]string
	waitFor(timeout, func() bool {
		s = c.state(t, unit)
		switch s["ActiveState"] {
		case "activating", "deactivating", "reloading", "refreshing":
			return false
		}
		return true
	})
	return s
}

// journal returns the unit's journal (messages of systemd about it and of
// the service itself), as plain message lines.
func (c *container) journal(t testing.TB, unit string) string {
	t.Helper()
	c.run("journalctl", "--sync")
	return c.must(t, "journalctl", "-u", unit, "--no-pager", "-o", "short-monotonic")
}

// journalVerbose is journal with every field of every entry (`-o verbose`):
// what a service logging journal-native puts in fields of its own.
func (c *container) journalVerbose(t testing.TB, unit string) string {
	t.Helper()
	c.run("journalctl", "--sync")
	return c.must(t, "journalctl", "-u", unit, "--no-pager", "-o", "verbose")
}

func (c *container) dumpDiagnostics(t *testing.T) {
	out, _ := c.run("systemctl", "list-units", "--all", "--no-legend", "--no-pager", "chi-server*", "naive*")
	t.Logf("units in %s:\n%s", c.name, out)
	out, _ = c.run("journalctl", "--no-pager", "-n", "80", "-o", "short-monotonic",
		"-u", "chi-server*", "-u", "naive*")
	t.Logf("journal of %s (last 80 lines):\n%s", c.name, out)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
