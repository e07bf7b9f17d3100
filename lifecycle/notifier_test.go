//go:build linux

package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// barrier waits until the manager has recorded everything sent so far.
func barrier(t *testing.T, n *lifecycle.Notifier) {
	t.Helper()
	if _, err := n.Barrier(waitCtx(t)); err != nil {
		t.Fatalf("Barrier: %v", err)
	}
}

func TestNotifierMessages(t *testing.T) {
	tests := []struct {
		name string
		send func(*lifecycle.Notifier) (bool, error)
		want string
	}{
		{name: "ready", send: (*lifecycle.Notifier).Ready, want: "READY=1"},
		{name: "stopping", send: (*lifecycle.Notifier).Stopping, want: "STOPPING=1"},
		{name: "watchdog", send: (*lifecycle.Notifier).Watchdog, want: "WATCHDOG=1"},
		{name: "watchdog trigger", send: (*lifecycle.Notifier).WatchdogTrigger, want: "WATCHDOG=trigger"},
		{name: "restart reset", send: (*lifecycle.Notifier).RestartReset, want: "RESTART_RESET=1"},
		{name: "status", send: func(n *lifecycle.Notifier) (bool, error) { return n.Status("Serving: 3 requests") }, want: "STATUS=Serving: 3 requests"},
		{name: "status injection", send: func(n *lifecycle.Notifier) (bool, error) { return n.Status("x\nREADY=1") }, want: "STATUS=x READY=1"},
		{name: "errno", send: func(n *lifecycle.Notifier) (bool, error) { return n.Errno(syscall.EADDRINUSE) }, want: "ERRNO=98"},
		{name: "bus error", send: func(n *lifecycle.Notifier) (bool, error) { return n.BusError("org.freedesktop.DBus.Error.TimedOut") }, want: "BUSERROR=org.freedesktop.DBus.Error.TimedOut"},
		{name: "varlink error", send: func(n *lifecycle.Notifier) (bool, error) { return n.VarlinkError("io.systemd.System.NoSuchUnit") }, want: "VARLINKERROR=io.systemd.System.NoSuchUnit"},
		{name: "exit status", send: func(n *lifecycle.Notifier) (bool, error) { return n.ExitStatus(3) }, want: "EXIT_STATUS=3"},
		{name: "main pid", send: func(n *lifecycle.Notifier) (bool, error) { return n.MainPID(4242) }, want: "MAINPID=4242"},
		{name: "watchdog usec", send: func(n *lifecycle.Notifier) (bool, error) { return n.WatchdogUSec(1500 * time.Millisecond) }, want: "WATCHDOG_USEC=1500000"},
		{name: "extend timeout", send: func(n *lifecycle.Notifier) (bool, error) { return n.ExtendTimeout(90 * time.Second) }, want: "EXTEND_TIMEOUT_USEC=90000000"},
		{name: "notify access", send: func(n *lifecycle.Notifier) (bool, error) { return n.NotifyAccess(lifecycle.NotifyAccessAll) }, want: "NOTIFYACCESS=all"},
		{name: "fd store remove", send: func(n *lifecycle.Notifier) (bool, error) { return n.FDStoreRemove("http") }, want: "FDSTOREREMOVE=1\nFDNAME=http"},
		{name: "raw", send: func(n *lifecycle.Notifier) (bool, error) { return n.Notify("X_APP_STATE=warm\nSTATUS=ok") }, want: "X_APP_STATE=warm\nSTATUS=ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t)
			n := m.Notifier()
			sent, err := tt.send(n)
			if !sent || err != nil {
				t.Fatalf("send = %v, %v; want true, nil", sent, err)
			}
			barrier(t, n)
			msgs := m.Messages()
			if len(msgs) != 2 || msgs[0].Raw != tt.want {
				t.Fatalf("manager got %+v, want %q then the barrier", msgs, tt.want)
			}
			if msgs[0].PID != os.Getpid() || msgs[0].UID != os.Getuid() {
				t.Fatalf("credentials pid=%d uid=%d, want %d %d", msgs[0].PID, msgs[0].UID, os.Getpid(), os.Getuid())
			}
		})
	}
}

func TestNotifierMainPIDFD(t *testing.T) {
	m := sdtest.NewManager(t)
	n := m.Notifier()
	pidfd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		t.Skipf("pidfd_open: %v", err)
	}
	f := os.NewFile(uintptr(pidfd), "pidfd")
	defer f.Close()
	if sent, err := n.MainPIDFD(f); !sent || err != nil {
		t.Fatalf("MainPIDFD = %v, %v", sent, err)
	}
	barrier(t, n)
	if msg := m.Messages()[0]; msg.Raw != "MAINPIDFD=1" || msg.NumFDs != 1 {
		t.Fatalf("got %q with %d fds", msg.Raw, msg.NumFDs)
	}
	if _, err := n.MainPIDFD(nil); !errors.Is(err, lifecycle.ErrInvalidMessage) {
		t.Fatalf("MainPIDFD(nil) = %v", err)
	}
}

