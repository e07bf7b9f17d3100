package sdlife

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

// Service runs the whole life of one HTTP service under the service
// manager: its listener, its server and drain, readiness, STATUS=, reloads,
// the watchdog and the stop. Build it with New; then either call Run,
// which does everything, or drive the phases yourself (see Start).
//
// A Service runs once.
type Service struct {
	opts      Options
	env       lifecycle.Environment
	log       *slog.Logger
	notifier  *lifecycle.Notifier
	files     *lifecycle.Files
	fdstore   lifecycle.FDStoreLimit
	watchdog  lifecycle.Watchdog
	counters  *httpadapter.Counters
	readiness *httpadapter.Readiness
	health    *httpadapter.Health
	status    *httpadapter.StatusReporter

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

	mu        sync.Mutex
	state     State               // guarded by mu; changed only by enterLocked
	reloaders []Reloader          // guarded by mu
	server    *httpadapter.Server // guarded by mu; set by Serve
	// releaseStored drops the fd store's copies of the connections Serve
	// took back; called after READY=1. Guarded by mu.
	releaseStored func() error
	serveWG       sync.WaitGroup    // the goroutine watching the server
	notes         [noteCount]string // guarded by mu; the STATUS note's parts
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
// descriptors the manager passed. Nothing runs until Run or Start.
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
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wd, err := env.Watchdog()
	if err != nil {
		return nil, err // lifecycle's errors carry its prefix
	}
	fdstore, err := env.FDStoreLimit()
	if err != nil {
		return nil, err // lifecycle's errors carry its prefix
	}
	n, err := lifecycle.NewNotifier(env)
	if err != nil {
		return nil, err // lifecycle's errors carry its prefix
	}
	files := opts.Files
	if files == nil {
		if files, err = lifecycle.TakeFiles(env); err != nil {
			n.Close()
			return nil, err // lifecycle's errors carry its prefix
		}
	}
	counters := httpadapter.NewCounters()
	s := &Service{
		opts:      opts,
		env:       env,
		log:       log,
		notifier:  n,
		files:     files,
		fdstore:   fdstore,
		watchdog:  wd,
		counters:  counters,
		readiness: new(httpadapter.Readiness),
		health:    httpadapter.NewHealth(log),
		status: httpadapter.NewStatusReporter(n, counters, httpadapter.StatusConfig{
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

// Files are the descriptors the manager passed, for listeners or files
// of your own beyond the HTTP listener.
func (s *Service) Files() *lifecycle.Files { return s.files }

// Counters count the requests the Service's server answers; STATUS=
// reports them.
func (s *Service) Counters() *httpadapter.Counters { return s.counters }

// Readiness is the readiness probe: mount Readiness().Handler() at
// /readyz. It says 503 while starting, reloading and stopping.
func (s *Service) Readiness() *httpadapter.Readiness { return s.readiness }

// Health runs the health checks added with AddHealthCheck: mount
// Health().Handler() at /healthz. The watchdog pings only while they pass.
func (s *Service) Health() *httpadapter.Health { return s.health }

// Status is the STATUS= reporter, for a note of your own (SetNote).
func (s *Service) Status() *httpadapter.StatusReporter { return s.status }

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
func (s *Service) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Server returns the HTTP server Serve started, or nil before. Its Addr
// tells where it listens.
func (s *Service) Server() *httpadapter.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.server
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
