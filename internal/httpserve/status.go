package httpserve

import (
	"errors"
	"github.com/sdlife/sdlife/internal/logs"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

// StatusConfig configures a StatusReporter.
type StatusConfig struct {
	// Interval is the shortest time between two STATUS messages, and how
	// often the request rate is sampled. Zero means one second.
	Interval time.Duration
	// Logger receives send errors, once per spell of failures, except
	// for an unreachable manager (lifecycle.ErrUnreachable), which is
	// the Notifier owner's to report (sdlife.Service does). Nil means silent.
	Logger *slog.Logger
}

// maxRetryBackoff bounds the wait between two attempts to send a STATUS
// line while the manager's socket is unreachable.
const maxRetryBackoff = time.Minute

// maxNoteLen bounds the note so that a long error message cannot push the
// line past what `systemctl status` shows usefully.
const maxNoteLen = 256

// StatusReporter keeps the unit's STATUS= line up to date:
//
//	<Phase>: <N> requests, <M> in flight, <R> req/s[; <note>]
//
// A goroutine it owns samples the Counters once per Interval and sends
// the line when, and only when, its text changed. Nothing on the request
// path ever sends: Counters know nothing about the reporter.
//
// Rate limit: two STATUS messages are always at least Interval apart.
// SetPhase and SetNote wake the goroutine, which sends at once if the last
// message is at least Interval old, and otherwise as soon as it is. The one
// exception is Stop, which sends the final text if it changed, so that
// "Stopping" is what systemctl status shows while the process exits.
//
// A send that fails is retried at the next tick; while the manager's
// socket is unreachable, the wait between attempts doubles, from Interval
// up to a minute, and ends as soon as any send through the Notifier gets
// through again. Flush always tries.
type StatusReporter struct {
	n        *lifecycle.Notifier
	c        *Counters
	interval time.Duration
	log      *slog.Logger

	mu         sync.Mutex
	phase      string
	note       string
	rate       float64   // req/s over the last sample period
	lastTotal  uint64    // Snapshot.Total at lastSample
	lastSample time.Time // zero before the first sample
	sent       string    // last text sent
	lastSend   time.Time // zero before the first send
	failing    bool      // the last send failed
	backoff    time.Duration
	retryAt    time.Time // while failing, no attempt before (unless Flush or reachable again)
	state      runState

	wake chan struct{} // buffered(1): a phase or note changed
	stop chan struct{}
	done chan struct{}
}

type runState int

const (
	runNew runState = iota
	runRunning
	runStopped
)

// NewStatusReporter returns a reporter that sends through n (nil: sends
// nothing, Line still works) the counts of c (nil: the line has only the
// phase and the note). Call Start to begin and Stop to end.
func NewStatusReporter(n *lifecycle.Notifier, c *Counters, cfg StatusConfig) *StatusReporter {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	cfg.Logger = logs.OrDiscard(cfg.Logger)
	return &StatusReporter{
		n:        n,
		c:        c,
		interval: cfg.Interval,
		log:      cfg.Logger,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// Start sends the first line and starts the goroutine. It is idempotent,
// and does nothing after Stop.
func (r *StatusReporter) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != runNew {
		return
	}
	r.state = runRunning
	now := time.Now()
	r.sampleLocked(now)
	r.sendLocked(now, true)
	go r.run()
}

// Stop sends the final line if it changed, stops the goroutine and waits
// for it. It is idempotent and safe to call without Start.
func (r *StatusReporter) Stop() {
	r.mu.Lock()
	switch r.state {
	case runNew:
		r.state = runStopped
		r.mu.Unlock()
		return
	case runRunning:
		r.state = runStopped
		close(r.stop)
	}
	r.mu.Unlock()
	<-r.done
}

// SetPhase sets the line's leading word, such as "Starting", "Serving",
// "Reloading" or "Stopping"; "" leaves it out.
func (r *StatusReporter) SetPhase(phase string) {
	r.mu.Lock()
	r.phase = phase
	r.mu.Unlock()
	r.poke()
}

// SetNote sets text appended after a semicolon, such as
// "reload failed: ..." or "unhealthy: db: timeout"; "" clears it. Line
// breaks become spaces and text past 256 bytes is cut.
func (r *StatusReporter) SetNote(note string) {
	r.mu.Lock()
	r.note = note
	r.mu.Unlock()
	r.poke()
}

// Flush sends the current line now if it changed, even within the
// interval. Call it on a state transition that the manager should see
// before the next notification, such as just before READY=1 ends a start
// or a reload, so that `systemctl start` or `systemctl reload` returns
// with the new status in place. Counter refreshes stay rate-limited. It
// does nothing after Stop.
func (r *StatusReporter) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == runStopped {
		return
	}
	r.sendLocked(time.Now(), true)
}

// Line returns the text the reporter would send now, with the request
// rate of the last sample period.
func (r *StatusReporter) Line() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lineLocked()
}

