package sdlife

import (
	"errors"

	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

// notifySocketChanged is the Notifier's reachability callback, the one
// place that tells the log about an unreachable manager: one ERROR line
// when sends stop getting through (a $NOTIFY_SOCKET naming a missing
// path, a manager gone), one INFO line when they get through again.
// Every other log of a failed notification leaves unreachability to it
// (logNotifyError), so a watchdog ping or a STATUS refresh that fails
// every second stays quiet, and the STATUS reporter retries with backoff
// (see internal/status). The Notifier is locked: no sends here.
func (s *Service) notifySocketChanged(err error) {
	if err != nil {
		s.log.Error("sdlife: the manager's notify socket is unreachable; notifications are lost until it is back", "err", err)
		return
	}
	s.log.Info("sdlife: the manager's notify socket is reachable again", "socket", sdwire.NotifierOf(s.notifier).Address())
}

// logNotifyError logs a notification that failed for another reason than
// an unreachable socket, which notifySocketChanged has reported.
func (s *Service) logNotifyError(msg string, err error) {
	if errors.Is(err, lifecycle.ErrUnreachable) {
		return
	}
	s.log.Error(msg, "err", err)
}
