package upgrade

import "errors"

// Error is a failed upgrade: the new binary could not be started, did not
// become ready, or could not be handed the service. Its text is one line
// for the service's status, "upgrade failed: <why>", for example
//
//	upgrade failed: /usr/local/bin/chi-server exited with status 1: start failed: config /etc/chi-server/config.json: unknown field "listn"
//
// When Error is returned the new process, if one was started, has been
// stopped and reaped: the old process carries on as if nothing happened.
type Error struct {
	// Why says what went wrong, without the "upgrade failed: " prefix.
	Why string
	// PID is the new process's ID, 0 when none was started. It no longer
	// exists when the Error is returned.
	PID int
	// Err is the underlying error, if any (fs.ErrNotExist for a missing
	// binary, context.Canceled, ...), for errors.Is.
	Err error
}

func (e *Error) Error() string { return "upgrade failed: " + e.Why }

func (e *Error) Unwrap() error { return e.Err }

// ErrAbandoned is returned by Joined.Wait and Joined.Err when the old
// process went away (it exited, crashed or closed the channel) before it
// handed the service over. The new process must then exit with a
// non-zero status without having served anything: nobody will adopt it.
var ErrAbandoned = errors.New("upgrade: the old process went away before handing the service over")
