//go:build linux

package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/lifecycle"
)

// runChild is the new process of an upgrade, as the tests start it: the
// test binary itself, told by $UPGRADE_TEST_CHILD what to do. It returns
// the exit status.
func runChild(mode string) int {
	if mode == "spoof" {
		// Not a new process: another process that tries to talk
		// through a new process's relay.
		n, err := lifecycle.NewNotifier(lifecycle.Environment{NotifySocket: os.Getenv("UPGRADE_TEST_SPOOF_ADDR")})
		if err != nil {
			return 20
		}
		defer n.Close()
		if _, err := n.Notify("X_SPOOF=1"); err != nil {
			return 21
		}
		return 0
	}
	env := lifecycle.ReadEnvironment()
	self := strconv.Itoa(os.Getpid())
	// What the hand-over looked like, before TakeFiles unsets it.
	report := fmt.Sprintf("X_LISTEN_PID_OK=%t\nX_WATCHDOG_PID_OK=%t\nX_FDNAMES=%s\nX_NOTIFY_SOCKET_UNSET=%t",
		env.ListenPID == self, env.WatchdogPID == self, env.ListenFDNames, env.NotifySocket == "")
	files, err := lifecycle.TakeFiles(env)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 10
	}
	defer files.Close()
	j, err := Join(env, files)
	if err != nil || j == nil {
		fmt.Fprintln(os.Stderr, "child: join:", j, err)
		return 11
	}
	defer j.Close()
	n, err := lifecycle.NewNotifier(j.Environment())
	if err != nil {
		return 12
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	switch mode {
	case "exit1":
		n.Status("start failed: config /etc/x.json: unknown field \"listn\"")
		n.Errno(unix.EINVAL)
		n.Stopping()
		return 1
	case "sigsys", "sigsegv", "sigkill":
		n.Status("loading")
		n.Barrier(ctx) // the status reached the old process
		die(map[string]unix.Signal{"sigsys": unix.SIGSYS, "sigsegv": unix.SIGSEGV, "sigkill": unix.SIGKILL}[mode])
		return 13
	case "hang":
		n.Status("warming cache")
		time.Sleep(time.Hour)
		return 14
	case "extend":
		n.ExtendTimeout(5 * time.Second)
		time.Sleep(1500 * time.Millisecond)
		n.Ready()
		time.Sleep(time.Hour) // stopped by the test
		return 15
	case "orphan":
		n.Ready()
		if err := j.Wait(ctx); errors.Is(err, ErrAbandoned) {
			return 3
		}
		return 16
	case "ready":
	default:
		return 17
	}

	n.Status("warming up")
	n.Ready()
	n.Status("adopting") // reaches the manager after the adoption
	if err := j.Wait(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child: wait:", err)
		return 3
	}
	if _, err := n.Notify(report + "\nX_ADOPTED=1"); err != nil {
		return 18
	}
	// Serve the idle connection, then one fresh connection on the
	// listener, and say who served them.
	idle, err := files.File("http-conn-1")
	if err != nil {
		return 19
	}
	fmt.Fprintf(idle, "idle served by %d\n", os.Getpid())
	idle.Close()
	l, err := files.Listener("http")
	if err != nil {
		return 22
	}
	defer l.Close()
	c, err := l.Accept()
	if err != nil {
		return 23
	}
	fmt.Fprintf(c, "served by %d\n", os.Getpid())
	c.Close()
	return 0
}

// die kills the process with sig under the signal's default action, as the
// kernel does for a seccomp filter's SECCOMP_RET_KILL (SIGSYS) or a bad
// pointer (SIGSEGV). The Go runtime handles both itself otherwise, and
// exits with status 2.
func die(sig unix.Signal) {
	unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}) // no core file
	var act [4]uint64                                // struct sigaction, zero: SIG_DFL
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	unix.Kill(os.Getpid(), sig)
	time.Sleep(time.Minute)
}
