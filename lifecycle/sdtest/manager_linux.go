//go:build linux

package sdtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

// StoredFile is a descriptor in the fake fd store.
type StoredFile struct {
	Name string
	File *os.File // owned by the Manager; do not close
	Poll bool     // false when sent with FDPOLL=0
}

// Manager is a fake service manager. Create it with NewManager.
type Manager struct {
	tb   testing.TB
	cfg  config
	addr string // $NOTIFY_SOCKET
	dir  string // holds the socket for path addresses

	mu        sync.Mutex
	cond      *sync.Cond // broadcast on every new message and on close
	msgs      []Message
	stored    []StoredFile
	notifiers []*lifecycle.Notifier // made by Notifier for a Manager without a test
	conn      *net.UnixConn
	readDone  chan struct{}
	closed    bool

	pressure *os.File // the memory pressure FIFO, held read-write; nil without WithMemoryPressure
}

type config struct {
	abstract   bool
	watchdog   time.Duration
	fdStoreMax int // -1: do not export $FDSTORE
	onMessage  func(Message)
	pressure   bool
}

// Option configures a Manager.
type Option func(*config)

// withAbstractSocket listens on an abstract socket (@name) instead of a
// path in a temporary directory.
func withAbstractSocket() Option { return func(c *config) { c.abstract = true } }

// WithWatchdog exports $WATCHDOG_USEC and $WATCHDOG_PID for this process.
func WithWatchdog(interval time.Duration) Option {
	return func(c *config) { c.watchdog = interval }
}

// WithFDStore exports $FDSTORE=max and lets the fake store keep up to max
// descriptors; without it the store behaves as FileDescriptorStoreMax=0
// and closes whatever it is sent.
func WithFDStore(max int) Option { return func(c *config) { c.fdStoreMax = max } }

// WithOnMessage calls fn for every message, in order, from the receiving
// goroutine, before the next message is read, before a barrier that
// follows it is released, and before Wait or Messages can see it: a Wait
// that returns the message returns after fn ran for it.
func WithOnMessage(fn func(Message)) Option { return func(c *config) { c.onMessage = fn } }

// WithMemoryPressure exports $MEMORY_PRESSURE_WATCH naming a FIFO, as a
// unit with Environment=MEMORY_PRESSURE_WATCH= would. Writing a byte to
// that FIFO (os.WriteFile(env.MemoryPressureWatch, []byte{1}, 0)) sends a
// memory pressure event: the Manager holds the FIFO open, so the write
// never blocks.
func WithMemoryPressure() Option { return func(c *config) { c.pressure = true } }

// NewManager starts a fake manager listening on a fresh socket. With a
// test's tb it closes when the test ends, and a failure (the socket cannot
// be created, a method cannot do its work) fails the test. With a nil tb,
// for examples and fixtures outside a test, the caller must Close it and
// such failures panic, as httptest.NewServer's do.
func NewManager(tb testing.TB, opts ...Option) *Manager {
	if tb != nil {
		tb.Helper()
	}
	m, err := start(tb, opts)
	if err != nil {
		if tb == nil {
			panic("sdtest: " + err.Error())
		}
		tb.Fatalf("sdtest: %v", err)
	}
	if tb != nil {
		tb.Cleanup(func() { m.Close() })
	}
	return m
}

func start(tb testing.TB, opts []Option) (*Manager, error) {
	cfg := config{fdStoreMax: -1}
	for _, o := range opts {
		o(&cfg)
	}
	m := &Manager{tb: tb, cfg: cfg}
	m.cond = sync.NewCond(&m.mu)
	if cfg.abstract {
		m.addr = "@sdtest-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	} else {
		// A short directory: sun_path holds 107 bytes and t.TempDir()
		// paths grow with the test's name.
		dir, err := os.MkdirTemp("", "sdtest")
		if err != nil {
			return nil, err
		}
		m.dir = dir
		m.addr = filepath.Join(dir, "notify")
	}
	if cfg.pressure {
		if err := m.makePressureFIFO(); err != nil {
			os.RemoveAll(m.dir)
			return nil, err
		}
	}
	if err := m.listen(); err != nil {
		if m.pressure != nil {
			m.pressure.Close()
		}
		os.RemoveAll(m.dir)
		return nil, err
	}
	return m, nil
}

