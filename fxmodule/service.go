package fxmodule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/fx"

	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle"
)

// Params are New's inputs. Under fx both are optional: supply a Config to
// change the defaults, provide a *slog.Logger to get the module's logs.
type Params struct {
	fx.In

	Config Config       `optional:"true"`
	Logger *slog.Logger `optional:"true"` // nil: silent
}

// Result is what New builds and Module provides. Everything in it is owned
// by the Service: it is started and stopped with it, and the Notifier and
// the Files are closed when it stops.
type Result struct {
	fx.Out

	Service   *Service
	Notifier  *lifecycle.Notifier
	Files     *lifecycle.Files // the descriptors the manager passed, taken once
	Counters  *httpadapter.Counters
	Readiness *httpadapter.Readiness
	Health    *httpadapter.Health
	Status    *httpadapter.StatusReporter
}

// New builds the module's parts without fx. It reads the environment once
// (unless Config.Environment is set), connects the Notifier and takes the
// passed descriptors (lifecycle.TakeFiles). Drive the returned Service
// with Start, Ready, Stopping and Stop; see Service.
func New(p Params) (Result, error) {
	env := lifecycle.ReadEnvironment
	if p.Config.Environment != nil {
		e := *p.Config.Environment
		env = func() lifecycle.Environment { return e }
	}
	s, err := newService(p.Config, env(), p.Logger)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Service:   s,
		Notifier:  s.notifier,
		Files:     s.files,
		Counters:  s.counters,
		Readiness: s.readiness,
		Health:    s.health,
		Status:    s.status,
	}, nil
}

type state int

const (
	stateNew state = iota
	stateStarting
	stateReady
	stateReloading
	stateStopping
	stateStopped
)

// Service ties the parts to the process's life under the service
// manager. Its methods are the phases of that life, in order:
//
//	Start      signal handlers, STATUS "Starting"
//	Ready      READY=1, then reloads and watchdog pings begin
//	Stopping   STOPPING=1; reloads and pings end
//	Stop       goroutines waited for, signal handlers removed, final STATUS
//
// Under fx, Module calls them (see the package documentation for when);
// without fx, call them yourself around your own start and stop work, and
// StartFailed when starting fails. A Service runs once: it cannot be
// started again after Stop.
type Service struct {
	cfg       Config
	log       *slog.Logger
	notifier  *lifecycle.Notifier
	files     *lifecycle.Files
	fdstore   lifecycle.FDStoreLimit
	watchdog  lifecycle.Watchdog
	counters  *httpadapter.Counters
	readiness *httpadapter.Readiness
	health    *httpadapter.Health
	status    *httpadapter.StatusReporter

	reloadReq chan struct{}  // buffered(1): coalesces programmatic reloads
	hup       chan os.Signal // buffered(1): coalesces SIGHUPs
	term      chan os.Signal // buffered(1): SIGTERM/SIGINT until termHandoff after READY

	mu        sync.Mutex
	state     state               // guarded by mu
	reloaders []Reloader          // guarded by mu
	server    *httpadapter.Server // guarded by mu; the one Config.Serve runs
	shutdown  func()              // guarded by mu; asks the application to stop
	notes     [noteCount]string   // guarded by mu; the STATUS note's parts
	ready     chan struct{}       // closed by Ready
	stopping  chan struct{}       // closed by Stopping
	runCtx    context.Context     // cancelled by Stopping: reloads, health checks
	cancelRun context.CancelFunc
	wg        sync.WaitGroup // the loops
}

// The parts of the STATUS note, in the order they appear.
const (
	noteStart = iota
	noteReload
	noteHealth
	noteServe
	noteCount
)

func newService(cfg Config, env lifecycle.Environment, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wd, err := env.Watchdog()
	if err != nil {
		return nil, fmt.Errorf("fxmodule: %w", err)
	}
	fdstore, err := env.FDStoreLimit()
	if err != nil {
		return nil, fmt.Errorf("fxmodule: %w", err)
	}
	n, err := lifecycle.NewNotifier(env)
	if err != nil {
		return nil, fmt.Errorf("fxmodule: %w", err)
	}
	files := cfg.Files
	if files == nil {
		files, err = lifecycle.TakeFiles(env)
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("fxmodule: %w", err)
		}
	}
	counters := httpadapter.NewCounters()
	s := &Service{
		cfg:       cfg,
		log:       log,
		notifier:  n,
		files:     files,
		fdstore:   fdstore,
		watchdog:  wd,
		counters:  counters,
		readiness: new(httpadapter.Readiness),
		health:    httpadapter.NewHealth(log),
		status: httpadapter.NewStatusReporter(n, counters, httpadapter.StatusConfig{
			Interval: cfg.statusInterval(),
			Logger:   log,
		}),
		reloadReq: make(chan struct{}, 1),
		hup:       make(chan os.Signal, 1),
		term:      make(chan os.Signal, 1),
		ready:     make(chan struct{}),
		stopping:  make(chan struct{}),
	}
	s.runCtx, s.cancelRun = context.WithCancel(context.Background())
	return s, nil
}