func TestNotifierReloadingCarriesMonotonicTime(t *testing.T) {
	m := sdtest.NewManager(t)
	n := m.Notifier()
	var before unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &before); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	msg, err := m.Wait(waitCtx(t), sdtest.Has("RELOADING", "1"))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := msg.Get("MONOTONIC_USEC")
	if !ok {
		t.Fatalf("RELOADING=1 without MONOTONIC_USEC in the same datagram: %q", msg.Raw)
	}
	usec, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if lo := uint64(before.Nano() / 1000); usec < lo || usec > lo+uint64(time.Minute.Microseconds()) {
		t.Fatalf("MONOTONIC_USEC=%d, want CLOCK_MONOTONIC just after %d", usec, lo)
	}
}

func TestNotifierRejectsBadValues(t *testing.T) {
	m := sdtest.NewManager(t)
	n := m.Notifier()
	tests := []struct {
		name string
		send func() (bool, error)
		want error
		// detail is in the error's text, where several rejections share
		// one sentinel.
		detail string
	}{
		{name: "status too large", send: func() (bool, error) { return n.Status(strings.Repeat("a", lifecycle.MaxStatusLen+1)) }, want: lifecycle.ErrInvalidMessage, detail: "exceeds the 4096 bytes"},
		{name: "bus error newline", send: func() (bool, error) { return n.BusError("a\nREADY=1") }, want: lifecycle.ErrInvalidMessage},
		{name: "bus error empty", send: func() (bool, error) { return n.BusError("") }, want: lifecycle.ErrInvalidMessage},
		{name: "exit status range", send: func() (bool, error) { return n.ExitStatus(256) }, want: lifecycle.ErrInvalidMessage},
		{name: "main pid zero", send: func() (bool, error) { return n.MainPID(0) }, want: lifecycle.ErrInvalidMessage},
		{name: "negative extend", send: func() (bool, error) { return n.ExtendTimeout(-time.Second) }, want: lifecycle.ErrInvalidMessage},
		{name: "zero watchdog", send: func() (bool, error) { return n.WatchdogUSec(0) }, want: lifecycle.ErrInvalidMessage},
		{name: "notify access", send: func() (bool, error) { return n.NotifyAccess("everyone") }, want: lifecycle.ErrInvalidMessage},
		{name: "raw bad key", send: func() (bool, error) { return n.Notify("ready=1") }, want: lifecycle.ErrInvalidMessage},
		{name: "raw NUL", send: func() (bool, error) { return n.Notify("STATUS=a\x00") }, want: lifecycle.ErrInvalidMessage},
		{name: "raw too large", send: func() (bool, error) { return n.Notify("X_A=" + strings.Repeat("a", 5000)) }, want: lifecycle.ErrInvalidMessage, detail: "exceeds the 4096 bytes"},
		{name: "fd name colon", send: func() (bool, error) { return n.FDStore("a:b", os.Stdin) }, want: lifecycle.ErrInvalidMessage, detail: "descriptor name"},
		{name: "fd name empty", send: func() (bool, error) { return n.FDStoreRemove("") }, want: lifecycle.ErrInvalidMessage, detail: "descriptor name"},
		{name: "fd store without files", send: func() (bool, error) { return n.FDStore("http") }, want: lifecycle.ErrInvalidMessage},
		{name: "too many fds", send: func() (bool, error) {
			files := make([]syscall.Conn, 254)
			for i := range files {
				files[i] = os.Stdin
			}
			return n.FDStore("many", files...)
		}, want: lifecycle.ErrInvalidMessage, detail: "254 descriptors in one message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent, err := tt.send()
			if sent || !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.detail) {
				t.Fatalf("send = %v, %v; want false, %v (%q)", sent, err, tt.want, tt.detail)
			}
		})
	}
	barrier(t, n)
	if got := m.Messages(); len(got) != 1 {
		t.Fatalf("rejected messages reached the manager: %+v", got)
	}
}