// makePressureFIFO creates the memory pressure FIFO and holds it open
// read-write, so events can be sent before and after a watcher opens it.
func (m *Manager) makePressureFIFO() error {
	if m.dir == "" {
		dir, err := os.MkdirTemp("", "sdtest")
		if err != nil {
			return err
		}
		m.dir = dir
	}
	path := filepath.Join(m.dir, "memory.pressure")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return fmt.Errorf("mkfifo %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	m.pressure = f
	return nil
}

// fatalf fails the test, or panics for a Manager made without one.
func (m *Manager) fatalf(format string, args ...any) {
	if m.tb == nil {
		panic(fmt.Sprintf("sdtest: "+format, args...))
	}
	m.tb.Helper()
	m.tb.Fatalf("sdtest: "+format, args...)
}

// listen binds the socket and starts the receiving goroutine.
func (m *Manager) listen() error {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: m.addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("listen %s: %w", m.addr, err)
	}
	if err := setPassCred(conn); err != nil {
		conn.Close()
		return err
	}
	m.conn = conn
	m.readDone = make(chan struct{})
	go m.read(conn, m.readDone)
	return nil
}

func setPassCred(conn *net.UnixConn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil {
		return err
	}
	return serr
}

// Environment returns the variables a service started by this manager
// would see, for the current process.
func (m *Manager) Environment() lifecycle.Environment {
	env := lifecycle.Environment{NotifySocket: m.addr, PID: os.Getpid()}
	if m.cfg.watchdog > 0 {
		env.WatchdogUSec = strconv.FormatInt(m.cfg.watchdog.Microseconds(), 10)
		env.WatchdogPID = strconv.Itoa(os.Getpid())
	}
	if m.cfg.fdStoreMax >= 0 {
		env.FDStore = strconv.Itoa(m.cfg.fdStoreMax)
	}
	if m.pressure != nil {
		env.MemoryPressureWatch = m.pressure.Name()
	}
	return env
}

// Notifier returns a new lifecycle.Notifier connected to this manager; it
// is closed when the test ends (for a Manager made without a test: when
// the Manager is closed).
func (m *Manager) Notifier() *lifecycle.Notifier {
	n, err := lifecycle.NewNotifier(m.Environment())
	if err != nil {
		m.fatalf("%v", err)
	}
	if m.tb != nil {
		m.tb.Cleanup(func() { n.Close() })
	} else {
		m.mu.Lock()
		m.notifiers = append(m.notifiers, n)
		m.mu.Unlock()
	}
	return n
}

// Messages returns a copy of every message received so far.
func (m *Manager) Messages() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Message(nil), m.msgs...)
}

// Wait returns the first message, counting from the first one received,
// that match accepts, waiting for it until ctx is done; After narrows it
// to the messages after a given one. It returns an error when ctx is done
// first or the Manager is closed.
func (m *Manager) Wait(ctx context.Context, match func(Message) bool) (Message, error) {
	stop := context.AfterFunc(ctx, func() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	})
	defer stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for next := 0; ; {
		for ; next < len(m.msgs); next++ {
			if match(m.msgs[next]) {
				return m.msgs[next], nil
			}
		}
		if err := ctx.Err(); err != nil {
			return Message{}, fmt.Errorf("sdtest: no matching message among %d: %w", len(m.msgs), err)
		}
		if m.closed {
			return Message{}, errors.New("sdtest: manager closed")
		}
		m.cond.Wait()
	}
}

// Stored returns the fake fd store's content, in the order it was stored.
// The files stay owned by the Manager. An FDSTORE=1 message that found the
// store full has Message.StoreFull set.
func (m *Manager) Stored() []StoredFile {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]StoredFile(nil), m.stored...)
}

// Files returns duplicates of the stored descriptors as a lifecycle.Files,
// the way a restarted service receives them through $LISTEN_FDS. The
// store keeps its own copies.
func (m *Manager) Files() *lifecycle.Files {
	m.mu.Lock()
	defer m.mu.Unlock()
	files := make([]lifecycle.NamedFile, 0, len(m.stored))
	for _, s := range m.stored {
		var fd int
		err := control(s.File, func(raw int) (err error) {
			fd, err = unix.FcntlInt(uintptr(raw), unix.F_DUPFD_CLOEXEC, 0)
			return err
		})
		if err != nil {
			for _, f := range files {
				f.File.Close()
			}
			m.fatalf("dup stored descriptor: %v", err)
		}
		files = append(files, lifecycle.NamedFile{Name: s.Name, File: os.NewFile(uintptr(fd), s.Name)})
	}
	return lifecycle.NewFiles(files...)
}

