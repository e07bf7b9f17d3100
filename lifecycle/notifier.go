package lifecycle

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Notifier sends notifications to the service manager, one typed method
// per variable of sd_notify(3), plus Notify and NotifyWithFiles for the
// rest.
//
// It keeps one socket open for the life of the process and sends every
// message with one system call; when the manager re-creates its socket
// (systemctl daemon-reexec) the next send reconnects and retries once. A
// Notifier is safe for concurrent use. A nil *Notifier, or one built from
// an Environment without $NOTIFY_SOCKET, sends nothing.
//
// Every sending method returns sent == false and a nil error when the
// process does not run under a service manager, and sent == true once the
// datagram was queued to the manager's socket: like sd_notify(3), success
// does not mean the manager has processed it (use Barrier for that).
// Input the manager would misread is rejected before sending with an
// error matching ErrInvalidMessage; a socket that cannot be reached gives
// an error matching ErrUnreachable, and the next send tries again. After
// Close, sends return an error.
type Notifier struct {
	addr address

	mu          sync.Mutex
	t           transport       // guarded by mu
	buf         []byte          // guarded by mu; reused for messages with values
	closed      bool            // guarded by mu
	unreachable bool            // guarded by mu; the last send found the socket unreachable
	onReach     func(err error) // guarded by mu; see onReachability
}

// NewNotifier returns a Notifier for env.NotifySocket. An unset socket
// gives a Notifier whose methods do nothing; a malformed one is an error.
// The socket is connected on first use, so a manager that is not listening
// yet, or has gone away, shows up as an error from the send, not here.
func NewNotifier(env Environment) (*Notifier, error) {
	n := &Notifier{t: newTransport()}
	if env.NotifySocket == "" {
		return n, nil
	}
	addr, err := parseAddress(env.NotifySocket)
	if err != nil {
		return nil, err
	}
	if !platformSupported {
		return nil, fmt.Errorf("%w, but NOTIFY_SOCKET is set", ErrUnsupported)
	}
	n.addr = addr
	n.buf = make([]byte, 0, maxMessageSize)
	return n, nil
}

// enabled reports whether the Notifier sends to a service manager.
func (n *Notifier) enabled() bool { return n != nil && n.addr.kind != 0 }

// address returns the manager's socket in $NOTIFY_SOCKET notation, or ""
// when the Notifier is not enabled.
func (n *Notifier) address() string {
	if !n.enabled() {
		return ""
	}
	return n.addr.String()
}

