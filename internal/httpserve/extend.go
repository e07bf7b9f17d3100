package httpserve

import (
	"errors"
	"log/slog"
	"time"

	"github.com/sdlife/sdlife/lifecycle"
)

// extender keeps the manager's stop timeout from running out while a
// drain that may outlast it is in progress.
type extender struct {
	stop chan struct{}
	done chan struct{}
}

// startExtender sends EXTEND_TIMEOUT_USEC=stopTimeout now and every
// stopTimeout/3 until stopped. Each message moves the manager's deadline
// to stopTimeout from then, so the process always has at least two
// thirds of its stop timeout left, and a process that hangs is still
// killed within one stop timeout of its last message.
func startExtender(n *lifecycle.Notifier, stopTimeout time.Duration, log *slog.Logger) *extender {
	e := &extender{stop: make(chan struct{}), done: make(chan struct{})}
	period := max(stopTimeout/3, time.Millisecond)
	send := func() {
		// An unreachable manager is the Notifier owner's to report (see
		// StatusConfig.Logger).
		if _, err := n.ExtendTimeout(stopTimeout); err != nil && !errors.Is(err, lifecycle.ErrUnreachable) {
			log.Warn("httpadapter: EXTEND_TIMEOUT_USEC failed", "err", err)
		}
	}
	send()
	go func() {
		defer close(e.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-e.stop:
				return
			case <-t.C:
				send()
			}
		}
	}()
	return e
}

// Stop stops the extender and waits for its goroutine; nil-safe.
func (e *extender) Stop() {
	if e == nil {
		return
	}
	close(e.stop)
	<-e.done
}
