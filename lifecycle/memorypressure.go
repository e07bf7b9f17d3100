package lifecycle

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// defaultMemoryPressureTrigger is the PSI trigger written to a PSI file
// when $MEMORY_PRESSURE_WRITE is unset: 200 ms of "some" stall in a 2 s
// window, the default of systemd (MemoryPressureThresholdSec=) and of
// libsystemd. The kernel overwrites the last byte written with a NUL
// before parsing, so the trigger ends in one, as systemd's does.
const defaultMemoryPressureTrigger = "some 200000 2000000\x00"

// MemoryPressure is the memory pressure watch the manager asked for
// (MemoryPressureWatch=, systemd >= 254). The zero value is disabled.
type MemoryPressure struct {
	// Path is the absolute, normalized path to watch: a PSI file (the
	// cgroup's memory.pressure, or /proc/pressure/memory), a FIFO, a
	// character device or a unix stream socket. Empty means disabled: there
	// is nothing to watch.
	Path string

	// Trigger is the decoded $MEMORY_PRESSURE_WRITE, written right after
	// opening Path. Nil when the variable is unset or empty; a PSI file
	// then gets the default of systemd and libsystemd, 200 ms of "some"
	// stall in a 2 s window, anything else nothing.
	Trigger []byte
}

// MemoryPressure parses $MEMORY_PRESSURE_WATCH and $MEMORY_PRESSURE_WRITE
// as libsystemd's sd_event_add_memory_pressure does. An unset or empty
// watch, or "/dev/null", means the manager wants no watch. A path that is
// not absolute or not normalized ("/a/../b", "//x", a trailing slash) and
// write data that is not base64 are errors. Unlike libsystemd, an unset
// watch does not make this package guess the cgroup's own file: where the
// manager gives no watch, nothing is watched.
func (e Environment) MemoryPressure() (MemoryPressure, error) {
	p := e.MemoryPressureWatch
	if p == "" || p == "/dev/null" {
		return MemoryPressure{}, nil
	}
	if strings.IndexByte(p, 0) >= 0 {
		return MemoryPressure{}, fmt.Errorf("lifecycle: MEMORY_PRESSURE_WATCH contains a NUL byte")
	}
	if !strings.HasPrefix(p, "/") {
		return MemoryPressure{}, fmt.Errorf("lifecycle: MEMORY_PRESSURE_WATCH %q: not an absolute path", p)
	}
	if filepath.Clean(p) != p {
		return MemoryPressure{}, fmt.Errorf("lifecycle: MEMORY_PRESSURE_WATCH %q: not a normalized path (want %q)", p, filepath.Clean(p))
	}
	trigger, err := decodeTrigger(e.MemoryPressureWrite)
	if err != nil {
		return MemoryPressure{}, err
	}
	return MemoryPressure{Path: p, Trigger: trigger}, nil
}

// decodeTrigger decodes $MEMORY_PRESSURE_WRITE. Like libsystemd it skips
// white space; padding may be left out, but bits past the data must be
// zero (a canonical encoding).
func decodeTrigger(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			return -1
		}
		return r
	}, s)
	if s == "" {
		return nil, nil
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: MEMORY_PRESSURE_WRITE: not base64: %w", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// memoryPressureSource says what kind of file a memory pressure watch
// opened.
type memoryPressureSource uint8

const (
	sourcePSI        memoryPressureSource = iota + 1 // a PSI file on procfs or cgroupfs: POLLPRI
	sourceFIFO                                       // a FIFO: POLLIN, data discarded
	sourceCharDevice                                 // a character device: POLLIN, data discarded
	sourceSocket                                     // a unix stream socket: POLLIN, data discarded
)

// String names the source for logs.
func (s memoryPressureSource) String() string {
	switch s {
	case sourcePSI:
		return "psi"
	case sourceFIFO:
		return "fifo"
	case sourceCharDevice:
		return "char-device"
	case sourceSocket:
		return "socket"
	}
	return "unknown"
}

// WatchMemoryPressure arms the watch described by mp and calls fn once per
// memory pressure event, always from the same goroutine, until ctx is done
// or the watcher is closed. Arming happens before it returns: the file is
// opened (a socket connected), the trigger written, and any error is
// returned here, so the caller can report "armed" or why not. For a
// disabled mp (an empty Path) it returns a nil watcher and a nil error; a
// nil watcher's methods are no-ops.
//
// fn should return quickly; events that arrive while it runs are merged.
// Rate limiting is the caller's business. The spurious event some kernels
// deliver right after a trigger is armed (an unprivileged trigger counts
// all stall since boot as growth at its first update) is filtered: for a
// PSI file the first event is passed on only when the stall total in the
// file grew by at least the trigger's threshold since arming. For a FIFO the trigger written to it is read back
// before polling, so it does not count as an event.
func WatchMemoryPressure(ctx context.Context, mp MemoryPressure, fn func()) (*MemoryPressureWatcher, error) {
	return watchMemoryPressure(ctx, mp, fn, isPSIFilesystem)
}

// psiThreshold is the parsed form of a PSI trigger, "some|full THRESHOLD
// WINDOW" in microseconds, for the spurious-event filter.
type psiThreshold struct {
	kind      string // "some" or "full"
	threshold uint64 // microseconds
}

// parsePSITrigger parses a trigger as the kernel does (leading "some" or
// "full", two numbers). ok is false for anything else: the filter is then
// off and every event is passed on.
func parsePSITrigger(b []byte) (t psiThreshold, ok bool) {
	s := string(bytes.TrimRight(b, "\x00\n"))
	f := strings.Fields(s)
	if len(f) != 3 || (f[0] != "some" && f[0] != "full") {
		return psiThreshold{}, false
	}
	th, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil || th == 0 {
		return psiThreshold{}, false
	}
	if _, err := strconv.ParseUint(f[2], 10, 32); err != nil {
		return psiThreshold{}, false
	}
	return psiThreshold{kind: f[0], threshold: th}, true
}

// psiTotal reads the total= field of the line for kind from the contents
// of a PSI file ("some avg10=0.00 avg60=0.00 avg300=0.00 total=1234").
func psiTotal(contents []byte, kind string) (uint64, bool) {
	for line := range strings.Lines(string(contents)) {
		rest, ok := strings.CutPrefix(line, kind+" ")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(rest) {
			if v, ok := strings.CutPrefix(f, "total="); ok {
				n, err := strconv.ParseUint(v, 10, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}

// psiFilter drops the spurious first event of a PSI trigger. The kernel
// seeds a new trigger's window from the total of the real-time poller
// but evaluates an unprivileged trigger against the averaging total, so
// the first update after arming counts all stall since boot as growth and
// fires. Events are rate-limited to one per window, so only the first one
// can be false: the filter checks events until one shows real growth of
// the threshold since arming, then passes everything on.
type psiFilter struct {
	t        psiThreshold
	baseline uint64 // total when the trigger was armed
	on       bool   // both the trigger and the baseline were understood
}

func newPSIFilter(trigger, baseline []byte) psiFilter {
	t, ok := parsePSITrigger(trigger)
	if !ok {
		return psiFilter{}
	}
	total, ok := psiTotal(baseline, t.kind)
	return psiFilter{t: t, baseline: total, on: ok}
}

// accept reports whether an event with the file now reading contents is
// real. An unreadable total passes the event on: losing a real event is
// worse than one spurious one.
func (f *psiFilter) accept(contents []byte) bool {
	if !f.on {
		return true
	}
	total, ok := psiTotal(contents, f.t.kind)
	if ok && (total < f.baseline || total-f.baseline < f.t.threshold) {
		return false
	}
	f.on = false
	return true
}
