package httpadapter

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"syscall"

	"github.com/sdlife/sdlife/lifecycle"
)

// Source says where a listener came from.
type Source int

// The sources, in the order Listen tries them; Listen binds only when
// the manager handed nothing over.
const (
	SourceBound      Source = iota // bound by Listen
	SourceActivation               // passed by a socket unit
	SourceFDStore                  // passed back from the fd store after a restart
)

func (s Source) String() string {
	switch s {
	case SourceBound:
		return "bound"
	case SourceActivation:
		return "socket activation"
	case SourceFDStore:
		return "fd store"
	}
	return "Source(" + strconv.Itoa(int(s)) + ")"
}

// DefaultListenerName is the descriptor name Listen uses when
// ListenConfig.Name is empty.
const DefaultListenerName = "http"

// ErrInvalidListenConfig is returned for a ListenConfig that cannot work.
var ErrInvalidListenConfig = errors.New("httpadapter: invalid listen config")

// ListenConfig says where Listen finds or makes its listener.
type ListenConfig struct {
	// Name is the descriptor's name: FileDescriptorName= in the socket
	// unit, FDNAME= in the fd store. Zero means "http".
	Name string
	// Network is "tcp" (zero), "tcp4", "tcp6" or "unix".
	Network string
	// Address is bound when the manager handed nothing named Name over:
	// "host:port" for TCP, a path or "@abstract" name for unix. It may be
	// empty only when a descriptor is always handed over.
	Address string
	// Files holds the descriptors the manager passed (lifecycle.TakeFiles).
	// Nil means none.
	Files *lifecycle.Files
	// Notifier stores the listener in the fd store. Nil means no storing.
	Notifier *lifecycle.Notifier
	// FDStore is the manager's fd store (Environment.FDStoreLimit). The
	// listener is stored only when FDStore.Enabled(). systemd before 254
	// does not announce the store: a unit known to have
	// FileDescriptorStoreMax= can pass FDStoreLimit{Known: true, Max: n}.
	FDStore lifecycle.FDStoreLimit
	// Logger receives a line about descriptors Listen closes. Nil means
	// silent.
	Logger *slog.Logger
}

