package lifecycle

import "errors"

var (
	// ErrUnsupported is returned on platforms without the systemd protocol.
	ErrUnsupported = errors.New("lifecycle: not supported on this platform")

	// ErrInvalidMessage is returned, wrapped with the detail, for a
	// notification the manager would misread or drop, before anything is
	// sent: a NUL byte, a line that is not KEY=VALUE, a value that would
	// inject a second assignment, a value out of range, a descriptor name
	// that is not 1-255 printable ASCII characters without ':', more than
	// 253 descriptors, or a message longer than the 4096 bytes of one
	// datagram.
	ErrInvalidMessage = errors.New("lifecycle: invalid notification")

	// ErrUnreachable matches a send error that says the manager's socket
	// could not be reached: it does not exist, nobody listens on it, or
	// access to it is denied. The error's text is the cause's; only
	// errors.Is sees ErrUnreachable. Sends are never skipped for it: the
	// next one tries again.
	ErrUnreachable = errors.New("lifecycle: notify socket unreachable")

	// ErrNotFound is returned when no unclaimed descriptor carries the
	// requested name.
	ErrNotFound = errors.New("lifecycle: no descriptor with that name")
)

var (
	// errClosed is returned by a Notifier after Close.
	errClosed = errors.New("lifecycle: notifier closed")

	// errFilesTaken is returned by TakeFiles when this process already
	// took the descriptors passed by the manager.
	errFilesTaken = errors.New("lifecycle: passed descriptors already taken")
)

// unreachableError marks err as ErrUnreachable without changing its text,
// which already names the socket and the cause.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string   { return e.err.Error() }
func (e *unreachableError) Unwrap() []error { return []error{ErrUnreachable, e.err} }

// unreachable marks a non-nil err as ErrUnreachable.
func unreachable(err error) error {
	if err == nil {
		return nil
	}
	return &unreachableError{err: err}
}
