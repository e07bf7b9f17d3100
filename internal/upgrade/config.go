package upgrade

import (
	"fmt"
	"github.com/sdlife/sdlife/internal/sdwire"
	"time"

	"github.com/sdlife/sdlife/lifecycle"
)

// ChannelName is the name, in $LISTEN_FDNAMES, of the private channel
// between the old and the new process. Its presence is what makes a
// process an upgrade's new process (see Join).
const ChannelName = "sdlife-upgrade"

// envNotifySocket carries the manager's $NOTIFY_SOCKET to the new process,
// whose own NOTIFY_SOCKET is unset: a binary that does not know about
// upgrades then cannot reach the manager, which would drop its messages
// under NotifyAccess=main and apply them under NotifyAccess=all (a READY=1
// that ends the old process's reload, a STOPPING=1 that stops the unit).
const envNotifySocket = "SDLIFE_NOTIFY_SOCKET"

const (
	// DefaultTimeout is Config.Timeout's default: how long the new binary
	// has to report READY=1. Keep the bound shorter than the unit's
	// TimeoutStartSec=, which also bounds the reload (90s by default).
	DefaultTimeout = 20 * time.Second

	// DefaultKillGrace is Config.KillGrace's default.
	DefaultKillGrace = 2 * time.Second
)

// maxFiles bounds Config.Files: the new process gets them from descriptor
// 3 up, and a descriptor at or above its soft RLIMIT_NOFILE (1024 unless
// the unit raises LimitNOFILE=) makes the start fail.
const maxFiles = 1020

// Config says what Start starts and what it hands over.
type Config struct {
	// Path is the binary to start: the path ExecStart= names, which is
	// argv[0] under systemd. Never /proc/self/exe or os.Executable: they
	// name the running file, after symbolic links, so a release switched
	// by a symlink would start the old build again. It must be absolute.
	Path string

	// Args are the arguments after the path: the running process's
	// os.Args[1:], so that the new binary runs as the unit says.
	Args []string

	// Environ is the new process's environment before the hand-over's
	// variables are set; nil means os.Environ(). LISTEN_*, NOTIFY_SOCKET
	// and WATCHDOG_* in it are replaced.
	Environ []string

	// Manager is the running process's Environment (from
	// lifecycle.ReadEnvironment): its NotifySocket, and its WatchdogUSec
	// when the watchdog is this process's, go to the new process. Start
	// needs a service manager: nobody else could adopt the new process.
	Manager lifecycle.Environment

	// Files are handed to the new process as $LISTEN_FDS, from descriptor
	// 3 on, in this order and under these names, followed by the private
	// channel (ChannelName): the listener(s) and the idle connections,
	// under the names the new process's Listen looks for, so that it
	// takes them as it takes what the fd store passes after a restart.
	// Start duplicates them; the caller keeps its files and closes them.
	Files []lifecycle.NamedFile

	// Timeout bounds how long the new process may take to report
	// READY=1; 0 means DefaultTimeout. Each EXTEND_TIMEOUT_USEC= it sends
	// moves the bound to at least that far from the time it arrives.
	Timeout time.Duration

	// KillGrace is how long a new process that is being stopped has
	// between SIGTERM and SIGKILL; 0 means DefaultKillGrace.
	KillGrace time.Duration

	// OnExtend, when not nil, is called with each EXTEND_TIMEOUT_USEC=
	// the new process sends before it is ready, from the goroutine that
	// runs Start: forward it to the manager (Notifier.ExtendTimeout) so
	// that the reload does not time out meanwhile.
	OnExtend func(time.Duration)
}

// check reports a Config that cannot work, before anything is started.
func (c *Config) check() error {
	if c.Manager.NotifySocket == "" {
		return &Error{Why: "not running under a service manager (NOTIFY_SOCKET is unset): nobody could adopt the new binary"}
	}
	if len(c.Files) > maxFiles {
		return &Error{Why: fmt.Sprintf("%d descriptors to hand over, at most %d fit", len(c.Files), maxFiles)}
	}
	for i, f := range c.Files {
		if !sdwire.ValidFDName(f.Name) || f.Name == ChannelName {
			return &Error{Why: fmt.Sprintf("descriptor %d: invalid name %q", i, f.Name)}
		}
		if f.File == nil {
			return &Error{Why: fmt.Sprintf("descriptor %d (%q): no file", i, f.Name)}
		}
	}
	if c.Timeout < 0 || c.KillGrace < 0 {
		return &Error{Why: fmt.Sprintf("negative Timeout (%v) or KillGrace (%v)", c.Timeout, c.KillGrace)}
	}
	return nil
}