// Close stops the manager, closes every descriptor it holds and removes
// its socket. It is called automatically when the test ends.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	conn, done := m.conn, m.readDone
	m.mu.Unlock()

	err := conn.Close()
	<-done

	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.stored {
		s.File.Close()
	}
	for _, n := range m.notifiers {
		n.Close()
	}
	if m.pressure != nil {
		m.pressure.Close()
	}
	m.stored, m.notifiers = nil, nil
	m.cond.Broadcast()
	if m.dir != "" {
		os.RemoveAll(m.dir)
	}
	return err
}

// read receives datagrams until conn is closed.
func (m *Manager) read(conn *net.UnixConn, done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, sdwire.MaxMessageSize+1)
	oob := make([]byte, unix.CmsgSpace(sdwire.MaxFDs*4)+unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		msg, files := parseDatagram(buf[:n], oob[:oobn])
		if n > sdwire.MaxMessageSize || flags&unix.MSG_CTRUNC != 0 {
			// PID 1 drops such messages; the test sees them marked.
			msg.Raw = "X_SDTEST_DROPPED=oversize"
		}
		m.record(msg, files)
	}
}

func parseDatagram(data, oob []byte) (Message, []*os.File) {
	msg := Message{Raw: string(data), Time: time.Now()}
	var files []*os.File
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return msg, nil
	}
	for _, c := range cmsgs {
		if cred, err := unix.ParseUnixCredentials(&c); err == nil {
			msg.PID, msg.UID, msg.GID = int(cred.Pid), int(cred.Uid), int(cred.Gid)
			continue
		}
		if fds, err := unix.ParseUnixRights(&c); err == nil {
			for _, fd := range fds {
				unix.CloseOnExec(fd)
				files = append(files, os.NewFile(uintptr(fd), "received"))
			}
		}
	}
	msg.NumFDs = len(files)
	return msg, files
}

// record stores a message and disposes of its descriptors as PID 1 would.
// The fd store is updated first, so that the message carries StoreFull;
// then WithOnMessage's callback runs; only then does the message become
// visible to Wait and Messages, waiters are woken and every other
// descriptor is closed (which releases a barrier), so that whoever waits
// for a message sees the callback's effects.
func (m *Manager) record(msg Message, files []*os.File) {
	m.mu.Lock()
	msg.Seq = len(m.msgs) + 1 // one receiving goroutine: no other record in between
	files = m.storeLocked(&msg, files)
	onMessage := m.cfg.onMessage
	m.mu.Unlock()

	if onMessage != nil {
		onMessage(msg)
	}
	m.mu.Lock()
	m.msgs = append(m.msgs, msg)
	m.cond.Broadcast()
	m.mu.Unlock()
	for _, f := range files {
		f.Close() // a barrier's descriptor: released once the message is visible
	}
}

// storeLocked applies FDSTORE=1 and FDSTOREREMOVE=1 to the fake store and
// returns the descriptors it did not keep, for the caller to close.
func (m *Manager) storeLocked(msg *Message, files []*os.File) []*os.File {
	switch {
	case msg.has("FDSTORE", "1"):
		name, ok := msg.Get("FDNAME")
		if !ok {
			name = "stored"
		}
		poll := !msg.has("FDPOLL", "0")
		var rest []*os.File
		for i, f := range files {
			// PID 1 checks the limit before it looks for a duplicate:
			// a descriptor it already stores is refused too when full.
			if len(m.stored) >= max(m.cfg.fdStoreMax, 0) {
				msg.StoreFull = true
				return append(rest, files[i:]...)
			}
			if m.alreadyStored(f) {
				rest = append(rest, f)
				continue
			}
			m.stored = append(m.stored, StoredFile{Name: name, File: f, Poll: poll})
		}
		return rest
	case msg.has("FDSTOREREMOVE", "1"):
		name, _ := msg.Get("FDNAME")
		kept := m.stored[:0]
		for _, s := range m.stored {
			if s.Name == name {
				s.File.Close()
				continue
			}
			kept = append(kept, s)
		}
		m.stored = kept
	}
	return files
}

// alreadyStored reports whether f refers to the same open file as a stored
// descriptor, which PID 1 ignores instead of storing twice.
func (m *Manager) alreadyStored(f *os.File) bool {
	st, ok := fstat(f)
	if !ok {
		return false
	}
	for _, s := range m.stored {
		if o, ok := fstat(s.File); ok && o.Dev == st.Dev && o.Ino == st.Ino {
			return true
		}
	}
	return false
}

func fstat(f *os.File) (st unix.Stat_t, ok bool) {
	err := control(f, func(fd int) error { return unix.Fstat(fd, &st) })
	return st, err == nil
}

// control runs fn on f's descriptor without (*os.File).Fd, which would
// switch the open file, shared with the sender's copy, to blocking mode.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