func TestNotifierWithoutManager(t *testing.T) {
	tests := []struct {
		name string
		n    *lifecycle.Notifier
	}{
		{name: "nil", n: nil},
		{name: "unset socket", n: mustNotifier(t, lifecycle.Environment{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := sdwire.NotifierOf(tt.n); v.Enabled() || v.Address() != "" {
				t.Fatal("notifier without a socket claims to be enabled")
			}
			for _, send := range []func() (bool, error){
				tt.n.Ready, tt.n.Stopping, tt.n.Watchdog, tt.n.Reloading,
				func() (bool, error) { return tt.n.Status("x") },
				func() (bool, error) { return tt.n.FDStore("http", os.Stdin) },
				func() (bool, error) { return tt.n.Barrier(context.Background()) },
			} {
				if sent, err := send(); sent || err != nil {
					t.Fatalf("send = %v, %v; want false, nil", sent, err)
				}
			}
			if err := tt.n.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func mustNotifier(t *testing.T, env lifecycle.Environment) *lifecycle.Notifier {
	t.Helper()
	n, err := lifecycle.NewNotifier(env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func TestNewNotifierMalformedSocket(t *testing.T) {
	for _, give := range []string{"relative/path", "@", "vsock::1", "vsock:x:1", "tcp://127.0.0.1:1"} {
		t.Run(give, func(t *testing.T) {
			n, err := lifecycle.NewNotifier(lifecycle.Environment{NotifySocket: give})
			if err == nil || n != nil || !strings.Contains(err.Error(), "NOTIFY_SOCKET") {
				t.Fatalf("NewNotifier(%q) = %v, %v; want a NOTIFY_SOCKET error", give, n, err)
			}
		})
	}
}

func TestNotifierAbstractSocket(t *testing.T) {
	r := listenRaw(t, "@lifecycle-test-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	n := mustNotifier(t, lifecycle.Environment{NotifySocket: r.addr})
	if sent, err := n.Ready(); !sent || err != nil {
		t.Fatalf("Ready = %v, %v", sent, err)
	}
	if got := r.read(); got != "READY=1" {
		t.Fatalf("received %q, want READY=1", got)
	}
}

func TestNotifierReconnectsAfterSocketReplaced(t *testing.T) {
	path := shortPath(t)
	r := listenRaw(t, path)
	n := mustNotifier(t, lifecycle.Environment{NotifySocket: path})
	if _, err := n.Status("before"); err != nil {
		t.Fatal(err)
	}
	if got := r.read(); got != "STATUS=before" {
		t.Fatalf("received %q", got)
	}
	// PID 1 re-executed and bound a new socket at the same path.
	r.close()
	os.Remove(path)
	r = listenRaw(t, path)
	if sent, err := n.Status("after"); !sent || err != nil {
		t.Fatalf("Status after replace = %v, %v", sent, err)
	}
	if got := r.read(); got != "STATUS=after" {
		t.Fatalf("received %q after the replacement", got)
	}
}

func TestNotifierVanishedSocket(t *testing.T) {
	m := sdtest.NewManager(t)
	n := m.Notifier()
	if _, err := n.Ready(); err != nil {
		t.Fatal(err)
	}
	m.Close()
	sent, err := n.Status("nobody listens")
	if sent || err == nil || !strings.Contains(err.Error(), "notify socket") {
		t.Fatalf("send to vanished socket = %v, %v; want a clear error", sent, err)
	}
	// The Notifier keeps working once a manager is back at the address.
	m2 := sdtest.NewManager(t)
	n2 := mustNotifier(t, m2.Environment())
	if _, err := n2.Ready(); err != nil {
		t.Fatal(err)
	}
}

func TestNotifierClosed(t *testing.T) {
	m := sdtest.NewManager(t)
	n := m.Notifier()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Ready(); !errors.Is(err, lifecycle.ErrClosed) {
		t.Fatalf("Ready after Close: %v, want ErrClosed", err)
	}
}

func TestNotifierConcurrent(t *testing.T) {
	m := sdtest.NewManager(t)
	n := m.Notifier()
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var err error
				if i%2 == 0 {
					_, err = n.Status("worker " + strconv.Itoa(w) + " message " + strconv.Itoa(i))
				} else {
					_, err = n.Watchdog()
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	barrier(t, n)
	msgs := m.Messages()
	if len(msgs) != workers*each+1 {
		t.Fatalf("manager got %d messages, want %d", len(msgs), workers*each+1)
	}
	for _, msg := range msgs[:len(msgs)-1] {
		if msg.Raw != "WATCHDOG=1" && !strings.HasPrefix(msg.Raw, "STATUS=worker ") {
			t.Fatalf("garbled message %q", msg.Raw)
		}
	}
}

func TestFDStorePassesListenerIntact(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(4))
	n := m.Notifier()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := n.FDStoreNoPoll("http", l.(*net.TCPListener)); err != nil {
		t.Fatal(err)
	}
	barrier(t, n)

	msgs := m.Messages()
	if msgs[0].Raw != "FDSTORE=1\nFDNAME=http\nFDPOLL=0" || msgs[0].NumFDs != 1 {
		t.Fatalf("message %q with %d fds", msgs[0].Raw, msgs[0].NumFDs)
	}
	stored := m.Stored()
	if len(stored) != 1 || stored[0].Name != "http" || stored[0].Poll {
		t.Fatalf("stored = %+v", stored)
	}
	// The original must still be non-blocking: Fd() would have flipped
	// the shared open file to blocking mode.
	assertNonBlocking(t, l.(*net.TCPListener))

	// The stored copy is the same socket: a listener built from it
	// accepts a connection made to the original's address.
	files := m.Files()
	defer files.Close()
	l2, err := files.Listener("http")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.Addr().String() != l.Addr().String() {
		t.Fatalf("stored listener at %v, original at %v", l2.Addr(), l.Addr())
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	accepted, err := l2.Accept()
	if err != nil {
		t.Fatal(err)
	}
	accepted.Close()

	// Storing the same socket again does not grow the store (PID 1
	// compares the open files too), and removing it empties the store.
	if _, err := n.FDStore("http", l.(*net.TCPListener)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.FDStoreRemove("http"); err != nil {
		t.Fatal(err)
	}
	barrier(t, n)
	if got := m.Stored(); len(got) != 0 {
		t.Fatalf("store after remove = %+v", got)
	}
}

// A pipe's write end sent to the store: kept and usable when the store is
// enabled, closed by the manager when it is not (FileDescriptorStoreMax=0).
func TestFDStorePipe(t *testing.T) {
	tests := []struct {
		name     string
		opts     []sdtest.Option
		wantKept bool
	}{
		{name: "enabled", opts: []sdtest.Option{sdtest.WithFDStore(4)}, wantKept: true},
		{name: "disabled", wantKept: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t, tt.opts...)
			n := m.Notifier()
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := n.FDStore("state", w); err != nil {
				t.Fatal(err)
			}
			w.Close()
			barrier(t, n)
			stored := m.Stored()
			if !tt.wantKept {
				if len(stored) != 0 {
					t.Fatal("disabled store kept a descriptor")
				}
				// Every copy of the write end is closed: the read end sees EOF.
				if _, err := r.Read(make([]byte, 1)); err == nil {
					t.Fatal("write end still open somewhere")
				}
				return
			}
			if len(stored) != 1 {
				t.Fatalf("stored %d", len(stored))
			}
			if _, err := stored[0].File.Write([]byte("kept")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			if _, err := r.Read(buf); err != nil || string(buf) != "kept" {
				t.Fatalf("read %q, %v", buf, err)
			}
		})
	}
}

func assertNonBlocking(t *testing.T, c syscall.Conn) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	rc.Control(func(fd uintptr) { flags, err = unix.FcntlInt(fd, unix.F_GETFL, 0) })
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.O_NONBLOCK == 0 {
		t.Fatal("descriptor was switched to blocking mode")
	}
}

func TestBarrier(t *testing.T) {
	t.Run("orders earlier messages", func(t *testing.T) {
		m := sdtest.NewManager(t)
		n := m.Notifier()
		for i := range 20 {
			if _, err := n.Status(strconv.Itoa(i)); err != nil {
				t.Fatal(err)
			}
		}
		if sent, err := n.Barrier(waitCtx(t)); !sent || err != nil {
			t.Fatalf("Barrier = %v, %v", sent, err)
		}
		// No waiting: everything before the barrier is already recorded.
		if got := len(m.Messages()); got != 21 {
			t.Fatalf("after barrier the manager has %d messages, want 21", got)
		}
	})
	// A manager that does not read its socket holds the barrier's
	// descriptor, queued with the unread message.
	t.Run("timeout", func(t *testing.T) {
		r := listenRaw(t, shortPath(t))
		n := mustNotifier(t, lifecycle.Environment{NotifySocket: r.addr})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := n.Barrier(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "lifecycle: barrier") {
			t.Fatalf("Barrier = %v, want a lifecycle barrier error matching DeadlineExceeded", err)
		}
		r.answer()
		if _, err := n.Barrier(waitCtx(t)); err != nil {
			t.Fatalf("Barrier after release: %v", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		r := listenRaw(t, shortPath(t))
		n := mustNotifier(t, lifecycle.Environment{NotifySocket: r.addr})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err := n.Barrier(ctx)
		if !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Barrier = %v, want context.Canceled", err)
		}
	})
}