// Close closes the socket; further sends return an error. Close on a
// disabled Notifier is a no-op.
func (n *Notifier) Close() error {
	if !n.enabled() {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	return n.t.close()
}

// Ready tells the manager that start-up (or a reload) has finished:
// READY=1.
func (n *Notifier) Ready() (sent bool, err error) { return n.sendFixed(msgReady) }

// Stopping tells the manager that the service is shutting down:
// STOPPING=1.
func (n *Notifier) Stopping() (sent bool, err error) { return n.sendFixed(msgStopping) }

// Watchdog pings the watchdog: WATCHDOG=1.
func (n *Notifier) Watchdog() (sent bool, err error) { return n.sendFixed(msgWatchdog) }

// WatchdogTrigger asks the manager to act as if the watchdog timed out:
// WATCHDOG=trigger (systemd >= 243).
func (n *Notifier) WatchdogTrigger() (sent bool, err error) { return n.sendFixed(msgWatchdogTrigger) }

// RestartReset resets the manager's restart counter for the unit, which
// drives RestartSteps=: RESTART_RESET=1 (systemd >= 258).
func (n *Notifier) RestartReset() (sent bool, err error) { return n.sendFixed(msgRestartReset) }

// Reloading tells the manager that a reload has begun: RELOADING=1 with
// MONOTONIC_USEC= set to the current CLOCK_MONOTONIC time in the same
// datagram, as Type=notify-reload requires. Call Ready when the reload is
// complete.
func (n *Notifier) Reloading() (sent bool, err error) {
	if !n.enabled() {
		return false, nil
	}
	usec, err := monotonicUsec()
	if err != nil {
		return false, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.buf = append(n.buf[:0], "RELOADING=1\nMONOTONIC_USEC="...)
	n.buf = strconv.AppendUint(n.buf, usec, 10)
	return n.sendLocked(n.buf, nil)
}

// Status sets the one-line status text that systemctl status shows:
// STATUS=. The text is sanitized rather than rejected: CR, LF and NUL
// become spaces and invalid UTF-8 becomes U+FFFD, so it can never inject
// another assignment. Text that does not fit in one datagram is rejected
// with ErrInvalidMessage: 4089 bytes of plain ASCII fit.
func (n *Notifier) Status(text string) (sent bool, err error) {
	if !n.enabled() {
		return false, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.buf = appendStatus(n.buf[:0], text)
	if len(n.buf) > maxMessageSize {
		return false, tooLarge("STATUS", len(text))
	}
	return n.sendLocked(n.buf, nil)
}

// maxStatusLen is the longest ASCII text Status accepts.
const maxStatusLen = maxMessageSize - len("STATUS=")

// Errno reports the errno-style error the service failed with: ERRNO=.
func (n *Notifier) Errno(errno syscall.Errno) (sent bool, err error) {
	return n.sendUint("ERRNO=", uint64(errno))
}

// BusError reports the D-Bus error name the service failed with:
// BUSERROR=, for example "org.freedesktop.DBus.Error.TimedOut".
func (n *Notifier) BusError(name string) (sent bool, err error) {
	return n.sendText("BUSERROR", name)
}

// VarlinkError reports the Varlink error the service failed with:
// VARLINKERROR= (systemd >= 257).
func (n *Notifier) VarlinkError(name string) (sent bool, err error) {
	return n.sendText("VARLINKERROR", name)
}

// ExitStatus tells the manager the exit status the service is about to
// exit with: EXIT_STATUS= (systemd >= 254). code must be 0..255.
func (n *Notifier) ExitStatus(code int) (sent bool, err error) {
	if code < 0 || code > 255 {
		return false, fmt.Errorf("%w: EXIT_STATUS %d outside 0..255", ErrInvalidMessage, code)
	}
	return n.sendUint("EXIT_STATUS=", uint64(code))
}

// MainPID tells the manager which process is the service's main process:
// MAINPID=.
func (n *Notifier) MainPID(pid int) (sent bool, err error) {
	if pid <= 0 {
		return false, fmt.Errorf("%w: MAINPID %d is not a process ID", ErrInvalidMessage, pid)
	}
	return n.sendUint("MAINPID=", uint64(pid))
}

// MainPIDFD tells the manager which process is the service's main process
// by passing a pidfd for it: MAINPIDFD=1 with the descriptor attached
// (systemd >= 257). Unlike MainPID it cannot name a recycled PID. Obtain
// the pidfd with unix.PidfdOpen and wrap it with os.NewFile.
func (n *Notifier) MainPIDFD(pidfd syscall.Conn) (sent bool, err error) {
	if !n.enabled() {
		return false, nil
	}
	if pidfd == nil {
		return false, fmt.Errorf("%w: MAINPIDFD without a descriptor", ErrInvalidMessage)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sendFilesLocked(msgMainPIDFD, []syscall.Conn{pidfd})
}

// WatchdogUSec changes the watchdog interval at run time: WATCHDOG_USEC=.
func (n *Notifier) WatchdogUSec(interval time.Duration) (sent bool, err error) {
	if interval <= 0 {
		return false, fmt.Errorf("%w: watchdog interval %v is not positive", ErrInvalidMessage, interval)
	}
	return n.sendUint("WATCHDOG_USEC=", uint64(interval.Microseconds()))
}

// ExtendTimeout asks the manager to extend the current start, stop or
// reload timeout so that it ends d from now: EXTEND_TIMEOUT_USEC=
// (systemd >= 236). Send it again before d runs out to extend further.
func (n *Notifier) ExtendTimeout(d time.Duration) (sent bool, err error) {
	if d <= 0 {
		return false, fmt.Errorf("%w: timeout extension %v is not positive", ErrInvalidMessage, d)
	}
	return n.sendUint("EXTEND_TIMEOUT_USEC=", uint64(d.Microseconds()))
}

// NotifyAccessLevel is a value for NotifyAccess, as in systemd.service(5).
type NotifyAccessLevel string

// The NotifyAccess= levels.
const (
	NotifyAccessNone NotifyAccessLevel = "none"
	NotifyAccessMain NotifyAccessLevel = "main"
	NotifyAccessExec NotifyAccessLevel = "exec"
	NotifyAccessAll  NotifyAccessLevel = "all"
)

// NotifyAccess changes which processes of the unit may send notifications:
// NOTIFYACCESS= (systemd >= 254).
func (n *Notifier) NotifyAccess(level NotifyAccessLevel) (sent bool, err error) {
	switch level {
	case NotifyAccessNone, NotifyAccessMain, NotifyAccessExec, NotifyAccessAll:
	default:
		return false, fmt.Errorf("%w: NOTIFYACCESS %q", ErrInvalidMessage, string(level))
	}
	return n.sendText("NOTIFYACCESS", string(level))
}

// Notify sends state verbatim after checking it: newline-separated
// KEY=VALUE lines (KEY in [A-Z0-9_]), no NUL byte, at most 4096 bytes. Use it for private X_* keys and for variables newer than this
// package. It never sanitizes: invalid input is an error.
func (n *Notifier) Notify(state string) (sent bool, err error) {
	return n.NotifyWithFiles(state)
}

// NotifyWithFiles is Notify with descriptors attached in the same datagram
// (SCM_RIGHTS). Each descriptor is reached through SyscallConn, so
// *net.TCPListener, *net.UnixConn, *os.File and friends all work and none
// is switched to blocking mode. The manager closes descriptors that arrive
// without FDSTORE=1 or BARRIER=1.
func (n *Notifier) NotifyWithFiles(state string, files ...syscall.Conn) (sent bool, err error) {
	if !n.enabled() {
		return false, nil
	}
	if err := validateState(state); err != nil {
		return false, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.buf = append(n.buf[:0], state...)
	return n.sendFilesLocked(n.buf, files)
}

// FDStore hands files to the manager's fd store under name: FDSTORE=1 and
// FDNAME= (systemd >= 219, names >= 233). After a restart the manager
// passes them back through $LISTEN_FDS; see TakeFiles. The unit needs
// FileDescriptorStoreMax= > 0, otherwise the manager silently closes them
// (FDStoreLimit tells whether the store is enabled). The manager drops a
// stored descriptor when it reports POLLHUP or POLLERR; FDStoreNoPoll
// prevents that.
func (n *Notifier) FDStore(name string, files ...syscall.Conn) (sent bool, err error) {
	return n.fdStore(name, "", files)
}

// FDStoreNoPoll is FDStore with FDPOLL=0 (systemd >= 246): the manager
// keeps the descriptors even when they report POLLHUP or POLLERR.
func (n *Notifier) FDStoreNoPoll(name string, files ...syscall.Conn) (sent bool, err error) {
	return n.fdStore(name, "\nFDPOLL=0", files)
}

func (n *Notifier) fdStore(name, extra string, files []syscall.Conn) (bool, error) {
	if !n.enabled() {
		return false, nil
	}
	if err := checkFDName(name); err != nil {
		return false, err
	}
	if len(files) == 0 {
		return false, fmt.Errorf("%w: FDSTORE without descriptors", ErrInvalidMessage)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.buf = append(n.buf[:0], "FDSTORE=1\nFDNAME="...)
	n.buf = append(n.buf, name...)
	n.buf = append(n.buf, extra...)
	return n.sendFilesLocked(n.buf, files)
}

// FDStoreRemove asks the manager to close and forget every stored
// descriptor named name: FDSTOREREMOVE=1 (systemd >= 236).
func (n *Notifier) FDStoreRemove(name string) (sent bool, err error) {
	if !n.enabled() {
		return false, nil
	}
	if err := checkFDName(name); err != nil {
		return false, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.buf = append(n.buf[:0], "FDSTOREREMOVE=1\nFDNAME="...)
	n.buf = append(n.buf, name...)
	return n.sendLocked(n.buf, nil)
}

func (n *Notifier) sendFixed(msg []byte) (bool, error) {
	if !n.enabled() {
		return false, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sendLocked(msg, nil)
}

func (n *Notifier) sendUint(prefix string, v uint64) (bool, error) {
	if !n.enabled() {
		return false, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.buf = append(n.buf[:0], prefix...)
	n.buf = strconv.AppendUint(n.buf, v, 10)
	return n.sendLocked(n.buf, nil)
}

// sendText sends key=value for a value supplied by the caller, rejecting
// values that would break the message.
func (n *Notifier) sendText(key, value string) (bool, error) {
	if !n.enabled() {
		return false, nil
	}
	if err := validateValue(key, value); err != nil {
		return false, err
	}
	if l := len(key) + 1 + len(value); l > maxMessageSize {
		return false, tooLarge(key, l)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.buf = append(n.buf[:0], key...)
	n.buf = append(n.buf, '=')
	n.buf = append(n.buf, value...)
	return n.sendLocked(n.buf, nil)
}

// sendLocked sends msg with already-open descriptors; n.mu is held.
func (n *Notifier) sendLocked(msg []byte, fds []int) (bool, error) {
	if n.closed {
		return false, errClosed
	}
	if err := n.t.send(n.addr, msg, fds); err != nil {
		if !n.unreachable && errors.Is(err, ErrUnreachable) {
			n.unreachable = true
			if n.onReach != nil {
				n.onReach(err)
			}
		}
		return false, err
	}
	if n.unreachable {
		n.unreachable = false
		if n.onReach != nil {
			n.onReach(nil)
		}
	}
	return true, nil
}

// onReachability makes f hear when the manager's socket changes from
// reachable to unreachable and back, as sends find it (the contract is
// sdwire.Notifier's, through which sdlife and httpadapter reach it).
//
// f runs inside the send, with the Notifier locked: it must return soon
// (log a line, signal a goroutine) and call no method of the Notifier but
// address and enabled.
//
// Sends are never skipped or delayed for an unreachable socket: a
// watchdog ping must go out when the manager is back. Retrying with
// backoff is for callers that resend by themselves, such as a periodic
// status line; reachable tells them.
func (n *Notifier) onReachability(f func(err error)) {
	if !n.enabled() {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onReach = f
}

// reachable reports false when the last send found the manager's socket
// unreachable (see onReachability), true otherwise.
func (n *Notifier) reachable() bool {
	if !n.enabled() {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.unreachable
}

// sendFilesLocked duplicates the descriptors behind files, sends them with
// msg, and closes the duplicates; n.mu is held.
func (n *Notifier) sendFilesLocked(msg []byte, files []syscall.Conn) (bool, error) {
	if len(files) > maxFDs {
		return false, fmt.Errorf("%w: %d descriptors in one message, at most %d fit", ErrInvalidMessage, len(files), maxFDs)
	}
	if len(files) == 0 {
		return n.sendLocked(msg, nil)
	}
	fds, err := dupAll(files)
	defer closeAll(fds)
	if err != nil {
		return false, err
	}
	return n.sendLocked(msg, fds)
}
