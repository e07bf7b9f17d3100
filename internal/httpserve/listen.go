package httpserve

import (
	"context"
	"errors"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/logs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sdlife/sdlife/internal/sdwire"
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
	// ListenConfig holds the user's settings.
	httpadapter.ListenConfig

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
	// Release says when the connections Listen takes back from the fd
	// store (see ConnStore) are removed from it. Zero is ReleaseAtOnce.
	Release StoreRelease
}

// StoreRelease says when Listen asks the manager to drop its copies of the
// connections it took back.
type StoreRelease int

const (
	// ReleaseAtOnce: Listen removes them before it returns.
	ReleaseAtOnce StoreRelease = iota
	// ReleaseByCaller: the caller calls ListenResult.ReleaseStored once
	// it has sent READY=1. systemd closes each dropped copy with some
	// work of its own (tens of milliseconds for a few hundred), which
	// then no longer delays READY=1 and the systemctl call waiting for
	// it. Until then a copy stays in the store: a stop before it hands
	// the connection over again, and the store keeps it once.
	ReleaseByCaller
)

// ListenResult is what Listen found, and what it had to change.
type ListenResult struct {
	Listener net.Listener
	Source   Source
	// Replaced is the address of a listener the fd store handed back that
	// was not bound to ListenConfig.Address: Listen closed it, removed it
	// from the store and bound Address instead (Source is then
	// SourceBound). Nil when nothing was replaced.
	Replaced net.Addr
	// Mismatch is ListenConfig.Address when the socket unit's listener is
	// bound elsewhere. The socket unit owns the address, so its listener
	// is used anyway; "" when the addresses agree.
	Mismatch string
	// Adopted is how many connections an earlier process handed over
	// (see ConnStore) Listener returns from Accept before new ones.
	Adopted int
	// Unbound is ListenConfig.Address when it could not be bound in place
	// of the listener the fd store handed back: Listen kept serving on
	// that one (or, when both share a port, bound its address again), and
	// BindErr says why. "" when the configured address is served.
	Unbound string
	BindErr error
	// Backlog is the listen backlog set on Listener, as the kernel applies
	// it where net.core.somaxconn is readable; 0 when Listen left it alone
	// (a socket unit's listener).
	Backlog int

	release func() error // with ReleaseByCaller: drops the store's copies
}

// ReleaseStored asks the manager to drop its copies of the connections
// Listen took back, with ListenConfig.Release set to ReleaseByCaller; it
// does nothing otherwise, and nothing the second time.
func (r *ListenResult) ReleaseStored() error {
	if r.release == nil {
		return nil
	}
	release := r.release
	r.release = nil
	return release()
}

// Notice is one line for the log and STATUS about a replaced listener or
// an address mismatch, or "" when there is nothing to say.
func (r ListenResult) Notice() string {
	switch {
	case r.Unbound != "" && r.Listener != nil:
		return "cannot listen on the configured " + r.Unbound + " (" + r.BindErr.Error() + "); serving " + r.Listener.Addr().String()
	case r.Replaced != nil && r.Listener != nil:
		return "listen address changed from " + r.Replaced.String() + " to " + r.Listener.Addr().String()
	case r.Mismatch != "" && r.Listener != nil:
		return "listening on " + r.Listener.Addr().String() + " as the socket unit says, not on the configured " + r.Mismatch
	}
	return ""
}

// removeTimeout bounds the wait for the manager to close a replaced
// listener, whose address may overlap the one to bind.
const removeTimeout = 5 * time.Second

// Listen is cfg.Listen without the report: the listener and its Source.
// The Logger still receives the line about a replaced listener or an
// address mismatch.
func Listen(cfg ListenConfig) (net.Listener, Source, error) {
	r, err := cfg.Listen()
	return r.Listener, r.Source, err
}

