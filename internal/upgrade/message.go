package upgrade

import (
	"github.com/sdlife/sdlife/internal/sdwire"
	"math"
	"strconv"
	"strings"
	"time"
)

// notice is what the parent learns from one notification the new process
// sent on the private channel. Only the variables that decide or explain
// the start are kept; the others (WATCHDOG=1, FDSTORE=1, ...) mean
// nothing before adoption and are ignored.
type notice struct {
	ready    bool          // READY=1
	stopping bool          // STOPPING=1: the new process gave up
	status   string        // STATUS= text; "" when absent
	hasState bool          // STATUS= was present (an empty one clears the text)
	errno    int           // ERRNO=; 0 when absent or invalid
	extend   time.Duration // EXTEND_TIMEOUT_USEC=; 0 when absent or invalid
}

// maxStatusLen bounds the child's STATUS= text quoted in an error, so that
// "upgrade failed: ..." still fits in one notification.
const maxStatusLen = 1024

// parseNotice reads a notification in sd_notify's format: lines of
// KEY=VALUE separated by newlines. Lines that are not assignments are
// skipped, as PID 1 skips them; for a repeated key the last value wins.
func parseNotice(b []byte) notice {
	var n notice
	for line := range strings.SplitSeq(string(b), "\n") {
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch key {
		case "READY":
			n.ready = n.ready || value == "1"
		case "STOPPING":
			n.stopping = n.stopping || value == "1"
		case "STATUS":
			n.status, n.hasState = oneLine(value, maxStatusLen), true
		case "ERRNO":
			if v, err := strconv.ParseUint(value, 10, 16); err == nil {
				n.errno = int(v)
			}
		case "EXTEND_TIMEOUT_USEC":
			// At most a day: a bigger value is a bug, not a plan.
			if v, err := strconv.ParseUint(value, 10, 64); err == nil && v <= uint64(24*time.Hour/time.Microsecond) {
				n.extend = time.Duration(v) * time.Microsecond
			}
		}
	}
	return n
}

// oneLine is s by the module's one rule for text shown to an operator
// (sdwire.OneLine), cut to at most max bytes plus "..." when longer, so
// that it can be quoted in a one-line error.
func oneLine(s string, max int) string {
	full := sdwire.OneLine(s, math.MaxInt)
	if len(full) <= max {
		return full
	}
	return sdwire.OneLine(full, max) + "..."
}
