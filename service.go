package sdlife

import (
	"context"
	"github.com/sdlife/sdlife/internal/health"
	"github.com/sdlife/sdlife/internal/logs"
	"github.com/sdlife/sdlife/internal/status"
	"github.com/sdlife/sdlife/internal/upgrade"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/httpserve"
	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

// Service runs the whole life of one HTTP service under the service
// manager: its listener, its server and drain, readiness, STATUS=, reloads,
// the watchdog and the stop. Build it with New; Run runs its whole life.
//
// A Service runs once.
type Service struct {
	opts     Options
	env      lifecycle.Environment
	log      *slog.Logger
	notifier *lifecycle.Notifier
	files    *lifecycle.Files
	fdstore  lifecycle.FDStoreLimit
	watchdog lifecycle.Watchdog
	counters *status.Counters
	health   *health.Health
	status   *status.StatusReporter

	reloadReq chan struct{}  // buffered(1): coalesces Reload calls
	hup       chan os.Signal // buffered(1): coalesces SIGHUPs
	term      chan os.Signal // buffered(1): SIGTERM, SIGINT

	ready       chan struct{} // closed on the first READY=1
	stopReq     chan struct{} // closed when a stop was requested: StopRequested
	stopReqOnce sync.Once
	stopCause   error // why, when not a signal; written before stopReq closes

	runCtx    context.Context // cancelled when stopping: reloads, health checks
	cancelRun context.CancelFunc
	wg        sync.WaitGroup // the Service's goroutines

	mu         sync.Mutex
	state      atomic.Int32          // a State; changed only by enterLocked, with mu held
	reloaders  []Reloader            // guarded by mu
	serving    bool                  // guarded by mu; Serve was called
	served     []*served             // guarded by mu; Options.Listen's first
	handedOver bool                  // guarded by mu; an upgrade made another process the main one
	joined     *upgrade.Joined       // an upgrade's new process: the hand-over from the old one; else nil
	manager    lifecycle.Environment // env, with the manager's own socket when joined relays
	serveWG    sync.WaitGroup        // the goroutine watching the server
	notes      [noteCount]string     // guarded by mu; the STATUS note's parts
	// listenUnbound is the configured address that could not be bound at
	// the start, while STATUS= says so (see ListenAddressChanged); "" when
	// none. Guarded by mu.
	listenUnbound string

	noteTimers [noteCount]*time.Timer // guarded by mu; see setNoteFor

	releasers    []MemoryReleaser                 // guarded by mu
	pressure     *lifecycle.MemoryPressureWatcher // nil: no watch
	lastPressure time.Time                        // guarded by mu; the last reaction
}

// The parts of the STATUS= note, in the order they appear.
const (
	noteStart = iota
	noteListen
	noteReload
	noteHealth
	noteServe
	notePressure
	noteCount
)

// New checks opts, reads the environment (once, unless
// Options.Environment is set), connects the Notifier and takes the
// descriptors the manager passed. Nothing runs until Run. A failure of
// New is not reported to the manager: report it with ReportStartFailure.
func New(opts Options) (*Service, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	env := lifecycle.ReadEnvironment
	if opts.Environment != nil {
		e := *opts.Environment
		env = func() lifecycle.Environment { return e }
	}
	return newService(opts, env())
}

func newService(opts Options, env lifecycle.Environment) (*Service, error) {
	log := logs.OrDiscard(opts.Logger)
	wd, err := env.Watchdog()
	if err != nil {
		return nil, err // lifecycle's errors carry its prefix
	}
	fdstore, err := env.FDStoreLimit()
	if err != nil {
		return nil, err // lifecycle's errors carry its prefix
	}
	files := opts.Files
	if files == nil {
		if files, err = lifecycle.TakeFiles(env); err != nil {
			return nil, err // lifecycle's errors carry its prefix
		}
	}
	// An upgrade's new process: until the old process hands the service
	// over, its notifications go to the old process (see upgrade.Join).
	joined, err := upgrade.Join(env, files)
	if err != nil {
		files.Close()
		return nil, err // upgrade's errors carry its prefix
	}
	manager := env // what a new process of an upgrade is told of the manager
	if joined != nil {
		env, manager = joined.Environment(), joined.Manager()
	}
	n, err := lifecycle.NewNotifier(env)
	if err != nil {
		files.Close()
		joined.Close()
		return nil, err // lifecycle's errors carry its prefix
	}
	counters := status.NewCounters()
	s := &Service{
		opts:     opts,
		env:      env,
		log:      log,
		notifier: n,
		files:    files,
		joined:   joined,
		manager:  manager,
		fdstore:  fdstore,
		watchdog: wd,
		counters: counters,
		health:   health.NewHealth(log),
		status: status.NewStatusReporter(n, counters, status.StatusConfig{
			Interval: opts.statusInterval(),
			Logger:   log,
		}),
		reloadReq: make(chan struct{}, 1),
		hup:       make(chan os.Signal, 1),
		term:      make(chan os.Signal, 1),
		ready:     make(chan struct{}),
		stopReq:   make(chan struct{}),
	}
	s.runCtx, s.cancelRun = context.WithCancel(context.Background())
	sdwire.NotifierOf(n).OnReachability(s.notifySocketChanged)
	return s, nil
}

// Notifier is the Service's connection to the manager; nil-safe to use
// outside systemd (it sends nothing).
func (s *Service) Notifier() *lifecycle.Notifier { return s.notifier }

// ReadinessHandler is the readiness probe, to mount at /readyz: 200
// "ready" while the Service is ready, 503 with the state's word
// ("starting", "reloading", "stopping") otherwise, so that a load
// balancer stops sending traffic as soon as a reload or the stop begins.
// It reads the Service's State on every request and is never cached.
func (s *Service) ReadinessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		st := s.State()
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		if st != StateReady {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(st.probe() + "\n"))
	})
}