// Listen returns the service's listening socket: the one named cfg.Name
// that the manager passed in cfg.Files (socket activation or the fd
// store), when it is on cfg.Address as AddrMatches says (an empty Address
// accepts any; a socket unit's is used anyway, see ListenResult.Mismatch);
// otherwise a socket bound to cfg.Address, in place of a stored one
// elsewhere (ListenResult.Replaced). cfg.Backlog is set on every listener
// but a socket unit's. A socket bound now is stored when cfg.FDStore is
// enabled, so that the next start gets it back. Connections an earlier
// process handed over (ConnStore) are taken back, released as cfg.Release
// says, and yielded by Accept first (ListenResult.Adopted); the Listener
// is then not a *net.TCPListener. cfg is not modified.
//
// A configured address that cannot be bound in place of a stored listener
// is no error: the stored one is served, and ListenResult.Unbound and
// BindErr say why. Errors: an invalid cfg (ErrInvalidListenConfig), a bad
// descriptor from the manager (not papered over by binding), a failed bind
// or store.
func (cfg *ListenConfig) Listen() (ListenResult, error) {
	c := *cfg
	if err := c.normalize(); err != nil {
		return ListenResult{}, err
	}
	log := logs.OrDiscard(c.Logger)
	l, src, err := c.handedOver(log)
	if err != nil {
		return ListenResult{}, err
	}
	var res ListenResult
	if l != nil && c.Address != "" {
		if l, src, err = c.checkPassed(l, src, &res, log); err != nil {
			return ListenResult{}, err
		}
	}
	if l == nil {
		if c.Address == "" {
			return ListenResult{}, fmt.Errorf("%w: no descriptor named %q was passed and Address is empty", ErrInvalidListenConfig, c.Name)
		}
		if l, err = bind(c.Network, c.Address); err != nil {
			return ListenResult{}, err
		}
		src = SourceBound
	}
	if src != SourceActivation {
		res.Backlog = c.applyBacklog(l, log)
	}
	// A socket in the fd store comes back at the next start, and the
	// kernel queues connections on it in between. Only a socket bound now
	// is stored: one handed back by the fd store is in it already, and storing it again while the store is full of
	// handed-over connections (released only after READY=1) makes PID 1
	// log "Cannot store more fds than FileDescriptorStoreMax=".
	if src == SourceBound && c.FDStore.Enabled() {
		if err := c.store(l); err != nil {
			l.Close()
			return ListenResult{}, err
		}
	}
	res.Listener, res.Source = l, src
	if err := c.adopt(&res); err != nil {
		l.Close()
		return ListenResult{}, err
	}
	c.logChange(res, l, log)
	return res, nil
}

// checkPassed compares l, the listener the manager passed as src, with
// cfg.Address, and returns the listener to serve, noting in res what it
// changed.
//
// The configured address wins over the fd store: a stored listener that
// is not bound to cfg.Address is replaced (see move: ListenResult.Replaced
// holds the old address), unless cfg.Address cannot be bound (a typo, a
// port another process holds, an address no interface has): then the
// stored listener is kept and served, still stored, ListenResult.Unbound
// and BindErr say so, Listen logs an ERROR line, and the service does not
// fail over a configuration mistake. A socket unit owns its address: its
// listener is used whatever cfg.Address says, and a difference is
// reported in ListenResult.Mismatch. A host name that does not resolve
// cannot be compared: the passed listener is kept, with a warning.
//
// A unit with both a socket unit and FileDescriptorStoreMax= gets one
// descriptor on its first start, which handedOver attributes to the
// store: if its address differs from cfg.Address, the socket unit's
// listener is replaced. Keep cfg.Address empty or equal to ListenStream=
// in such units.
func (cfg *ListenConfig) checkPassed(l net.Listener, src Source, res *ListenResult, log *slog.Logger) (net.Listener, Source, error) {
	match, err := AddrMatches(l.Addr(), cfg.Network, cfg.Address)
	switch {
	case err != nil:
		log.Warn("httpadapter: cannot compare the passed listener with the configured address; using it",
			"name", cfg.Name, "addr", l.Addr().String(), "configured", cfg.Address, "err", err)
	case match:
	case src == SourceActivation:
		res.Mismatch = cfg.Address
		log.Warn("httpadapter: the socket unit's listener is not on the configured address; the socket unit decides",
			"name", cfg.Name, "addr", l.Addr().String(), "configured", cfg.Address)
	default:
		old := l.Addr()
		var bindErr error
		if l, src, bindErr, err = cfg.move(l, log); err != nil {
			return nil, 0, err
		}
		if bindErr != nil {
			res.Unbound, res.BindErr = cfg.Address, bindErr
		} else {
			res.Replaced = old
		}
	}
	return l, src, nil
}

// applyBacklog sets cfg.Backlog (or the default, see backlogFor) on l and
// returns it, or 0 when the kernel refused.
func (cfg *ListenConfig) applyBacklog(l net.Listener, log *slog.Logger) int {
	n := backlogFor(cfg.Backlog, log)
	if err := setBacklog(l, n); err != nil {
		// The socket listens all the same, with the backlog it had.
		log.Warn("httpadapter: cannot set the listen backlog; the socket keeps the one it has",
			"name", cfg.Name, "addr", l.Addr().String(), "backlog", n, "err", err)
		return 0
	}
	return n
}

