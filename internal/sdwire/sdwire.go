// Package sdwire holds what the packages of this module share about the
// systemd protocol without it being part of package lifecycle's public
// API: the protocol's limits, the descriptor-name rule, and the parts of
// a *lifecycle.Notifier and a *lifecycle.MemoryPressureWatcher that only
// sdlife and its adapters use. Package lifecycle sets NotifierOf and
// WatcherKind in its init, so they are non-nil wherever a Notifier or a
// watcher exists.
package sdwire

const (
	// MaxMessageSize is the largest notification the manager reads: PID 1
	// receives into a PIPE_BUF-sized buffer and drops anything longer.
	MaxMessageSize = 4096

	// MaxFDs is the most descriptors one message may carry (SCM_MAX_FD).
	MaxFDs = 253

	// maxFDNameLen is the longest descriptor name the manager accepts.
	maxFDNameLen = 255
)

// ValidFDName reports whether name is acceptable to the manager as
// FDNAME= and in $LISTEN_FDNAMES: 1 to 255 printable ASCII characters, no
// colon.
func ValidFDName(name string) bool {
	if name == "" || len(name) > maxFDNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c > 0x7e || c == ':' {
			return false
		}
	}
	return true
}

// Notifier is what this module uses of a *lifecycle.Notifier beyond its
// public methods. Every method is a no-op (false, "", true) for a nil or
// disabled Notifier.
type Notifier interface {
	// Enabled reports whether the Notifier sends to a service manager.
	Enabled() bool
	// Address returns the manager's socket in $NOTIFY_SOCKET notation,
	// or "" when the Notifier is not enabled.
	Address() string
	// OnReachability makes f hear when the manager's socket changes
	// from reachable to unreachable and back, as sends find it: f(err)
	// at the first send that fails with an error matching
	// lifecycle.ErrUnreachable, f(nil) at the first send that gets
	// through after that, and nothing in between. The socket counts as
	// reachable until a send says otherwise. f replaces any earlier one;
	// nil removes it. f runs inside the send with the Notifier locked:
	// it must return soon and call no method of the Notifier but Address
	// and Enabled. Sends are never skipped or delayed for an unreachable
	// socket.
	OnReachability(f func(err error))
	// Reachable reports false when the last send found the manager's
	// socket unreachable, true otherwise.
	Reachable() bool
}

// NotifierOf returns the internal view of n, a *lifecycle.Notifier (nil
// included). Package lifecycle sets it in its init.
var NotifierOf func(n any) Notifier

// WatcherKind names what kind of file a *lifecycle.MemoryPressureWatcher
// opened, for logs: "psi", "fifo", "char-device" or "socket"; "unknown"
// for a nil watcher. Package lifecycle sets it in its init.
var WatcherKind func(w any) string
