package sdlife

import (
	"context"
	"strings"
	"time"

	"github.com/sdlife/sdlife/httpadapter"
)

// watchdogLoop pings the manager's watchdog every period, but only right
// after every health check has passed: each round runs the checks with
// the period as deadline (httpadapter.Health fails a check that has not
// answered by then, hung or not), so a round never outlasts the period and
// a ping always certifies checks that passed within the last period.
// When a round fails the pings stop, STATUS= says why, and the manager
// restarts the service once WatchdogSec= runs out.
func (s *Service) watchdogLoop(period time.Duration) {
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
		s.watchdogRound(rep, &w)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type watchdogState struct {
	unhealthy bool // the last round failed
	triggered bool // WATCHDOG=trigger was sent in this unhealthy spell
}

func (s *Service) watchdogRound(rep httpadapter.HealthReport, w *watchdogState) {
	if rep.Healthy {
		if _, err := s.notifier.Watchdog(); err != nil {
			s.log.Error("sdlife: sending WATCHDOG=1", "err", err)
		}
		if w.unhealthy {
			s.log.Info("sdlife: healthy again: watchdog pings resume")
			s.setNote(noteHealth, "")
		}
		*w = watchdogState{}
		return
	}
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
		s.log.Error("sdlife: unhealthy: watchdog pings stop", "checks", why)
	}
	w.unhealthy = true
	s.setNote(noteHealth, "unhealthy: "+why)
	if fatal && s.opts.FatalCheck == FatalTrigger && !w.triggered {
		w.triggered = true
		s.log.Error("sdlife: fatal check failed: WATCHDOG=trigger", "checks", why)
		if _, err := s.notifier.WatchdogTrigger(); err != nil {
			s.log.Error("sdlife: sending WATCHDOG=trigger", "err", err)
		}
	}
}