// adopt takes back the connections an earlier process handed to the fd
// store (AdoptConns) and makes res.Listener yield them first; with
// ReleaseByCaller their store copies stay until res.ReleaseStored.
func (cfg *ListenConfig) adopt(res *ListenResult) error {
	var conns []net.Conn
	switch cfg.Release {
	case ReleaseByCaller:
		var names []string
		var err error
		if conns, names, err = cfg.adoptConns(); err != nil {
			return err
		}
		if len(names) > 0 {
			res.release = func() error { return cfg.releaseStored(names) }
		}
	default:
		var err error
		if conns, err = cfg.AdoptConns(); err != nil {
			return err
		}
	}
	if len(conns) > 0 {
		res.Listener, res.Adopted = NewHandoverListener(res.Listener, conns), len(conns)
	}
	return nil
}

// logChange logs a replaced listener (a warning) or a configured address
// that could not be bound (an error); l is the listener served.
func (cfg *ListenConfig) logChange(res ListenResult, l net.Listener, log *slog.Logger) {
	switch {
	case res.Replaced != nil:
		log.Warn("httpadapter: "+res.Notice(), "name", cfg.Name, "from", res.Replaced.String(), "to", l.Addr().String())
	case res.Unbound != "":
		log.Error("httpadapter: cannot listen on the configured address; serving the previous one",
			"name", cfg.Name, "configured", res.Unbound, "addr", l.Addr().String(), "err", res.BindErr)
	}
}

// move binds cfg.Address in place of old, a listener from the fd store
// that is bound elsewhere. The new socket is bound first and old is
// dropped (closed, removed from the store) only then, so an address that
// cannot be bound costs nothing: old is returned with its Source, and
// bindErr says why. The new socket is stored by the caller, after
// old's removal, so that the store never holds both.
//
// When both share a port, the new address may overlap old's (0.0.0.0:8080
// and 127.0.0.1:8080) and the kernel refuses the bind because of old
// itself. Then old must go first; if the new address still cannot be
// bound, old's address is bound again (the connections queued on old are
// lost, but the service keeps its address) and bindErr is set.
func (cfg *ListenConfig) move(old net.Listener, log *slog.Logger) (l net.Listener, src Source, bindErr, err error) {
	l, bindErr = listenOn(cfg.Network, cfg.Address)
	if bindErr == nil {
		if err := cfg.drop(old, log); err != nil {
			l.Close()
			return nil, 0, nil, err
		}
		return l, SourceBound, nil, nil
	}
	if !errors.Is(bindErr, syscall.EADDRINUSE) || !samePort(old.Addr(), cfg.Network, cfg.Address) {
		return old, SourceFDStore, bindErr, nil
	}
	oldAddr := old.Addr()
	if err := cfg.drop(old, log); err != nil {
		return nil, 0, nil, err
	}
	if l, bindErr = listenOn(cfg.Network, cfg.Address); bindErr == nil {
		return l, SourceBound, nil, nil
	}
	if l, err = listenOn(oldAddr.Network(), oldAddr.String()); err != nil {
		return nil, 0, nil, fmt.Errorf("httpadapter: listen: %w; binding the previous %s again: %w", bindErr, oldAddr, err)
	}
	return l, SourceBound, bindErr, nil
}

// samePort reports whether address asks for the TCP port a is bound to.
func samePort(a net.Addr, network, address string) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	_, port, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	p, err := net.LookupPort(network, port)
	return err == nil && p == ta.Port
}

