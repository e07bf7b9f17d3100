//go:build linux

package upgrade

import (
	"context"
	"errors"
	"fmt"
	"github.com/sdlife/sdlife/internal/sdwire"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/lifecycle"
)

// Joined is the new process's side of an upgrade, from Join to the
// process's end. It runs a relay: the notifications the process sends to
// Environment().NotifySocket go to the old process until the old process
// has handed the service over, and to the service manager from then on.
//
// A nil *Joined, as Join returns in a process that is not an upgrade's new
// process, is adopted from the start: Wait returns nil at once.
type Joined struct {
	env     lifecycle.Environment // the process's, NotifySocket the relay's
	manager lifecycle.Environment // the process's, NotifySocket the manager's
	relay   *net.UnixConn         // where this process's Notifier sends
	ch      *net.UnixConn         // the private channel to the old process
	real    *lifecycle.Notifier   // the service manager
	done    chan struct{}         // closed on adoption or abandonment

	relayDone, chDone chan struct{} // closed when readRelay, readChannel return

	mu         sync.Mutex
	adopted    bool   // guarded by mu
	err        error  // guarded by mu; ErrAbandoned once the old process is gone
	lastStatus string // guarded by mu; the last STATUS= line sent before adoption
	readySent  bool   // guarded by mu; READY=1 went to the old process
	closed     bool   // guarded by mu
}

var errJoinClosed = errors.New("upgrade: closed before the hand-over")

// Join makes this process an upgrade's new process if files holds the
// private channel (ChannelName) that Start passes; otherwise it returns
// nil and a nil error. Call it right after lifecycle.TakeFiles, before
// anything sends a notification, and build the process's Notifier from
// Environment() instead of env: until the adoption its notifications go
// to the old process, which waits for READY=1 and reports STATUS= and
// ERRNO= if the start fails.
//
// After READY=1 the new process must wait for the adoption (Wait) before
// it serves: before it, the old process serves, and a new process that
// is stopped or dies must not take requests or idle connections with it.
func Join(env lifecycle.Environment, files *lifecycle.Files) (*Joined, error) {
	f, err := files.File(ChannelName)
	if errors.Is(err, lifecycle.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	j, err := join(env, f)
	f.Close()
	return j, err
}

func join(env lifecycle.Environment, f *os.File) (*Joined, error) {
	if err := checkChannel(f); err != nil {
		return nil, err
	}
	addr := os.Getenv(envNotifySocket)
	_ = os.Unsetenv(envNotifySocket) // not for this process's children
	if addr == "" {
		return nil, fmt.Errorf("upgrade: %s is not set: the old process did not pass the manager's socket", envNotifySocket)
	}
	real, err := lifecycle.NewNotifier(lifecycle.Environment{NotifySocket: addr})
	if err != nil {
		return nil, fmt.Errorf("upgrade: %s: %w", envNotifySocket, err)
	}
	relay, relayAddr, err := listenRelay()
	if err != nil {
		real.Close()
		return nil, err
	}
	c, err := net.FileConn(f)
	if err != nil {
		real.Close()
		relay.Close()
		return nil, fmt.Errorf("upgrade: channel: %w", err)
	}
	j := &Joined{env: env, relay: relay, ch: c.(*net.UnixConn), real: real, done: make(chan struct{})}
	j.manager = env
	j.manager.NotifySocket = addr
	j.env.NotifySocket = relayAddr
	j.relayDone, j.chDone = make(chan struct{}), make(chan struct{})
	go j.readRelay()
	go j.readChannel()
	return j, nil
}

// checkChannel makes sure f is a seqpacket socket, as Start creates.
func checkChannel(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("upgrade: channel: %w", err)
	}
	var typ int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		typ, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
	}); err != nil {
		return fmt.Errorf("upgrade: channel: %w", err)
	}
	if serr != nil || typ != unix.SOCK_SEQPACKET {
		return fmt.Errorf("upgrade: descriptor %q is not a seqpacket socket (type %d, %v)", ChannelName, typ, serr)
	}
	return nil
}

// listenRelay creates the relay's datagram socket on an abstract address
// the kernel picks (autobind), with SO_PASSCRED: anyone in the network
// namespace could send to it, so readRelay forwards only what this
// process sent.
func listenRelay() (*net.UnixConn, string, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, "", fmt.Errorf("upgrade: relay socket: %w", err)
	}
	err = unix.Bind(fd, &unix.SockaddrUnix{})
	if err == nil {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}
	var sa unix.Sockaddr
	if err == nil {
		sa, err = unix.Getsockname(fd)
	}
	ua, ok := sa.(*unix.SockaddrUnix)
	if err == nil && (!ok || !strings.HasPrefix(ua.Name, "@")) {
		err = fmt.Errorf("unexpected address %v", sa)
	}
	if err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("upgrade: relay socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "upgrade-relay")
	defer f.Close()
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, "", fmt.Errorf("upgrade: relay socket: %w", err)
	}
	return c.(*net.UnixConn), ua.Name, nil
}

// Environment returns the env given to Join with NotifySocket set to the
// relay: build the process's Notifier from it.
func (j *Joined) Environment() lifecycle.Environment { return j.env }

// Manager is the environment with the service manager's own socket, for
// what this process hands on to a process of its own: the next upgrade's
// new process must talk to the manager, not to this process's relay,
// which relays only this process's messages.
func (j *Joined) Manager() lifecycle.Environment { return j.manager }

