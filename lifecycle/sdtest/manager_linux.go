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
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/lifecycle"
)

// StoredFile is a descriptor in the fake fd store.
type StoredFile struct {
	Name string
	File *os.File // owned by the Manager; do not close
	Poll bool     // false when sent with FDPOLL=0
}

// Manager is a fake service manager. Create it with NewManager in tests
// (it closes itself when the test ends) or with Start elsewhere.
type Manager struct {
	tb   testing.TB
	cfg  config
	addr string // $NOTIFY_SOCKET
	dir  string // holds the socket for path addresses

	mu        sync.Mutex
	cond      *sync.Cond // broadcast on every new message and on close
	msgs      []Message
	stored    []StoredFile
	full      []Message             // FDSTORE=1 messages the full store refused a descriptor of
	held      []*os.File            // barrier descriptors held back by HoldBarriers
	notifiers []*lifecycle.Notifier // made by Notifier for a Manager made by Start
	activated []*lifecycle.Files    // made by Activated for a Manager made by Start
	holding   bool
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

// WithAbstractSocket listens on an abstract socket (@name) instead of a
// path in a temporary directory.
func WithAbstractSocket() Option { return func(c *config) { c.abstract = true } }

// WithWatchdog exports $WATCHDOG_USEC and $WATCHDOG_PID for this process.
func WithWatchdog(interval time.Duration) Option {
	return func(c *config) { c.watchdog = interval }
}

// WithFDStore exports $FDSTORE=max and lets the fake store keep up to max
// descriptors; without it the store behaves as FileDescriptorStoreMax=0
// and closes whatever it is sent.
func WithFDStore(max int) Option { return func(c *config) { c.fdStoreMax = max } }

// WithOnMessage calls fn for every message, in order, from the receiving
// goroutine, before the next message is read and before a barrier that
// follows it is released.
func WithOnMessage(fn func(Message)) Option { return func(c *config) { c.onMessage = fn } }

// WithMemoryPressure exports $MEMORY_PRESSURE_WATCH naming a FIFO, as a
// unit with Environment=MEMORY_PRESSURE_WATCH= would; SignalMemoryPressure
// then sends an event through it.
func WithMemoryPressure() Option { return func(c *config) { c.pressure = true } }

// NewManager starts a fake manager listening on a fresh socket and closes
// it when the test ends. It fails the test if the socket cannot be created.
func NewManager(tb testing.TB, opts ...Option) *Manager {
	tb.Helper()
	m, err := start(tb, opts)
	if err != nil {
		tb.Fatalf("sdtest: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// Start starts a fake manager outside a test, for examples and fixtures.
// The caller must Close it. Methods that would fail a test panic instead
// when the Manager was made by Start, as httptest.NewServer does.
func Start(opts ...Option) (*Manager, error) { return start(nil, opts) }

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

// SignalMemoryPressure sends one memory pressure event through the FIFO
// made by WithMemoryPressure. It fails the test without that option.
func (m *Manager) SignalMemoryPressure() {
	if m.pressure == nil {
		m.fatalf("SignalMemoryPressure needs WithMemoryPressure")
		return
	}
	if _, err := m.pressure.Write([]byte{'!'}); err != nil {
		m.fatalf("signal memory pressure: %v", err)
	}
}

// fatalf fails the test, or panics for a Manager made by Start.
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
// is closed when the test ends (for a Manager made by Start: when the
// Manager is closed).
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

// Address returns the socket address in $NOTIFY_SOCKET notation.
func (m *Manager) Address() string { return m.addr }

// Messages returns a copy of every message received so far.
func (m *Manager) Messages() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Message(nil), m.msgs...)
}

// Wait returns the first message, counting from the first one received,
// that match accepts, waiting for it until ctx is done.
func (m *Manager) Wait(ctx context.Context, match Match) (Message, error) {
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

// Next returns the first message that match accepts among those the
// manager receives after the call, waiting for it until ctx is done: the
// next READY=1, say, rather than the first one ever (see Wait). The
// starting point is taken when Next is called, so a message sent after
// that cannot be missed, whenever the caller begins to wait. A message
// sent before the call but not yet read by the manager counts as new;
// a Notifier.Barrier from the sender settles that.
func (m *Manager) Next(ctx context.Context, match Match) (Message, error) {
	m.mu.Lock()
	seq := len(m.msgs)
	m.mu.Unlock()
	return m.Wait(ctx, After(seq, match))
}

// Activated returns a lifecycle.Files holding a duplicate of l's
// descriptor under name, as if the manager had passed l through socket
// activation (a socket unit with FileDescriptorName=name): give it to the
// code under test in place of lifecycle.TakeFiles. The caller keeps l and
// must close it; the Files, and the listener claimed from it, own the
// duplicate. Descriptors left unclaimed are closed when the test ends
// (for a Manager made by Start: when the Manager is closed).
func (m *Manager) Activated(l net.Listener, name string) *lifecycle.Files {
	sc, ok := l.(syscall.Conn)
	if !ok {
		m.fatalf("Activated: %T has no descriptor", l)
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		m.fatalf("Activated: %v", err)
		return nil
	}
	fd := -1
	var derr error
	if err := rc.Control(func(raw uintptr) {
		fd, derr = unix.FcntlInt(raw, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil || derr != nil {
		m.fatalf("Activated: dup: %v", errors.Join(err, derr))
		return nil
	}
	files := lifecycle.NewFiles(lifecycle.NamedFile{Name: name, File: os.NewFile(uintptr(fd), name)})
	if m.tb != nil {
		m.tb.Cleanup(func() { files.Close() })
	} else {
		m.mu.Lock()
		m.activated = append(m.activated, files)
		m.mu.Unlock()
	}
	return files
}

// Stored returns the fake fd store's content, in the order it was stored.
// The files stay owned by the Manager.
func (m *Manager) Stored() []StoredFile {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]StoredFile(nil), m.stored...)
}

// StoreFull returns the FDSTORE=1 messages that found the store full
// (FileDescriptorStoreMax= reached): the descriptors left were closed, and
// PID 1 logs "Cannot store more fds than FileDescriptorStoreMax=..., closing
// remaining." for each. A store without WithFDStore is always full.
func (m *Manager) StoreFull() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Message(nil), m.full...)
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

// HoldBarriers makes the manager keep barrier descriptors open instead of
// closing them, so that Notifier.Barrier times out; ReleaseBarriers closes
// the ones held and stops holding.
func (m *Manager) HoldBarriers() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.holding = true
}

// ReleaseBarriers closes the barrier descriptors held so far and answers
// later barriers at once again.
func (m *Manager) ReleaseBarriers() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.holding = false
	for _, f := range m.held {
		f.Close()
	}
	m.held = nil
}

// Replace re-creates the socket at the same address, as PID 1 does when it
// re-executes: a client still connected to the old socket must reconnect.
// Messages already received are kept.
func (m *Manager) Replace() {
	m.mu.Lock()
	conn, done := m.conn, m.readDone
	m.mu.Unlock()
	conn.Close()
	<-done
	if m.dir != "" {
		os.Remove(m.addr)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.listen(); err != nil {
		m.fatalf("replace socket: %v", err)
	}
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
	for _, f := range m.held {
		f.Close()
	}
	for _, n := range m.notifiers {
		n.Close()
	}
	if m.pressure != nil {
		m.pressure.Close()
	}
	for _, f := range m.activated {
		f.Close()
	}
	m.stored, m.held, m.notifiers, m.activated = nil, nil, nil, nil
	m.cond.Broadcast()
	if m.dir != "" {
		os.RemoveAll(m.dir)
	}
	return err
}

// read receives datagrams until conn is closed.
func (m *Manager) read(conn *net.UnixConn, done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, lifecycle.MaxMessageSize+1)
	oob := make([]byte, unix.CmsgSpace(lifecycle.MaxFDs*4)+unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		msg, files := parseDatagram(buf[:n], oob[:oobn])
		if n > lifecycle.MaxMessageSize || flags&unix.MSG_CTRUNC != 0 {
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
func (m *Manager) record(msg Message, files []*os.File) {
	m.mu.Lock()
	msg.Seq = len(m.msgs) + 1
	m.msgs = append(m.msgs, msg)
	onMessage := m.cfg.onMessage
	m.mu.Unlock()

	// The callback runs before the barrier below is released, so a test
	// that waits on a barrier also waits for its callbacks.
	if onMessage != nil {
		onMessage(msg)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.cond.Broadcast()
	switch {
	case msg.Has("FDSTORE", "1"):
		name, ok := msg.Get("FDNAME")
		if !ok {
			name = "stored"
		}
		poll := !msg.Has("FDPOLL", "0")
		for i, f := range files {
			// PID 1 checks the limit before it looks for a duplicate:
			// a descriptor it already stores is refused too when full.
			if len(m.stored) >= max(m.cfg.fdStoreMax, 0) {
				m.full = append(m.full, msg)
				for _, f := range files[i:] {
					f.Close()
				}
				return
			}
			if m.alreadyStored(f) {
				f.Close()
				continue
			}
			m.stored = append(m.stored, StoredFile{Name: name, File: f, Poll: poll})
		}
		return
	case msg.Has("FDSTOREREMOVE", "1"):
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
	case msg.Has("BARRIER", "1") && len(files) == 1 && m.holding:
		m.held = append(m.held, files[0])
		return
	}
	for _, f := range files {
		f.Close()
	}
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
