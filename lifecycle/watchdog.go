package lifecycle

import (
	"fmt"
	"strconv"
	"time"
)

// Watchdog is the service watchdog the manager expects this process to
// ping. The zero value is a disabled watchdog.
type Watchdog struct {
	// Interval is WatchdogSec=: the manager acts when no ping arrived for
	// this long. Zero means the watchdog is disabled for this process;
	// above zero the process must ping.
	Interval time.Duration
}

// PingInterval is how often to ping: half the interval, as
// sd_watchdog_enabled(3) recommends, so one late ping is not fatal. It is
// zero when the watchdog is disabled.
func (w Watchdog) PingInterval() time.Duration { return w.Interval / 2 }

// Watchdog parses $WATCHDOG_USEC and $WATCHDOG_PID. The watchdog is
// enabled when WATCHDOG_USEC is set and non-zero and WATCHDOG_PID is unset
// or names this process (a child that inherited the variables must not
// ping on its parent's behalf). Malformed values are errors.
func (e Environment) Watchdog() (Watchdog, error) {
	if e.WatchdogUSec == "" {
		return Watchdog{}, nil
	}
	usec, err := strconv.ParseUint(e.WatchdogUSec, 10, 64)
	if err != nil {
		return Watchdog{}, fmt.Errorf("lifecycle: WATCHDOG_USEC %q: %w", e.WatchdogUSec, err)
	}
	if usec == 0 {
		return Watchdog{}, nil
	}
	if usec > uint64(time.Duration(1<<63-1).Microseconds()) {
		return Watchdog{}, fmt.Errorf("lifecycle: WATCHDOG_USEC %q: out of range", e.WatchdogUSec)
	}
	if e.WatchdogPID != "" {
		pid, err := parsePID("WATCHDOG_PID", e.WatchdogPID)
		if err != nil {
			return Watchdog{}, err
		}
		if pid != e.PID {
			return Watchdog{}, nil
		}
	}
	return Watchdog{Interval: time.Duration(usec) * time.Microsecond}, nil
}

func parsePID(name, s string) (int, error) {
	pid, err := strconv.ParseUint(s, 10, 31)
	if err != nil || pid == 0 {
		return 0, fmt.Errorf("lifecycle: %s %q: not a process ID", name, s)
	}
	return int(pid), nil
}