// Done is closed once the old process handed the service over, or went
// away before it did; Err tells which.
func (j *Joined) Done() <-chan struct{} {
	if j == nil {
		return closedChan
	}
	return j.done
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Err returns nil before Done is closed and after an adoption, and
// ErrAbandoned when the old process went away first.
func (j *Joined) Err() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Wait blocks until the old process has handed the service over (nil),
// the old process went away first (ErrAbandoned: exit with a non-zero
// status, serving nothing), or ctx is done (its error).
func (j *Joined) Wait(ctx context.Context) error {
	select {
	case <-j.Done():
		return j.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the relay and closes the channel. Call it when the process
// ends: the Notifier built from Environment() cannot send after it.
func (j *Joined) Close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	// The relay first forwards what is queued (see readRelay).
	_ = j.relay.SetReadDeadline(time.Now())
	<-j.relayDone
	err := errors.Join(j.relay.Close(), j.ch.Close())
	<-j.chDone
	return errors.Join(err, j.real.Close())
}

// readChannel waits for the old process's word: the adoption, or the end
// of the channel.
func (j *Joined) readChannel() {
	defer close(j.chDone)
	buf := make([]byte, sdwire.MaxMessageSize)
	for {
		n, err := j.ch.Read(buf)
		if err != nil {
			j.mu.Lock()
			if !j.adopted && j.err == nil {
				j.err = ErrAbandoned
				if j.closed {
					j.err = errJoinClosed
				}
				close(j.done)
			}
			j.mu.Unlock()
			return
		}
		if string(buf[:n]) != msgAdopted {
			continue // a later version's message
		}
		j.mu.Lock()
		if !j.adopted && j.err == nil {
			j.adopted = true
			// The old process stopped reading at READY=1: a status set
			// since then has reached nobody yet.
			if j.lastStatus != "" {
				_, _ = j.real.Notify(j.lastStatus)
			}
			close(j.done)
		}
		j.mu.Unlock()
	}
}

// readRelay forwards what this process sends to the relay socket. When
// Close sets a read deadline it forwards what is still queued, so that a
// process that fails and exits does not lose its last STATUS=.
func (j *Joined) readRelay() {
	defer close(j.relayDone)
	buf := make([]byte, sdwire.MaxMessageSize+1)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(sdwire.MaxFDs*4))
	for {
		n, oobn, flags, _, err := j.relay.ReadMsgUnix(buf, oob)
		if err != nil {
			break
		}
		j.handle(buf[:n], oob[:oobn], flags)
	}
	rc, err := j.relay.SyscallConn()
	if err != nil {
		return // closed
	}
	_ = rc.Control(func(fd uintptr) {
		for {
			n, oobn, flags, _, err := unix.Recvmsg(int(fd), buf, oob, unix.MSG_DONTWAIT)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return
			}
			j.handle(buf[:n], oob[:oobn], flags)
		}
	})
}

// handle forwards one datagram received by the relay, if this process sent
// it, and closes the descriptors it carried.
func (j *Joined) handle(msg, oob []byte, flags int) {
	pid, files := parseOOB(oob)
	if pid == os.Getpid() && len(msg) <= sdwire.MaxMessageSize && flags&unix.MSG_CTRUNC == 0 {
		j.forward(string(msg), files)
	}
	for _, f := range files {
		f.Close()
	}
}

// forward sends one message where it belongs now. Descriptors go to the
// manager after the adoption; before it they are dropped (closed by the
// caller), which also answers a barrier.
func (j *Joined) forward(msg string, files []*os.File) {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.adopted:
		conns := make([]syscall.Conn, len(files))
		for i, f := range files {
			conns[i] = f
		}
		// Nobody hears an error here: the sender's send to the relay
		// succeeded. See the package documentation.
		_, _ = j.real.NotifyWithFiles(msg, conns...)
	case j.err == nil:
		if st := statusLine(msg); st != "" {
			j.lastStatus = st
		}
		// Nothing goes to the old process after READY=1: it stops
		// reading there, and a unix socket closed with unread data
		// resets its peer (ECONNRESET), which the kernel reports before
		// the data still queued: the adoption message would be lost.
		// The last status is replayed to the manager on adoption.
		// A barrier is answered here, by closing its descriptor once
		// what came before it is on its way to the old process.
		if !j.readySent && msg != "BARRIER=1" {
			_, _ = j.ch.Write([]byte(msg))
			j.readySent = hasReady(msg)
		}
	}
}

// hasReady reports whether msg says READY=1.
func hasReady(msg string) bool {
	for line := range strings.SplitSeq(msg, "\n") {
		if line == "READY=1" {
			return true
		}
	}
	return false
}

// statusLine returns the last STATUS= line of msg, "" if none.
func statusLine(msg string) string {
	last := ""
	for line := range strings.SplitSeq(msg, "\n") {
		if strings.HasPrefix(line, "STATUS=") {
			last = line
		}
	}
	return last
}

// parseOOB returns the sender's PID (0 if absent) and the descriptors of
// a datagram's control messages.
func parseOOB(oob []byte) (pid int, files []*os.File) {
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, nil
	}
	for i := range cmsgs {
		if cred, err := unix.ParseUnixCredentials(&cmsgs[i]); err == nil {
			pid = int(cred.Pid)
			continue
		}
		if fds, err := unix.ParseUnixRights(&cmsgs[i]); err == nil {
			for _, fd := range fds {
				unix.CloseOnExec(fd)
				files = append(files, os.NewFile(uintptr(fd), "relayed"))
			}
		}
	}
	return pid, files
}
