package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sdlife/sdlife/httpadapter"
)

// maxSlow bounds GET /slow so that a request cannot outlast the unit's
// stop timeout.
const maxSlow = 60 * time.Second

// liveConfig is the configuration in force. Requests read it without
// locking; a reload swaps it whole, so a request never sees half of one
// configuration and half of the next.
type liveConfig struct {
	path    string
	credDir string // $CREDENTIALS_DIRECTORY
	cur     atomic.Pointer[Config]
	// cert is the certificate served when the configuration has tls;
	// nil for plain HTTP. Its files are fixed at start.
	cert *httpadapter.Certificate
	// listenChanged is told the listen address of every configuration a
	// reload loads (sdlife.Service.ListenAddressChanged); nil: nobody.
	listenChanged func(address string) bool
	// checkListen refuses a new listen address that the next restart
	// could not bind (sdlife.Service.CheckListenAddress); nil: no check.
	checkListen func(ctx context.Context, address string) error
}

// newLiveConfig holds cfg and, when it has tls, loads the certificate.
func newLiveConfig(path, credDir string, cfg Config) (*liveConfig, error) {
	l := &liveConfig{path: path, credDir: credDir}
	if cfg.TLS != nil {
		cert, err := httpadapter.LoadCertificate(cfg.TLS.resolve(path, credDir))
		if err != nil {
			return nil, err
		}
		l.cert = cert
	}
	l.cur.Store(&cfg)
	return l, nil
}

// tlsConfig is what the server serves HTTPS with; nil for plain HTTP.
func (l *liveConfig) tlsConfig() *tls.Config {
	if l.cert == nil {
		return nil
	}
	return l.cert.TLSConfig()
}

// Load returns the configuration in force.
func (l *liveConfig) Load() Config { return *l.cur.Load() }

// Reload re-reads the file and, when it serves TLS, the certificate and
// key: new handshakes use the new pair, established connections carry on.
// An invalid file or a pair that does not load leaves everything in force
// untouched and returns why. The listen address and the choice of TLS
// (and its file names) cannot change without a restart: a new listen
// address is checked (it resolves and can be bound, see
// sdlife.Service.CheckListenAddress) and then reported in the log and
// STATUS, and the next restart binds it; an address that fails the check,
// a changed tls section and a changed admin_listen are refused.
func (l *liveConfig) Reload(ctx context.Context) error {
	next, err := LoadConfig(l.path)
	if err != nil {
		return err
	}
	cur := l.Load()
	if !sameTLS(cur.TLS, next.TLS) {
		return errors.New("tls: the section changed; restart the service to apply it")
	}
	if next.AdminListen != cur.AdminListen {
		return errors.New("admin_listen: changed; restart the service to apply it")
	}
	if next.Listen != cur.Listen && l.checkListen != nil {
		if err := l.checkListen(ctx, next.Listen); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	if err := l.cert.Reload(ctx); err != nil {
		return err
	}
	l.cur.Store(&next)
	if l.listenChanged != nil {
		l.listenChanged(next.Listen)
	}
	return nil
}

func sameTLS(a, b *TLSConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// DownFileCheck fails while the configured down_file exists, the
// operator's switch for taking an instance out of service.
func (l *liveConfig) DownFileCheck(context.Context) error {
	path := l.Load().DownFile
	if path == "" {
		return nil
	}
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return fmt.Errorf("%s exists", path)
	case errors.Is(err, os.ErrNotExist):
		return nil
	default:
		return fmt.Errorf("stat %s: %w", path, err)
	}
}

// routes mounts the service's own endpoints. /healthz and /readyz are
// mounted by the caller, from the library.
func routes(r chi.Router, cfg *liveConfig) {
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, cfg.Load().Greeting+"\n")
	})
	r.Get("/slow", slow)
	r.Get("/events", events)
	r.Get("/version", versionHandler)
}

// eventInterval is the time between two events of GET /events.
const eventInterval = time.Second

// events streams one server-sent event a second ("id: N", "data: N", a
// blank line) until the client leaves or the server's drain begins; then
// it ends after a complete event, so the client reconnects (to the next
// process) without having seen half an event.
func events(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	drain := httpadapter.DrainStarted(r.Context())
	tick := time.NewTicker(eventInterval)
	defer tick.Stop()
	for n := 1; ; n++ {
		fmt.Fprintf(w, "id: %d\ndata: %d\n\n", n, n)
		if err := rc.Flush(); err != nil {
			return // the client left
		}
		select {
		case <-drain:
			return
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// slow waits ms milliseconds, then answers 200: a stand-in for real work
// that a graceful stop must let finish.
func slow(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.ParseUint(r.URL.Query().Get("ms"), 10, 32)
	if err != nil || time.Duration(ms)*time.Millisecond > maxSlow {
		http.Error(w, fmt.Sprintf("ms: want 0..%d", maxSlow.Milliseconds()), http.StatusBadRequest)
		return
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "waited %d ms\n", ms)
	case <-r.Context().Done(): // the client left; nobody to answer
	}
}

// versionHandler answers GET /version with the build's version.
func versionHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, version+"\n")
}
