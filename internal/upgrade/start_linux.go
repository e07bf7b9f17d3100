//go:build linux

package upgrade

import (
	"context"
	"errors"
	"fmt"
	"github.com/sdlife/sdlife/internal/sdwire"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/lifecycle"
)

// shell starts the new binary: it sets LISTEN_PID (and WATCHDOG_PID) to
// its own PID, which exec keeps, before it replaces itself with the binary.
// os/exec cannot know the child's PID before the exec, and the variables
// must equal the receiving process's PID or sd_listen_fds(3) and
// sd_watchdog_enabled(3) ignore them. Any implementation of the protocol
// in the new binary then sees ordinary socket activation.
const shell = "/bin/sh"

const (
	script         = `export LISTEN_PID=$$; exec "$0" "$@"`
	scriptWatchdog = `export LISTEN_PID=$$ WATCHDOG_PID=$$; exec "$0" "$@"`
)

// msgAdopted is what the old process sends on the private channel once
// PID 1 has been told that the new process is the main process.
const msgAdopted = "X_SDLIFE_ADOPTED=1"

// Child is a new process started by Start that became ready. Exactly one
// of HandOver and Stop must follow.
type Child struct {
	pid   int
	path  string
	grace time.Duration
	pidfd *os.File      // nil where pidfd_open is not available
	conn  *net.UnixConn // the old process's end of the private channel

	status string // the last STATUS= text

	mu   sync.Mutex
	done bool // HandOver or Stop ran
}

// Start starts the binary at cfg.Path beside the running process, hands
// it cfg.Files, and waits until it reports READY=1 on the private channel.
//
// It returns the ready Child, or an *Error once the new process has been
// stopped and reaped: when the binary is missing or not executable, when
// it exits or is killed before READY=1 (the Error quotes its last STATUS=
// text), when cfg.Timeout passes first, or when ctx is done. The old
// process's own files, listener and connections are untouched either
// way: cfg.Files are duplicated for the child.
//
// Start blocks; the caller keeps serving from other goroutines. It does
// not send anything to the service manager: forwarding the new process's
// progress (cfg.OnExtend) and reporting the result are the caller's.
func Start(ctx context.Context, cfg Config) (*Child, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if _, err := checkBinary(cfg.Path); err != nil {
		return nil, err
	}
	timeout := cmp(cfg.Timeout, DefaultTimeout)
	c := &Child{path: cfg.Path, grace: cmp(cfg.KillGrace, DefaultKillGrace)}
	if err := c.start(cfg); err != nil {
		return nil, err
	}
	return c, c.waitReady(ctx, timeout, cfg.OnExtend)
}

func cmp(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// start creates the private channel and the process.
func (c *Child) start(cfg Config) error {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return &Error{Why: fmt.Sprintf("cannot create the upgrade channel: %v", err), Err: err}
	}
	parentEnd, childEnd := pair[0], pair[1]
	defer unix.Close(childEnd)

	// The new process gets duplicates made here; the caller's files stay
	// as they are. The duplicates are close-on-exec, so only this child
	// inherits them (through the dup2 onto 3, 4, ... in the fork).
	fds := make([]uintptr, 0, 3+len(cfg.Files)+1)
	fds = append(fds, 0, 1, 2)
	names := make([]string, 0, len(cfg.Files)+1)
	defer func() {
		for _, fd := range fds[3:] {
			if int(fd) != childEnd {
				unix.Close(int(fd))
			}
		}
	}()
	for _, f := range cfg.Files {
		fd, err := dupFile(f.File)
		if err != nil {
			unix.Close(parentEnd)
			return &Error{Why: fmt.Sprintf("cannot pass descriptor %q: %v", f.Name, err), Err: err}
		}
		fds = append(fds, uintptr(fd))
		names = append(names, f.Name)
	}
	fds = append(fds, uintptr(childEnd))
	names = append(names, ChannelName)

	watchdog := cfg.Manager.WatchdogUSec != "" &&
		(cfg.Manager.WatchdogPID == "" || cfg.Manager.WatchdogPID == strconv.Itoa(cfg.Manager.PID))
	sc := script
	if watchdog {
		sc = scriptWatchdog
	}
	base := cfg.Environ
	if base == nil {
		base = os.Environ()
	}
	argv := append([]string{shell, "-c", sc, cfg.Path}, cfg.Args...)
	pid, _, err := syscall.StartProcess(shell, argv, &syscall.ProcAttr{
		Env:   childEnviron(base, cfg.Manager, names, watchdog),
		Files: fds,
	})
	if err != nil {
		unix.Close(parentEnd)
		return &Error{Why: fmt.Sprintf("cannot start %s: %v", cfg.Path, err), Err: err}
	}
	c.pid = pid

	// The child is not reaped before Stop, so its PID cannot be reused
	// and pidfd_open names it for sure. Without pidfds (a kernel before
	// 5.3, a seccomp filter) the hand-over uses MAINPID= alone.
	if pidfd, err := unix.PidfdOpen(pid, 0); err == nil {
		c.pidfd = os.NewFile(uintptr(pidfd), "pidfd")
	}
	f := os.NewFile(uintptr(parentEnd), ChannelName)
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		c.stop()
		return &Error{Why: fmt.Sprintf("cannot use the upgrade channel: %v", err), PID: pid, Err: err}
	}
	c.conn = conn.(*net.UnixConn)
	return nil
}

