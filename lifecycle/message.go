package lifecycle

import (
	"fmt"
	"strings"

	"github.com/sdlife/sdlife/internal/sdwire"
)

const (
	// maxMessageSize is the largest notification the manager reads: PID 1
	// receives into a PIPE_BUF-sized buffer and drops anything longer.
	maxMessageSize = sdwire.MaxMessageSize

	// maxFDs is the most descriptors one message may carry (SCM_MAX_FD).
	maxFDs = sdwire.MaxFDs
)

// Fixed messages, built once so that sending them does not allocate.
var (
	msgReady           = []byte("READY=1")
	msgStopping        = []byte("STOPPING=1")
	msgWatchdog        = []byte("WATCHDOG=1")
	msgWatchdogTrigger = []byte("WATCHDOG=trigger")
	msgRestartReset    = []byte("RESTART_RESET=1")
	msgBarrier         = []byte("BARRIER=1")
	msgMainPIDFD       = []byte("MAINPIDFD=1")
)

// appendStatus appends "STATUS=" and s to b, sanitized so that the value
// stays one line of valid UTF-8 (sdwire.AppendText): control characters
// become spaces (a newline would otherwise start a second assignment) and
// invalid UTF-8 becomes U+FFFD. Sanitizing instead of rejecting means a
// status built from an error message is never lost.
func appendStatus(b []byte, s string) []byte {
	return sdwire.AppendText(append(b, "STATUS="...), s)
}

// validKey reports whether k can be the name of a notification variable:
// upper-case letters, digits and underscores, as systemd's own keys are.
func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// validateState checks a raw notification: one or more KEY=VALUE lines, no
// NUL byte, no empty line in the middle, at most maxMessageSize bytes. A
// single trailing newline is allowed, as sd_notify callers often add one.
func validateState(state string) error {
	if len(state) > maxMessageSize {
		return tooLarge("message", len(state))
	}
	if state == "" {
		return fmt.Errorf("%w: empty message", ErrInvalidMessage)
	}
	body := state
	if body[len(body)-1] == '\n' {
		body = body[:len(body)-1]
	}
	for line := 1; ; line++ {
		end := strings.IndexByte(body, '\n')
		l := body
		if end >= 0 {
			l = body[:end]
		}
		eq := strings.IndexByte(l, '=')
		if eq < 0 || !validKey(l[:eq]) {
			return fmt.Errorf("%w: line %d is not KEY=VALUE with KEY in [A-Z0-9_]", ErrInvalidMessage, line)
		}
		if strings.IndexByte(l, 0) >= 0 {
			return fmt.Errorf("%w: line %d contains a NUL byte", ErrInvalidMessage, line)
		}
		if end < 0 {
			return nil
		}
		body = body[end+1:]
	}
}

// validateValue checks a value that goes after KEY= in a message built by
// a helper: it must be non-empty and must not start a new line.
func validateValue(key, v string) error {
	if v == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalidMessage, key)
	}
	for i := 0; i < len(v); i++ {
		if v[i] == '\n' || v[i] == 0 {
			return fmt.Errorf("%w: %s contains a newline or NUL byte", ErrInvalidMessage, key)
		}
	}
	return nil
}

// checkFDName rejects a descriptor name the manager would refuse.
func checkFDName(name string) error {
	if !sdwire.ValidFDName(name) {
		return fmt.Errorf("%w: descriptor name %q: want 1-255 printable ASCII characters without ':'", ErrInvalidMessage, name)
	}
	return nil
}

// tooLarge is the error for what does not fit in one datagram.
func tooLarge(what string, n int) error {
	return fmt.Errorf("%w: %s of %d bytes exceeds the %d bytes of one notification", ErrInvalidMessage, what, n, maxMessageSize)
}
