package httpserve

import (
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/sdlife/sdlife/internal/logs"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

// Idle keep-alive connections can outlive a restart: the old process hands
// them to the manager's fd store (ConnStore) instead of closing them, and
// the new process takes them back (ListenConfig.AdoptConns) and serves
// them as if it had accepted them (NewHandoverListener). The client sees
// no close at all. systemd-journald keeps its clients' stream connections
// across its own restarts the same way.

// connNameInfix separates the listener's name from the rest of the name
// connections are stored under: "http-conn-<pid>-<batch>".
const connNameInfix = "-conn-"

// connPrefix is the FDNAME prefix of the connections of the listener
// named name.
func connPrefix(name string) string { return name + connNameInfix }

// errNotHandoverable says why a connection cannot be handed over; Store
// leaves such connections to the caller.
var errNotHandoverable = errors.New("httpadapter: connection cannot be handed over")

// ConnStore hands idle HTTP/1.1 connections of one listener to the fd
// store. It counts what it stored against the store's limit, since the
// manager silently closes descriptors beyond FileDescriptorStoreMax=
// without telling the sender. A nil *ConnStore stores nothing. It is safe
// for concurrent use.
type ConnStore struct {
	notifier *lifecycle.Notifier
	prefix   string // "<name>-conn-<pid>-"

	mu    sync.Mutex
	room  int // descriptors the store can still take
	batch int // last batch number used
}

// MaxStoredDescriptors is the most descriptors a ConnStore fills the fd
// store to, listeners included, whatever FileDescriptorStoreMax= allows.
// systemd passes the stored descriptors to the next process from fd 3
// upwards, and the start fails ("Failed at step FDS") when one would land
// at or above that process's soft RLIMIT_NOFILE, 1024 unless the unit
// raises LimitNOFILE=; measured on systemd 262 with 2,001 stored.
const MaxStoredDescriptors = 1021

// ConnStore returns a ConnStore for the connections of the listener
// cfg.Name, sending through cfg.Notifier. inUse is how many descriptors
// the service keeps in the store besides connections (its stored
// listeners, one per Listen with the store enabled): they count against
// cfg.FDStore.Max, itself capped at MaxStoredDescriptors. When the store
// is not known to be enabled, or there is no notifier, the ConnStore has
// no room and Store hands nothing over.
func (cfg *ListenConfig) ConnStore(inUse int) (*ConnStore, error) {
	c := *cfg
	if err := c.normalize(); err != nil {
		return nil, err
	}
	// The longest suffix: a pid and a batch number of up to 19 digits each.
	if len(c.Name)+len(connNameInfix)+2*19+1 > 255 {
		return nil, fmt.Errorf("%w: name %q too long to name connections after", ErrInvalidListenConfig, c.Name)
	}
	s := &ConnStore{
		notifier: c.Notifier,
		prefix:   connPrefix(c.Name) + strconv.Itoa(os.Getpid()) + "-",
	}
	if sdwire.NotifierOf(c.Notifier).Enabled() && c.FDStore.Enabled() {
		s.room = max(min(c.FDStore.Max, MaxStoredDescriptors)-inUse, 0)
	}
	return s, nil
}

// Room returns how many more connections Store can hand over.
func (s *ConnStore) Room() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.room
}

