package sdlife

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/sdlife/sdlife/internal/upgrade"
	"github.com/sdlife/sdlife/lifecycle"
)

// ReportStartFailure tells the manager why the service cannot start when
// the failure comes before there is a Service, a configuration file that
// does not parse, say: STATUS=start failed: <err>, ERRNO= when err wraps
// a syscall.Errno, then a wait of at most a second until the manager has
// read them (the process is about to exit). Outside systemd it does
// nothing. A Service reports its own failures (those of Run) the same
// way; an error from New is not reported: pass it here.
func ReportStartFailure(env lifecycle.Environment, err error) {
	if env.NotifySocket == "" {
		// Perhaps an upgrade's new process, which reports to the old one
		// (see upgrade.Join): the old one then says why in its STATUS=.
		if files, ferr := lifecycle.TakeFiles(env); ferr == nil {
			defer files.Close()
			if j, jerr := upgrade.Join(env, files); jerr == nil && j != nil {
				defer j.Close() // after the barrier: passes on what is queued
				env = j.Environment()
			}
		}
	}
	n, nerr := lifecycle.NewNotifier(env)
	if nerr != nil {
		return
	}
	defer n.Close()
	sendFailure(n, "start failed: "+err.Error(), err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = n.Barrier(ctx)
}

// sendFailure sends STATUS=text and, when err wraps a syscall.Errno,
// ERRNO=.
func sendFailure(n *lifecycle.Notifier, text string, err error) error {
	_, e1 := n.Status(text)
	var e2 error
	if errno, ok := errnoOf(err); ok {
		_, e2 = n.Errno(errno)
	}
	return errors.Join(e1, e2)
}

func errnoOf(err error) (syscall.Errno, bool) {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 {
		return errno, true
	}
	return 0, false
}