// dupFile duplicates f's descriptor, close-on-exec, without (*os.File).Fd,
// which would put the open file (shared with the caller's listener) into
// blocking mode.
func dupFile(f *os.File) (int, error) {
	if f == nil {
		return -1, errors.New("nil file")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(raw uintptr) {
		fd, dupErr = unix.FcntlInt(raw, unix.F_DUPFD_CLOEXEC, 3)
	}); err != nil {
		return -1, err
	}
	return fd, dupErr
}

// childEnviron is base without the variables of the hand-over, plus the
// new process's: LISTEN_FDS and LISTEN_FDNAMES (LISTEN_PID and WATCHDOG_PID
// come from the shell), WATCHDOG_USEC when the watchdog is this process's,
// and the manager's socket under envNotifySocket instead of NOTIFY_SOCKET,
// so that only Join's relay can reach the manager before the adoption.
func childEnviron(base []string, m lifecycle.Environment, names []string, watchdog bool) []string {
	drop := [...]string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET",
		"WATCHDOG_PID", "WATCHDOG_USEC", envNotifySocket}
	env := make([]string, 0, len(base)+4)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, d := range drop {
			keep = keep && k != d
		}
		if keep {
			env = append(env, kv)
		}
	}
	env = append(env,
		"LISTEN_FDS="+strconv.Itoa(len(names)),
		"LISTEN_FDNAMES="+strings.Join(names, ":"),
		envNotifySocket+"="+m.NotifySocket)
	if watchdog {
		env = append(env, "WATCHDOG_USEC="+m.WatchdogUSec)
	}
	return env
}

// waitReady reads the child's notifications until READY=1, its exit, the
// timeout or ctx. On failure the child is stopped and reaped.
func (c *Child) waitReady(ctx context.Context, timeout time.Duration, onExtend func(time.Duration)) error {
	notices := make(chan notice)
	readErr := make(chan error, 1)
	quit := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, sdwire.MaxMessageSize+1)
		for {
			n, err := c.conn.Read(buf)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case notices <- parseNotice(buf[:n]):
			case <-quit:
				return
			}
		}
	}()
	stopReader := func() {
		close(quit)
		c.conn.SetReadDeadline(time.Now())
		<-readerDone
		c.conn.SetReadDeadline(time.Time{})
	}

	deadline := time.Now().Add(timeout)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case n := <-notices:
			if n.hasState {
				c.status = n.status
			}
			if n.extend > 0 {
				if d := time.Now().Add(n.extend); d.After(deadline) {
					deadline = d
					timer.Reset(time.Until(deadline))
				}
				if onExtend != nil {
					onExtend(n.extend)
				}
			}
			if n.ready {
				stopReader()
				return nil
			}
		case err := <-readErr:
			<-readerDone
			// End of the channel: the new process exited, or closed its
			// end, which it does only on its way out. Give it the grace
			// period to finish on its own, so that its own exit status
			// is what the operator reads.
			ws, werr := c.reap(c.grace)
			why := c.path + " " + describeExit(ws, werr)
			if !errors.Is(err, os.ErrClosed) && !isEOF(err) {
				why += fmt.Sprintf(" (upgrade channel: %v)", err)
			}
			return c.fail(why, nil)
		case <-timer.C:
			stopReader()
			c.stop()
			return c.fail(fmt.Sprintf("%s did not report READY=1 within %v", c.path, timeout.Round(time.Millisecond)), context.DeadlineExceeded)
		case <-ctx.Done():
			stopReader()
			c.stop()
			return c.fail(fmt.Sprintf("%s: start canceled: %v", c.path, context.Cause(ctx)), ctx.Err())
		}
	}
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }

// fail releases what is left of the child (already reaped) and returns an
// Error for why, with the child's last status.
func (c *Child) fail(why string, err error) error {
	c.release()
	if c.status != "" {
		why += ": " + c.status
	}
	return &Error{Why: why, PID: c.pid, Err: err}
}

// PID returns the new process's ID.
func (c *Child) PID() int { return c.pid }

// Status returns the last STATUS= text the new process sent before it was
// ready, "" if none.
func (c *Child) Status() string { return c.status }

