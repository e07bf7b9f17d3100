package lifecycle

import "errors"

var (
	// ErrUnsupported is returned on platforms without the systemd protocol.
	ErrUnsupported = errors.New("lifecycle: not supported on this platform")

	// ErrClosed is returned by a Notifier after Close.
	ErrClosed = errors.New("lifecycle: notifier closed")

	// ErrMessageTooLarge is returned for a message that would not fit in
	// one notification datagram (MaxMessageSize bytes).
	ErrMessageTooLarge = errors.New("lifecycle: message exceeds 4096 bytes")

	// ErrTooManyFDs is returned when more than MaxFDs descriptors would be
	// sent in one message.
	ErrTooManyFDs = errors.New("lifecycle: more than 253 descriptors in one message")

	// ErrInvalidMessage is returned for a message or value that would be
	// misread by the manager: a NUL byte, a line that is not KEY=VALUE, or
	// a value that would inject a second assignment.
	ErrInvalidMessage = errors.New("lifecycle: invalid notification")

	// ErrInvalidName is returned for a descriptor name the manager would
	// reject (see ValidFDName).
	ErrInvalidName = errors.New("lifecycle: invalid descriptor name")

	// ErrBarrierTimeout is returned by Notifier.Barrier when the context's
	// deadline passes before the manager has processed the barrier. It
	// also matches context.DeadlineExceeded.
	ErrBarrierTimeout = errors.New("lifecycle: barrier timed out")

	// ErrUnreachable matches a send error that says the manager's socket
	// could not be reached: it does not exist, nobody listens on it, or
	// access to it is denied. The error's text is the cause's; only
	// errors.Is sees ErrUnreachable. See Notifier.OnReachability.
	ErrUnreachable = errors.New("lifecycle: notify socket unreachable")

	// ErrNotFound is returned when no unclaimed descriptor carries the
	// requested name.
	ErrNotFound = errors.New("lifecycle: no descriptor with that name")

	// ErrFilesTaken is returned by TakeFiles when this process already took
	// the descriptors passed by the manager.
	ErrFilesTaken = errors.New("lifecycle: passed descriptors already taken")
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