// AddReloader registers r to run on every reload, after the reloaders
// registered before it. Module registers the "reloaders" value group.
func (s *Service) AddReloader(r Reloader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reloaders = append(s.reloaders, r)
}

// setShutdown gives the Service a way to stop the application: a SIGTERM
// that arrives while starting uses it. Without it (no fx) SIGTERM and
// SIGINT are left alone.
func (s *Service) setShutdown(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = fn
}

// Start begins the start phase: it catches SIGHUP (a reload requested
// while starting runs once the service is ready) and, under fx, SIGTERM
// and SIGINT until shortly after READY=1, when fx.App.Run's own handler has
// taken over; it starts the STATUS reporter with the phase "Starting". It
// does not block.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateNew {
		return errors.New("fxmodule: Service started twice")
	}
	s.state = stateStarting
	s.readiness.Set(httpadapter.StateStarting)
	s.status.SetPhase("Starting")
	s.status.Start()
	signal.Notify(s.hup, syscall.SIGHUP)
	catchTerm := s.shutdown != nil
	if catchTerm {
		signal.Notify(s.term, syscall.SIGTERM, os.Interrupt)
	}
	s.wg.Add(1)
	go s.loop(catchTerm)
	s.log.Debug("fxmodule: starting", "notify_socket", s.notifier.Address(), "watchdog", s.watchdog.Interval)
	return nil
}

// Ready ends the start phase: it sends READY=1, marks the readiness
// probe ready, and begins serving reloads and pinging the watchdog. When a
// stop was requested while starting, or the start failed, it sends
// nothing. An error means READY=1 could not be sent.
func (s *Service) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateStarting {
		return nil
	}
	s.state = stateReady
	s.readiness.Set(httpadapter.StateReady)
	s.status.SetPhase("Serving")
	s.status.Flush() // the manager sees "Serving" before READY=1 returns systemctl start
	close(s.ready)
	if s.watchdog.Enabled() {
		s.wg.Add(1)
		go s.watchdogLoop(s.watchdog.PingInterval())
	}
	if _, err := s.notifier.Ready(); err != nil {
		s.log.Error("fxmodule: sending READY=1", "err", err)
		return fmt.Errorf("fxmodule: READY=1: %w", err)
	}
	s.log.Info("fxmodule: ready")
	return nil
}

// StartFailed reports why the start failed: STATUS= with the error and,
// when the error wraps a syscall.Errno, ERRNO=. It sends them at once,
// since the process is about to exit; Stop then waits for the manager to
// have read them.
func (s *Service) StartFailed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateStarting {
		s.state = stateStopping // no READY=1 from here on
		s.readiness.Set(httpadapter.StateStopping)
	}
	text := "start failed: " + err.Error()
	s.setNoteLocked(noteStart, text)
	s.log.Error("fxmodule: start failed", "err", err)
	if _, e := s.notifier.Status(text); e != nil {
		s.log.Error("fxmodule: sending STATUS", "err", e)
	}
	if errno, ok := errnoOf(err); ok {
		if _, e := s.notifier.Errno(errno); e != nil {
			s.log.Error("fxmodule: sending ERRNO", "err", e)
		}
	}
}

func errnoOf(err error) (syscall.Errno, bool) {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 {
		return errno, true
	}
	return 0, false
}

// Stopping begins the stop phase: STOPPING=1 first, then the readiness
// probe turns "stopping" and reloads and watchdog pings end (a reload in
// progress sees its context cancelled). It does not wait for anything;
// Stop does. It is idempotent.
func (s *Service) Stopping() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stoppingLocked()
}

func (s *Service) stoppingLocked() {
	// After a failed start the state is already stateStopping; the
	// manager still hears STOPPING=1, once.
	if s.state == stateNew || s.state == stateStopped || s.stoppingSent() {
		return
	}
	s.state = stateStopping
	close(s.stopping)
	s.cancelRun()
	if _, err := s.notifier.Stopping(); err != nil {
		s.log.Error("fxmodule: sending STOPPING=1", "err", err)
	}
	s.readiness.Set(httpadapter.StateStopping)
	s.status.SetPhase("Stopping")
	s.status.Flush()
	s.log.Info("fxmodule: stopping")
}