// HandOver makes the new process the service's main process: it sends
// the manager, through n, one notification with MAINPID= (and MAINPIDFD=1
// with a pidfd, which systemd 257 and later prefer and older versions
// ignore), READY=1, which completes a Type=notify-reload reload, and
// WATCHDOG=1, which gives the new process a full watchdog interval for its
// first ping. It then tells the new process that it was adopted, and lets
// go of it without reaping it: once this process exits, PID 1 inherits it.
//
// The manager applies MAINPID= before READY=1 and checks the sender
// against NotifyAccess=main, so this must be called by the current main
// process, during a reload (or while starting or running), before it
// exits. From then on this process is not the main process: it must send
// nothing more to the manager (no STOPPING=1, no STATUS=, no watchdog
// pings) and must drain what it has in flight and exit.
//
// An *Error means the service was not handed over: the new process has
// been stopped and reaped, and this process is still the main process.
// Any other error means the manager was told but the new process could
// not be (it is gone): this process is no longer the main process either
// way and should drain and exit, after which the manager sees its new
// main process gone and applies Restart=.
func (c *Child) HandOver(n *lifecycle.Notifier) error {
	if !c.claim() {
		return errors.New("upgrade: HandOver after HandOver or Stop")
	}
	state := "MAINPID=" + strconv.Itoa(c.pid)
	var files []syscall.Conn
	if c.pidfd != nil {
		state += "\nMAINPIDFD=1"
		files = append(files, c.pidfd)
	}
	state += "\nREADY=1\nWATCHDOG=1"
	sent, err := n.NotifyWithFiles(state, files...)
	if err == nil && !sent {
		err = errors.New("not running under a service manager")
	}
	if err != nil {
		c.stop()
		return c.fail(fmt.Sprintf("cannot hand the service to %s (PID %d): %v", c.path, c.pid, err), err)
	}
	// PID 1 reads its socket in order: the new process's own messages,
	// sent after it reads this, arrive after the hand-over.
	_, err = c.conn.Write([]byte(msgAdopted))
	c.release()
	if err != nil {
		return fmt.Errorf("upgrade: handed the service to PID %d, but could not tell it: %w", c.pid, err)
	}
	return nil
}

// Stop stops the new process instead of handing it the service: SIGTERM,
// then SIGKILL after Config.KillGrace, and reaps it. Use it when the
// upgrade is called off after Start returned, for example because the
// service is stopping.
func (c *Child) Stop() {
	if !c.claim() {
		return
	}
	c.stop()
	c.release()
}

// claim reports whether the caller is the first to end the Child.
func (c *Child) claim() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := !c.done
	c.done = true
	return first
}

// release closes the channel and the pidfd, without waiting for the child.
func (c *Child) release() {
	if c.conn != nil {
		c.conn.Close()
	}
	if c.pidfd != nil {
		c.pidfd.Close()
	}
}

// stop asks the child to end at once and reaps it.
func (c *Child) stop() { c.reap(0) }

// reap waits for the child to exit, sends it SIGTERM after wait (0: at
// once) and SIGKILL after the grace period on top, and reaps it.
//
// The exit is awaited with waitid(WNOWAIT), which leaves the child a
// zombie, and reaped here afterwards: a signal sent in between reaches a
// zombie, never a process that took over its PID.
func (c *Child) reap(wait time.Duration) (unix.WaitStatus, error) {
	exited := make(chan error, 1)
	go func() {
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, c.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				exited <- err
				return
			}
		}
	}()
	var err error
	select {
	case err = <-exited:
	case <-time.After(wait):
		unix.Kill(c.pid, unix.SIGTERM)
		select {
		case err = <-exited:
		case <-time.After(c.grace):
			unix.Kill(c.pid, unix.SIGKILL)
			err = <-exited
		}
	}
	var ws unix.WaitStatus
	if err != nil {
		return ws, err
	}
	for {
		_, err = unix.Wait4(c.pid, &ws, 0, nil)
		if err != unix.EINTR {
			return ws, err
		}
	}
}

// describeExit says how a process ended, for an operator.
func describeExit(ws unix.WaitStatus, err error) string {
	switch {
	case err != nil:
		return fmt.Sprintf("ended, but its exit status is unknown: %v", err)
	case ws.Exited():
		s := fmt.Sprintf("exited with status %d", ws.ExitStatus())
		switch ws.ExitStatus() {
		case 126: // the shell's "found but cannot execute"
			s += " (not executable?)"
		case 127: // the shell's "not found"
			s += " (not found?)"
		}
		return s
	case ws.Signaled():
		sig := ws.Signal()
		name := unix.SignalName(sig)
		if name == "" {
			name = "signal " + strconv.Itoa(int(sig))
		}
		s := "was killed by " + name
		if sig == unix.SIGSYS {
			s += " (a system call its seccomp filter denies: see SystemCallFilter=)"
		}
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	}
	return fmt.Sprintf("ended with wait status %#x", uint32(ws))
}
