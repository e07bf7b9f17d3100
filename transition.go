package sdlife

import "fmt"

// enterLocked moves the Service to next, if the machine allows it, and
// makes the transition's effects, in this order: the state (which the
// readiness probe reads), the STATUS= phase (flushed, so that the manager
// reads it before the notification that ends a systemctl call), then the
// notification itself.
// It is the only place that changes s.state. A notification that cannot
// be sent is logged and returned; the transition stands.
//
// s.mu is held.
func (s *Service) enterLocked(next State) (entered bool, err error) {
	prev := State(s.state.Load())
	if !prev.next(next) {
		return false, nil
	}
	s.state.Store(int32(next))
	if p := next.phase(); p != "" {
		s.status.SetPhase(p)
	}
	switch next {
	case StateStarting:
		s.status.Start()
	case StateReady:
		s.status.Flush() // "Serving", or a reload's outcome, is in place when systemctl returns
		if _, err = s.notifier.Ready(); err != nil {
			err = fmt.Errorf("READY=1: %w", err) // err carries lifecycle's prefix
		}
		if prev == StateStarting {
			s.startServing()
		}
	case StateReloading, StateUpgrading:
		if _, err = s.notifier.Reloading(); err != nil {
			err = fmt.Errorf("RELOADING=1: %w", err)
		}
	case StateStopping:
		s.cancelRun()
		if s.handedOver {
			break // another process is the main one: it is not stopping
		}
		if _, err = s.notifier.Stopping(); err != nil {
			err = fmt.Errorf("STOPPING=1: %w", err)
		}
		s.status.Flush()
	case StateStopped:
		s.cancelRun()
	}
	if err != nil {
		s.logNotifyError("sdlife: notifying the manager", err)
	}
	s.log.Debug("sdlife: state", "from", prev.String(), "to", next.String())
	return true, err
}

// startServing starts what runs only while the service is up: the health
// loop, for the watchdog and RESTART_RESET=1. s.mu is held.
func (s *Service) startServing() {
	close(s.ready)
	// After READY=1: the manager's work of closing its copies does not
	// delay the systemctl call that waits for READY=1.
	for _, sv := range s.served {
		if err := sv.release(); err != nil {
			s.log.Error("sdlife: releasing the connections taken over from the fd store", "err", err)
		}
	}
	if period := s.healthPeriod(); period > 0 {
		s.wg.Add(1)
		go s.healthLoop(period)
	}
	s.log.Info("sdlife: ready")
}

// reportFailureLocked tells the manager and the log why the service
// cannot go on: STATUS= with "<what>: <err>" at once (the process may be
// about to exit) and, when err wraps a syscall.Errno, ERRNO=. s.mu is
// held.
func (s *Service) reportFailureLocked(part int, what string, err error) {
	text := what + ": " + err.Error()
	s.setNoteLocked(part, text)
	s.log.Error("sdlife: "+what, "err", err)
	if e := sendFailure(s.notifier, text, err); e != nil {
		s.logNotifyError("sdlife: reporting the failure to the manager", e)
	}
}