// drop closes a stored listener that is not on the configured address and
// removes it from the store, waiting until the manager has closed its
// copy: the address to bind may overlap (0.0.0.0:8080 and
// 127.0.0.1:8080). A stale unix socket file left at the old path is
// removed.
func (cfg *ListenConfig) drop(l net.Listener, log *slog.Logger) error {
	old := l.Addr()
	l.Close()
	if _, err := cfg.Notifier.FDStoreRemove(cfg.Name); err != nil {
		return fmt.Errorf("removing stored listener %q on %s: %w", cfg.Name, old, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
	defer cancel()
	if _, err := cfg.Notifier.Barrier(ctx); err != nil {
		// Binding may still work; if not, its error says why.
		log.Warn("httpadapter: the manager did not confirm removing the old listener", "name", cfg.Name, "addr", old.String(), "err", err)
	}
	if ua, ok := old.(*net.UnixAddr); ok && ua.Name != "" && !strings.HasPrefix(ua.Name, "@") {
		if err := removeStaleSocket(ua.Name); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Info("httpadapter: left the old socket path in place", "path", ua.Name, "err", err)
		}
	}
	return nil
}

// CheckListen returns what is wrong with c, one problem per entry, each
// starting with the field's name; nil when c can work.
func CheckListen(c httpadapter.ListenConfig) []string {
	var errs []string
	if c.Name != "" && !sdwire.ValidFDName(c.Name) {
		errs = append(errs, fmt.Sprintf("Name %q: want 1 to 255 ASCII characters, no control characters and no ':'", c.Name))
	}
	if c.Backlog < 0 {
		errs = append(errs, fmt.Sprintf("Backlog %d: want 0 (the default) or more", c.Backlog))
	}
	switch c.Network {
	case "", "tcp", "tcp4", "tcp6":
		if c.Address == "" {
			break
		}
		if _, port, err := net.SplitHostPort(c.Address); err != nil {
			errs = append(errs, fmt.Sprintf("Address %q: %v", c.Address, err))
		} else if !validPort(port) {
			errs = append(errs, fmt.Sprintf("Address %q: bad port %q", c.Address, port))
		}
	case "unix":
		// sun_path holds 108 bytes including the terminating NUL.
		if len(c.Address) > 107 {
			errs = append(errs, fmt.Sprintf("Address: unix socket path of %d bytes, at most 107 fit", len(c.Address)))
		}
	default:
		errs = append(errs, fmt.Sprintf("Network %q: want tcp, tcp4, tcp6 or unix", c.Network))
	}
	return errs
}

// normalize fills in defaults and rejects what cannot work.
func (cfg *ListenConfig) normalize() error {
	if errs := CheckListen(cfg.ListenConfig); len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidListenConfig, strings.Join(errs, "; "))
	}
	if cfg.Release != ReleaseAtOnce && cfg.Release != ReleaseByCaller {
		return fmt.Errorf("%w: unknown StoreRelease %d", ErrInvalidListenConfig, cfg.Release)
	}
	if cfg.Name == "" {
		cfg.Name = DefaultListenerName
	}
	if cfg.Network == "" {
		cfg.Network = "tcp"
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
// are none. Socket activation and the fd store both pass descriptors
// through $LISTEN_FDS, socket-unit descriptors first.
//
// The manager does not say whether a passed descriptor came from a socket
// unit or from the fd store; handedOver guesses, and the guess decides the
// reported Source, whether Listen stores it, and what a differing address
// means (see checkPassed):
//
//   - One descriptor named Name: from the fd store if the store is
//     enabled (cfg.FDStore.Enabled()), else from socket activation. It is
//     not stored again: either the store holds it already, or the socket
//     unit does. (PID 1 would ignore the duplicate, but only after
//     checking FileDescriptorStoreMax=, which the connections handed over
//     with it may fill until they are released.)
//   - Several: the first is taken as the socket unit's (those come first)
//     and used; the others are closed. Those listening on the same address
//     are copies the store holds of the socket unit's socket, which is
//     harmless. Others are stale store entries, a socket from an earlier
//     configuration that would accept connections nobody serves: then
//     every stored descriptor named Name is dropped (FDSTOREREMOVE).
//     Nothing is stored in this case; the socket unit keeps its socket.
func (cfg *ListenConfig) handedOver(log *slog.Logger) (l net.Listener, src Source, err error) {
	ls, err := cfg.Files.Listeners(cfg.Name)
	if errors.Is(err, lifecycle.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("listener %q passed by the manager: %w", cfg.Name, err)
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
			return nil, 0, fmt.Errorf("removing stale stored listeners %q: %w", cfg.Name, err)
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
		return fmt.Errorf("storing listener %q: %w", cfg.Name, err) // err carries lifecycle's prefix
	}
	return nil
}

// AddrMatches reports whether a, the address a socket is bound to, is what
// network and address ask for, as the kernel would see them: Listen keeps
// a passed listener that matches. A reload can use it to tell whether a
// changed address needs a restart. The error says that address could not
// be resolved, so that nothing can be said.
//
// "localhost:8080" matches a socket on 127.0.0.1:8080 or [::1]:8080; a
// wildcard host ("", "0.0.0.0", "::") matches a socket bound to a
// wildcard address of the network's family (any family for "tcp", whose
// wildcard listens on both); a named port is looked up. Port 0 (or no
// port) means "any port": a stored socket on the configured host is kept
// whatever its port, so that the port stays the same across restarts. A
// unix path matches the path the socket was bound to (a relative path
// also matches its absolute form).
func AddrMatches(a net.Addr, network, address string) (bool, error) {
	if network == "" {
		network = "tcp"
	}
	switch network {
	case "unix":
		ua, ok := a.(*net.UnixAddr)
		return ok && sameUnixPath(ua.Name, address), nil
	case "tcp", "tcp4", "tcp6":
	default:
		return false, fmt.Errorf("httpadapter: network %q: want tcp, tcp4, tcp6 or unix", network)
	}
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false, nil
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return false, fmt.Errorf("httpadapter: address %q: %w", address, err)
	}
	// The port first: a port that differs needs no host lookup.
	match, err := portMatches(network, port, ta.Port)
	if err == nil && match {
		match, err = hostMatches(network, host, ta)
	}
	if err != nil {
		return false, fmt.Errorf("httpadapter: address %q: %w", address, err)
	}
	return match, nil
}

