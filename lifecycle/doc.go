// Package lifecycle speaks the systemd service-manager protocol: sd_notify
// messages, descriptor passing, the notification barrier, the watchdog,
// socket activation and the file descriptor store.
//
// It is built directly on golang.org/x/sys/unix and reads the environment
// once, through [ReadEnvironment]; every other entry point takes the
// resulting [Environment] value, so tests can inject their own (see package
// [github.com/sdlife/sdlife/lifecycle/sdtest] for a fake service manager).
//
// A [Notifier] keeps one datagram socket open for the life of the process
// and sends each message with a single system call. Fixed messages (READY,
// WATCHDOG, STOPPING) and STATUS updates do not allocate. When the process
// does not run under a service manager ($NOTIFY_SOCKET unset) every method
// is a no-op that returns sent == false and a nil error.
//
// The manager reads at most 4096 bytes and 253 descriptors per message,
// and accepts descriptor names of 1 to 255 printable ASCII characters
// without ':'. Input outside these limits, or that would be misread, is
// rejected before sending with an error matching [ErrInvalidMessage]; a
// socket nobody listens on gives errors matching [ErrUnreachable].
//
// Descriptors handed over by the manager (socket activation and the fd
// store both use $LISTEN_FDS) are taken once with [TakeFiles] and then
// claimed by name.
//
// [WatchMemoryPressure] arms the memory pressure watch the manager
// exports with MemoryPressureWatch= (a PSI file, a FIFO, a character
// device or a socket) and calls back on each event.
//
// The protocol is Linux-only. On other platforms the package builds, a
// Notifier for an unset socket is a harmless no-op, and everything that
// would need the protocol returns [ErrUnsupported].
package lifecycle
