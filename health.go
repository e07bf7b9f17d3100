package sdlife

import (
	"context"
	"github.com/sdlife/sdlife/internal/health"
	"strings"
	"time"

	"github.com/sdlife/sdlife/internal/sdwire"
)

// healthLoop runs the health checks every period while the service is up.
//
// With the watchdog enabled it pings the manager's watchdog, but only
// right after every health check has passed: each round runs the checks
// with the period as deadline (health.Health fails a check that has
// not answered by then, hung or not), so a round never outlasts the period
// and a ping always certifies checks that passed within the last period.
// When a round fails the pings stop, STATUS= says why, and the manager
// restarts the service once WatchdogSec= runs out.
//
// Once every check has passed for Options.RestartResetAfter without a
// failed round in between, it sends RESTART_RESET=1 (systemd >= 258;
// older managers ignore it), once, so that RestartSteps= backoff begins
// anew after a crash loop the service has recovered from.
func (s *Service) healthLoop(period time.Duration) {
	defer s.wg.Done()
	ctx := s.runCtx
	t := time.NewTicker(period)
	defer t.Stop()
	var w watchdogState
	for {
		rctx, cancel := context.WithTimeout(ctx, period)
		rep := s.health.Run(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.healthRound(rep, &w)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type watchdogState struct {
	unhealthy    bool      // the last round failed
	triggered    bool      // WATCHDOG=trigger was sent in this unhealthy spell
	healthySince time.Time // start of the current healthy spell; zero while unhealthy
	resetSent    bool      // RESTART_RESET=1 went out
}

func (s *Service) healthRound(rep health.HealthReport, w *watchdogState) {
	now := time.Now()
	if rep.Healthy {
		if s.watchdog.Interval > 0 {
			if _, err := s.notifier.Watchdog(); err != nil {
				s.logNotifyError("sdlife: sending WATCHDOG=1", err)
			}
		}
		if w.unhealthy {
			s.log.Info("sdlife: healthy again")
			s.setNote(noteHealth, "")
		}
		w.unhealthy, w.triggered = false, false
		if w.healthySince.IsZero() {
			w.healthySince = now
		}
		if after := s.opts.restartResetAfter(); after > 0 && !w.resetSent && now.Sub(w.healthySince) >= after {
			w.resetSent = true
			if _, err := s.notifier.RestartReset(); err != nil {
				s.logNotifyError("sdlife: sending RESTART_RESET=1", err)
			} else {
				s.log.Info("sdlife: healthy long enough: restart counter reset", "after", after)
			}
		}
		return
	}
	w.healthySince = time.Time{}
	var b strings.Builder
	fatal := false
	for _, r := range rep.Results {
		if r.Err == nil {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.Name)
		b.WriteString(": ")
		b.WriteString(r.Err.Error())
		fatal = fatal || r.Fatal
	}
	why := b.String()
	if !w.unhealthy {
		s.log.Error("sdlife: unhealthy", "checks", why, "watchdog", s.watchdog.Interval > 0)
	}
	w.unhealthy = true
	s.setNote(noteHealth, "unhealthy: "+why)
	if fatal && s.opts.FatalCheck == FatalTrigger && !w.triggered {
		w.triggered = true
		s.log.Error("sdlife: fatal check failed: WATCHDOG=trigger", "checks", why)
		if _, err := s.notifier.WatchdogTrigger(); err != nil {
			s.logNotifyError("sdlife: sending WATCHDOG=trigger", err)
		}
	}
}

// healthPeriod is how often the health loop runs: the watchdog's ping
// interval when the watchdog is on, else often enough to notice a healthy
// spell of RestartResetAfter to within a quarter (at most every second,
// at least every 10 ms). Zero: no loop.
func (s *Service) healthPeriod() time.Duration {
	if s.watchdog.Interval > 0 {
		return s.watchdog.PingInterval()
	}
	if after := s.opts.restartResetAfter(); after > 0 && sdwire.NotifierOf(s.notifier).Enabled() {
		return min(max(after/4, 10*time.Millisecond), time.Second)
	}
	return 0
}