func (r *StatusReporter) poke() {
	select {
	case r.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

func (r *StatusReporter) run() {
	defer close(r.done)
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	// retry fires when a change arrived too soon after the last send.
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	retryArmed := false
	for {
		var now time.Time
		select {
		case <-r.stop:
			r.mu.Lock()
			r.sendLocked(time.Now(), true)
			r.mu.Unlock()
			return
		case now = <-tick.C:
			r.mu.Lock()
			r.sampleLocked(now)
			r.mu.Unlock()
		case <-r.wake:
			now = time.Now()
		case now = <-retry.C:
			retryArmed = false
		}
		r.mu.Lock()
		if wait := r.interval - now.Sub(r.lastSend); wait > 0 && r.lineLocked() != r.sent {
			if !retryArmed {
				retry.Reset(wait)
				retryArmed = true
			}
		} else {
			r.sendLocked(now, false)
		}
		r.mu.Unlock()
	}
}

// sampleLocked updates the request rate.
func (r *StatusReporter) sampleLocked(now time.Time) {
	if r.c == nil {
		return
	}
	total := r.c.Snapshot().Total
	if !r.lastSample.IsZero() {
		if secs := now.Sub(r.lastSample).Seconds(); secs > 0 {
			r.rate = float64(total-r.lastTotal) / secs
		}
	}
	r.lastTotal, r.lastSample = total, now
}

// sendLocked sends the line if it changed since the last send. Unless
// force is set, it waits out the backoff of an unreachable manager.
func (r *StatusReporter) sendLocked(now time.Time, force bool) {
	text := r.lineLocked()
	if text == r.sent {
		return
	}
	if r.failing && !force && now.Before(r.retryAt) && !sdwire.NotifierOf(r.n).Reachable() {
		return
	}
	if _, err := r.n.Status(text); err != nil {
		unreachable := errors.Is(err, lifecycle.ErrUnreachable)
		if !r.failing && !unreachable {
			r.log.Warn("httpadapter: sending STATUS failed; retrying", "err", err)
		}
		if unreachable {
			r.backoff = retryBackoff(r.backoff, r.interval)
		} else {
			r.backoff = 0 // another failure: retried at the next tick
		}
		r.failing, r.retryAt = true, now.Add(r.backoff)
		return
	}
	r.failing, r.backoff = false, 0
	r.sent, r.lastSend = text, now
}

// retryBackoff is the wait before the next attempt to reach an
// unreachable manager, after waiting prev (zero at the first failure):
// interval, then doubling, up to a minute (or interval, if longer).
func retryBackoff(prev, interval time.Duration) time.Duration {
	if prev <= 0 {
		return interval
	}
	return min(2*prev, max(maxRetryBackoff, interval))
}

func (r *StatusReporter) lineLocked() string {
	var s *Snapshot
	if r.c != nil {
		snap := r.c.Snapshot()
		s = &snap
	}
	return statusLine(r.phase, r.note, s, r.rate)
}

// statusLine formats one STATUS line; s may be nil. The result is always
// a single line of valid UTF-8.
func statusLine(phase, note string, s *Snapshot, rate float64) string {
	var b strings.Builder
	phase = oneLine(phase, maxNoteLen)
	b.WriteString(phase)
	if s != nil {
		if phase != "" {
			b.WriteString(": ")
		}
		b.WriteString(strconv.FormatUint(s.Total, 10))
		b.WriteString(" requests, ")
		b.WriteString(strconv.FormatInt(s.InFlight, 10))
		b.WriteString(" in flight, ")
		prec := 1 // low rates keep a decimal, high ones would only flicker
		if rate >= 10 {
			prec = 0
		}
		b.WriteString(strconv.FormatFloat(rate, 'f', prec, 64))
		b.WriteString(" req/s")
	}
	if note = oneLine(note, maxNoteLen); note != "" {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(note)
	}
	return b.String()
}

// oneLine is text for STATUS= or a probe: sdwire.OneLine.
func oneLine(s string, max int) string { return sdwire.OneLine(s, max) }