// Store hands conns to the fd store, up to sdwire.MaxFDs (253) in each
// message under a name of its own, and returns those it stored and the
// rest. The caller closes the stored ones (the manager holds a
// duplicate, so the client notices nothing) and falls back to the
// ordinary close for the rest: those not plain TCP (TLS included, found
// through NetConn) and those beyond the store's room. err reports a
// message the manager could not be sent; its connections are in rest.
//
// Each connection must be at a request boundary with no goroutine
// reading from it: its response written, nothing read ahead by the
// server. Server parks connections so (see ServerConfig.ConnStore); bytes
// still in the socket's buffer then travel with it to the next process,
// which answers them. The connections are stored with polling on (no
// FDPOLL=0): the manager drops a stored connection that reports POLLHUP
// or POLLERR, that is one the peer reset or that is closed for good; the
// next process could not serve it anyway, and it no longer takes a place
// in the store. A peer's orderly close (FIN) raises no POLLHUP: such a
// connection stays stored until the next process finds it closed
// (AdoptConns). Success means the messages were queued; before exiting,
// Notifier.Barrier confirms that the manager has read them.
func (s *ConnStore) Store(conns []net.Conn) (stored, rest []net.Conn, err error) {
	if s == nil || len(conns) == 0 {
		return nil, conns, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ok []net.Conn
	var socks []syscall.Conn
	for _, c := range conns {
		sc, cerr := tcpSocket(c)
		if cerr != nil || len(ok) >= s.room {
			rest = append(rest, c)
			continue
		}
		ok = append(ok, c)
		socks = append(socks, sc)
	}
	for start := 0; start < len(ok); start += sdwire.MaxFDs {
		end := min(start+sdwire.MaxFDs, len(ok))
		name := s.prefix + strconv.Itoa(s.batch+1)
		if _, err = s.notifier.FDStore(name, socks[start:end]...); err != nil {
			rest = append(rest, ok[start:]...)
			return stored, rest, fmt.Errorf("storing %d connections: %w", len(ok)-start, err) // err carries lifecycle's prefix
		}
		s.batch++
		s.room -= end - start
		stored = append(stored, ok[start:end]...)
	}
	return stored, rest, nil
}

// tcpSocket finds the TCP socket under c, unwrapping NetConn; a TLS
// connection cannot be handed over, since its session state lives in
// this process.
func tcpSocket(c net.Conn) (syscall.Conn, error) {
	for range 8 {
		switch v := c.(type) {
		case *net.TCPConn:
			return v, nil
		case *tls.Conn:
			return nil, fmt.Errorf("%w: TLS", errNotHandoverable)
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil, fmt.Errorf("%w: %T is not TCP", errNotHandoverable, c)
		}
	}
	return nil, fmt.Errorf("%w: wrapped too deep", errNotHandoverable)
}

// AdoptConns takes back the connections an earlier process stored for the
// listener cfg.Name (see ConnStore) from cfg.Files. Each must still be a
// connected TCP socket whose peer has not closed it; any other descriptor
// under a connection name (a regular file, a UDP or unix socket, a
// listening socket, a connection the peer closed or reset) is closed with
// a log line. Every name found is then removed from the store
// (FDSTOREREMOVE), valid connections included, so that none is served
// twice and none is left behind. Listen calls it; use it directly only
// with a Files that Listen did not see.
//
// On error (the removal could not be sent) the connections are closed and
// nil is returned: they stay in the store, and serving them now could
// serve them twice.
func (cfg *ListenConfig) AdoptConns() ([]net.Conn, error) {
	conns, names, err := cfg.adoptConns()
	if err != nil {
		return nil, err
	}
	if err := cfg.releaseStored(names); err != nil {
		for _, conn := range conns {
			conn.Close()
		}
		return nil, err
	}
	return conns, nil
}

// adoptConns is AdoptConns without the removal: it returns the names to
// remove.
func (cfg *ListenConfig) adoptConns() (conns []net.Conn, names []string, err error) {
	c := *cfg
	if err := c.normalize(); err != nil {
		return nil, nil, err
	}
	log := logs.OrDiscard(c.Logger)
	prefix := connPrefix(c.Name)
	for _, n := range c.Files.Names() {
		if strings.HasPrefix(n, prefix) && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	dropped := 0
	for _, name := range names {
		for {
			f, err := c.Files.File(name)
			if err != nil {
				break // ErrNotFound: all claimed
			}
			conn, err := adoptConn(f)
			f.Close()
			if err != nil {
				dropped++
				log.Warn("httpadapter: closing a stored connection that cannot be served", "name", name, "err", err)
				continue
			}
			conns = append(conns, conn)
		}
	}
	if len(names) > 0 {
		log.Info("httpadapter: took over connections from the fd store", "name", c.Name, "adopted", len(conns), "closed", dropped)
	}
	return conns, names, nil
}

// releaseStored asks the manager to drop its copies of the connections
// stored under names (FDSTOREREMOVE).
func (cfg *ListenConfig) releaseStored(names []string) error {
	for _, name := range names {
		if _, err := cfg.Notifier.FDStoreRemove(name); err != nil {
			return fmt.Errorf("removing stored connections %q: %w", name, err) // err carries lifecycle's prefix
		}
	}
	return nil
}

// adoptConn checks that f is a connected TCP socket with a live peer and
// returns it as a net.Conn of its own; f stays the caller's.
func adoptConn(f *os.File) (net.Conn, error) {
	if err := checkStoredConn(f); err != nil {
		return nil, err
	}
	return net.FileConn(f)
}

// NewHandoverListener returns a listener whose Accept first returns conns,
// connections taken over from an earlier process, and then accepts from
// l. Close closes l and those of conns not accepted yet. It is safe for
// concurrent use.
func NewHandoverListener(l net.Listener, conns []net.Conn) net.Listener {
	return &handoverListener{Listener: l, conns: slices.Clone(conns)}
}

type handoverListener struct {
	net.Listener
	mu     sync.Mutex
	conns  []net.Conn // not accepted yet
	closed bool       // Close was called: inject takes nothing more
	wake   bool       // inject set a deadline in the past to wake Accept
}

var _ net.Listener = (*handoverListener)(nil)

func (l *handoverListener) Accept() (net.Conn, error) {
	c, _, err := l.acceptAdopted()
	return c, err
}

// acceptAdopted is Accept that also says whether the connection is one
// handed over (see parkListener).
func (l *handoverListener) acceptAdopted() (net.Conn, bool, error) {
	for {
		l.mu.Lock()
		if len(l.conns) > 0 {
			c := l.conns[0]
			l.conns[0] = nil
			l.conns = l.conns[1:]
			l.mu.Unlock()
			return c, true, nil
		}
		l.mu.Unlock()
		c, err := l.Listener.Accept()
		if err != nil && l.woken() {
			continue // inject's deadline, not a failure: take what it queued
		}
		return c, false, err
	}
}

// deadliner is a listener whose Accept a deadline can interrupt
// (*net.TCPListener, *net.UnixListener).
type deadliner interface{ SetDeadline(time.Time) error }

// inject queues conns, connections between two requests, for Accept to
// yield before the next new one, and wakes an Accept that is waiting for
// a new one (a deadline in the past). It reports false, taking nothing,
// once the listener is closed or when Accept cannot be woken. Deadline
// and flag change together under mu, so that woken never leaves a
// deadline in the past behind.
func (l *handoverListener) inject(conns []net.Conn) bool {
	d, ok := l.Listener.(deadliner)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || !ok {
		return false
	}
	l.conns = append(l.conns, conns...)
	l.wake = true
	_ = d.SetDeadline(time.Unix(1, 0))
	return true
}

// woken reports whether an Accept error came from inject's deadline, and
// clears it.
func (l *handoverListener) woken() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.wake {
		return false
	}
	l.wake = false
	_ = l.Listener.(deadliner).SetDeadline(time.Time{})
	return true
}

// takeAdopted removes and returns the handed-over connections nobody has
// accepted yet, for a drain that stores them again.
func (l *handoverListener) takeAdopted() []net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	conns := l.conns
	l.conns = nil
	return conns
}

func (l *handoverListener) Close() error {
	l.mu.Lock()
	conns := l.conns
	l.conns = nil
	l.closed = true
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return l.Listener.Close()
}

// Close makes the store take nothing more: a drain that follows closes
// idle connections with "Connection: close" instead of handing them over.
// For a process that is no longer the main one (after an upgrade), whose
// FDSTORE=1 the manager would ignore.
func (s *ConnStore) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.room = 0
}