func (s *Service) stoppingSent() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// Stop ends the stop phase: it waits for the reload and watchdog
// goroutines (and the health checks they started), removes the signal
// handlers, stops the STATUS reporter, waits until the manager has read
// everything (BARRIER=1, bounded by Config.BarrierTimeout), and closes the
// unclaimed passed descriptors and the Notifier. ctx bounds the waits.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
	case stateStopped:
		s.mu.Unlock()
		return nil
	case stateNew:
		// Never started: release what New acquired.
		s.state = stateStopped
		s.mu.Unlock()
		s.cancelRun()
		return errors.Join(s.closeResources()...)
	}
	s.stoppingLocked()
	s.mu.Unlock()

	var errs []error
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("fxmodule: waiting for reload and watchdog: %w", ctx.Err()))
	}
	signal.Stop(s.hup)
	signal.Stop(s.term)
	if err := s.health.Wait(ctx); err != nil {
		errs = append(errs, fmt.Errorf("fxmodule: waiting for health checks: %w", err))
	}
	s.status.Stop()
	if d := s.cfg.barrierTimeout(); d > 0 {
		bctx, cancel := context.WithTimeout(ctx, d)
		if _, err := s.notifier.Barrier(bctx); err != nil {
			s.log.Warn("fxmodule: the manager did not confirm the last notifications", "err", err)
		}
		cancel()
	}
	errs = append(errs, s.closeResources()...)
	s.mu.Lock()
	s.state = stateStopped
	s.mu.Unlock()
	return errors.Join(errs...)
}

func (s *Service) closeResources() []error {
	var errs []error
	if err := s.files.Close(); err != nil {
		errs = append(errs, fmt.Errorf("fxmodule: closing passed descriptors: %w", err))
	}
	if err := s.notifier.Close(); err != nil {
		errs = append(errs, fmt.Errorf("fxmodule: closing notifier: %w", err))
	}
	return errs
}

// termHandoff is how long SIGTERM and SIGINT stay caught after READY=1:
// long enough for fx.App.Run to install its own handler (it does so right
// after Start returns), so that no signal falls in between and kills the
// process without a drain.
const termHandoff = 2 * time.Second

// loop owns the signal channels and runs reloads, one at a time.
func (s *Service) loop(catchTerm bool) {
	defer s.wg.Done()
	ready := s.ready
	var handoff <-chan time.Time
	pending, isReady := false, false
	for {
		select {
		case <-s.stopping:
			return
		case <-ready:
			isReady, ready = true, nil
			if catchTerm {
				t := time.NewTimer(termHandoff)
				defer t.Stop()
				handoff = t.C
			}
		case <-handoff:
			handoff = nil
			signal.Stop(s.term)
		case <-s.hup:
			s.log.Info("fxmodule: SIGHUP: reload requested")
			pending = true
		case <-s.reloadReq:
			pending = true
		case sig := <-s.term:
			s.stopWhileStarting(sig)
		}
		if pending && isReady {
			pending = false
			s.reload()
		}
	}
}

// stopWhileStarting handles SIGTERM or SIGINT caught by the module: from
// Start until shortly after READY=1 (see termHandoff), when fx's own
// handler may not be installed yet. While starting, the manager hears
// STOPPING=1 at once and READY=1 is never sent; either way the
// application is asked to stop (fx.Shutdowner), which fx.App.Run does as
// soon as its start is over, and App.Done and App.Wait report.
func (s *Service) stopWhileStarting(sig os.Signal) {
	s.mu.Lock()
	switch s.state {
	case stateStarting:
		s.log.Info("fxmodule: signal while starting: stopping", "signal", sig.String())
		s.stoppingLocked()
	case stateReady, stateReloading:
		s.log.Info("fxmodule: signal: stopping", "signal", sig.String())
	default:
		s.mu.Unlock()
		return
	}
	shutdown := s.shutdown
	s.mu.Unlock()
	if shutdown != nil {
		shutdown()
	}
}

// setNoteLocked sets one part of the STATUS note and hands the whole note
// to the reporter.
func (s *Service) setNoteLocked(part int, text string) {
	if s.notes[part] == text {
		return
	}
	s.notes[part] = text
	var b strings.Builder
	for _, n := range s.notes {
		if n == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(n)
	}
	s.status.SetNote(b.String())
}