// HealthHandler runs the health checks added with AddHealthCheck, to
// mount at /healthz: 200 when every check passes, 503 otherwise, with
// one line per check. The watchdog pings only while they pass.
func (s *Service) HealthHandler() http.Handler { return s.health.Handler() }

// AddReloader registers r to run on every reload, after the reloaders
// added before it.
func (s *Service) AddReloader(r Reloader) {
	if r == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reloaders = append(s.reloaders, r)
}

// AddHealthCheck adds a check to Health; the watchdog and /healthz use
// it.
func (s *Service) AddHealthCheck(c httpadapter.Check) { s.health.Add(c) }

// State returns the Service's state.
func (s *Service) State() State { return State(s.state.Load()) }

// Addr is where the Service listens for Options.Listen, once Run has
// begun serving; nil before.
func (s *Service) Addr() net.Addr {
	if srv := s.httpServer(); srv != nil {
		return srv.Addr()
	}
	return nil
}

// httpServer returns the HTTP server of Options.Listen, or nil before
// Serve started it.
func (s *Service) httpServer() *httpserve.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.served) == 0 {
		return nil
	}
	return s.served[0].srv
}

// setNoteLocked sets one part of the STATUS= note and hands the whole
// note to the reporter.
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

func (s *Service) setNote(part int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setNoteLocked(part, text)
}

// listenNote is how long STATUS= repeats what Listen noticed (a changed
// address, a socket unit bound elsewhere).
const listenNote = time.Minute

// setNoteFor sets one part of the STATUS= note for d: it is cleared d
// after the last setNoteFor of that part, unless set again meanwhile.
func (s *Service) setNoteFor(part int, text string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setNoteLocked(part, text)
	if t := s.noteTimers[part]; t != nil {
		t.Reset(d)
		return
	}
	s.noteTimers[part] = time.AfterFunc(d, func() { s.setNote(part, "") })
}

// stopNoteTimers stops the timers of setNoteFor. s.mu is held.
func (s *Service) stopNoteTimersLocked() {
	for _, t := range s.noteTimers {
		if t != nil {
			t.Stop()
		}
	}
}