// Listen returns the service's listening socket, in one call:
//
//  1. a descriptor named cfg.Name that the manager passed in cfg.Files
//     (socket activation, or the fd store after a restart: both arrive
//     through $LISTEN_FDS, socket-unit descriptors first);
//  2. otherwise a socket bound to cfg.Address (for a unix path, a stale
//     socket file left by a dead process is removed first, see below);
//
// and then, when the fd store is enabled, stores the listener under
// cfg.Name with FDPOLL=0, so that the next start of the service gets the
// same socket back and the kernel queues connections in between.
//
// # Where the descriptor came from
//
// The manager does not say whether a passed descriptor came from a socket
// unit or from the fd store; Listen guesses, and the guess decides only
// the reported Source and whether to store:
//
//   - One descriptor named Name: from the fd store if the store is
//     enabled (cfg.FDStore.Enabled()), else from socket activation. It is
//     stored again either way when the store is enabled: PID 1 ignores a
//     descriptor that refers to an open file it already stores, so
//     storing after every start is harmless. A socket-activated listener
//     is never stored when the store is not known to be enabled.
//   - Several: the first is taken as the socket unit's (those come first)
//     and used; the others are closed. Those listening on the same address
//     are copies the store holds of the socket unit's socket, which is
//     harmless. Others are stale store entries, a socket from an earlier
//     configuration that would accept connections nobody serves: Listen
//     then asks the manager to drop every stored descriptor named Name
//     (FDSTOREREMOVE). Nothing is stored in this case; the socket unit
//     keeps its socket.
//
// A descriptor from the store keeps the address it was bound to: after
// changing Address, clear the store (systemctl stop, or systemctl clean
// --what=fdstore) so that the new address is bound.
//
// # Unix sockets
//
// Binding a path that exists fails, and a service killed without cleanup
// leaves its socket file behind. Listen removes the file only when it is
// a socket and a connection attempt is refused (nobody listens); a
// regular file or a live socket is an error. Another process could bind
// the path between the check and the removal; services that can race for
// a path need a lock of their own. When the listener is stored, closing
// it does not remove the path, which the stored socket still serves.
//
// An error from the manager's descriptors (one named Name that is not a
// listening socket, say) is returned, not papered over by binding.
func Listen(cfg ListenConfig) (net.Listener, Source, error) {
	if err := cfg.normalize(); err != nil {
		return nil, 0, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l, src, err := cfg.handedOver(log)
	if err != nil {
		return nil, 0, err
	}
	if l == nil {
		if cfg.Address == "" {
			return nil, 0, fmt.Errorf("%w: no descriptor named %q was passed and Address is empty", ErrInvalidListenConfig, cfg.Name)
		}
		if l, err = bind(cfg.Network, cfg.Address); err != nil {
			return nil, 0, err
		}
		src = SourceBound
	}
	if src != SourceActivation && cfg.FDStore.Enabled() {
		if err := cfg.store(l); err != nil {
			l.Close()
			return nil, 0, err
		}
	}
	return l, src, nil
}

// normalize fills in defaults and rejects what cannot work.
func (cfg *ListenConfig) normalize() error {
	if cfg.Name == "" {
		cfg.Name = DefaultListenerName
	}
	if !lifecycle.ValidFDName(cfg.Name) {
		return fmt.Errorf("%w: name %q: %w", ErrInvalidListenConfig, cfg.Name, lifecycle.ErrInvalidName)
	}
	if cfg.Network == "" {
		cfg.Network = "tcp"
	}
	switch cfg.Network {
	case "tcp", "tcp4", "tcp6":
		if cfg.Address == "" {
			return nil
		}
		if _, port, err := net.SplitHostPort(cfg.Address); err != nil {
			return fmt.Errorf("%w: address %q: %w", ErrInvalidListenConfig, cfg.Address, err)
		} else if !validPort(port) {
			return fmt.Errorf("%w: address %q: bad port %q", ErrInvalidListenConfig, cfg.Address, port)
		}
	case "unix":
		// sun_path holds 108 bytes including the terminating NUL.
		if len(cfg.Address) > 107 {
			return fmt.Errorf("%w: unix socket path of %d bytes, at most 107 fit", ErrInvalidListenConfig, len(cfg.Address))
		}
	default:
		return fmt.Errorf("%w: network %q: want tcp, tcp4, tcp6 or unix", ErrInvalidListenConfig, cfg.Network)
	}
	return nil
}

// validPort accepts a port number or a named port ("http") as net.Listen
// does; "" means any port.
func validPort(s string) bool {
	if s == "" {
		return true
	}
	if _, err := strconv.ParseUint(s, 10, 16); err == nil {
		return true
	}
	if len(s) > 15 {
		return false
	}
	letter := false
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9' || c == '-':
		default:
			return false
		}
	}
	return letter
}

// handedOver claims the descriptors named cfg.Name; l is nil when there
// are none.
func (cfg *ListenConfig) handedOver(log *slog.Logger) (l net.Listener, src Source, err error) {
	ls, err := cfg.Files.Listeners(cfg.Name)
	if errors.Is(err, lifecycle.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("httpadapter: listener %q passed by the manager: %w", cfg.Name, err)
	}
	if len(ls) == 1 {
		if cfg.FDStore.Enabled() {
			return ls[0], SourceFDStore, nil
		}
		return ls[0], SourceActivation, nil
	}
	first, stale := ls[0], false
	for _, extra := range ls[1:] {
		same := extra.Addr().String() == first.Addr().String()
		stale = stale || !same
		log.Info("httpadapter: closing an extra listener passed under the same name",
			"name", cfg.Name, "addr", extra.Addr().String(), "using", first.Addr().String(), "stale", !same)
		extra.Close()
	}
	if stale {
		if _, err := cfg.Notifier.FDStoreRemove(cfg.Name); err != nil {
			first.Close()
			return nil, 0, fmt.Errorf("httpadapter: removing stale stored listeners %q: %w", cfg.Name, err)
		}
	}
	return first, SourceActivation, nil
}

// store hands l to the fd store, with FDPOLL=0: a listening socket never
// reports POLLHUP in a way that should make PID 1 drop it.
func (cfg *ListenConfig) store(l net.Listener) error {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return fmt.Errorf("httpadapter: storing listener %q: %T has no descriptor", cfg.Name, l)
	}
	if ul, ok := l.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // the stored socket still serves the path
	}
	if _, err := cfg.Notifier.FDStoreNoPoll(cfg.Name, sc); err != nil {
		return fmt.Errorf("httpadapter: storing listener %q: %w", cfg.Name, err)
	}
	return nil
}
