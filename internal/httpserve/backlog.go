package httpserve

import (
	"fmt"
	"log/slog"
	"net"
)

// MaxDefaultBacklog caps the default listen backlog (see
// ListenConfig.Backlog): the kernel's own default of net.core.somaxconn
// since Linux 5.4.
const MaxDefaultBacklog = 4096

// DefaultBacklog is the listen backlog used when ListenConfig.Backlog is
// zero: net.core.somaxconn capped at MaxDefaultBacklog where it can be
// read, MaxDefaultBacklog otherwise (a unit with ProcSubset=pid hides
// /proc/sys, and Go's own fallback there is 128).
func DefaultBacklog() int {
	if n, ok := somaxconn(); ok {
		return min(n, MaxDefaultBacklog)
	}
	return MaxDefaultBacklog
}

// backlogFor is the backlog to ask listen(2) for: want, or the default
// when want is zero. The kernel silently clamps it to net.core.somaxconn;
// when that is readable and lower, the clamped value is returned and one
// line says so.
func backlogFor(want int, log *slog.Logger) int {
	if want == 0 {
		return DefaultBacklog()
	}
	if n, ok := somaxconn(); ok && want > n {
		log.Warn("httpadapter: listen backlog above net.core.somaxconn; the kernel clamps it", "backlog", want, "somaxconn", n)
		return n
	}
	return want
}

// setBacklog applies backlog to l, a listening socket: listen(2) again on
// a socket that already listens only changes its backlog, so connections
// already queued stay queued. The error is for a log line's err field.
func setBacklog(l net.Listener, backlog int) error {
	if err := relisten(l, backlog); err != nil {
		return fmt.Errorf("listen(2): %w", err)
	}
	return nil
}