// portMatches reports whether port (a number, a name to look up, or ""
// for any) asks for bound; port 0 means any port too.
func portMatches(network, port string, bound int) (bool, error) {
	if port == "" {
		return true, nil
	}
	p, err := net.LookupPort(network, port)
	if err != nil {
		return false, err
	}
	return p == 0 || p == bound, nil
}

// hostMatches reports whether host (an IP with an optional %zone, a name
// to resolve, or "" for the wildcard) names the address ta is bound to:
// one of the host's addresses must be ta's, or a wildcard of the
// network's that ta is (wildcardOf).
func hostMatches(network, host string, ta *net.TCPAddr) (bool, error) {
	zone := ""
	if i := strings.LastIndexByte(host, '%'); i >= 0 {
		host, zone = host[:i], host[i+1:]
	}
	ips, err := resolveHost(host)
	if err != nil {
		return false, err
	}
	for _, ip := range ips {
		if ip.IsUnspecified() {
			if wildcardOf(network, ta.IP) {
				return true, nil
			}
			continue
		}
		if ip.Equal(ta.IP) && (zone == "" || zone == ta.Zone) {
			return true, nil
		}
	}
	return false, nil
}

// resolveHost returns the addresses host stands for: the wildcard for "",
// the IP itself for an IP, else what the resolver says.
func resolveHost(host string) ([]net.IP, error) {
	if host == "" {
		return []net.IP{net.IPv6unspecified}, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}, nil
	}
	return net.LookupIP(host)
}

// wildcardOf reports whether ip is a wildcard address that network's
// wildcard binds: "tcp" binds a dual-stack [::] (or 0.0.0.0 where IPv6 is
// missing), so either will do; "tcp4" and "tcp6" want their own.
func wildcardOf(network string, ip net.IP) bool {
	if !ip.IsUnspecified() {
		return false
	}
	switch network {
	case "tcp4":
		return ip.To4() != nil
	case "tcp6":
		return ip.To4() == nil
	}
	return true
}

// sameUnixPath compares a bound unix socket's name with a configured path
// or @abstract name.
func sameUnixPath(bound, configured string) bool {
	if bound == configured {
		return true
	}
	if strings.HasPrefix(bound, "@") || strings.HasPrefix(configured, "@") || bound == "" {
		return false
	}
	if filepath.Clean(bound) == filepath.Clean(configured) {
		return true
	}
	abs, err := filepath.Abs(configured)
	return err == nil && abs == filepath.Clean(bound)
}

// ListenerFile returns a duplicate of l's listening socket, l as Listen
// returned it (a hand-over listener included), for another process. The
// socket stays non-blocking: the duplicate is made without
// (*os.File).Fd.
func ListenerFile(l net.Listener) (*os.File, error) {
	if h, ok := l.(*handoverListener); ok {
		l = h.Listener
	}
	type filer interface{ File() (*os.File, error) }
	fl, ok := l.(filer)
	if !ok {
		return nil, fmt.Errorf("httpadapter: listener %T has no descriptor", l)
	}
	f, err := fl.File()
	if err != nil {
		return nil, fmt.Errorf("httpadapter: duplicating the listener on %s: %w", l.Addr(), err)
	}
	return f, nil
}
