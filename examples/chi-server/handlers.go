package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
)

// maxSlow bounds GET /slow so that a request cannot outlast the unit's
// stop timeout.
const maxSlow = 60 * time.Second

// liveConfig is the configuration in force. Requests read it without
// locking; a reload swaps it whole, so a request never sees half of one
// configuration and half of the next.
type liveConfig struct {
	path string
	cur  atomic.Pointer[Config]
	// listenChanged is told the listen address of every configuration a
	// reload loads (sdlife.Service.ListenAddressChanged); nil: nobody.
	listenChanged func(address string) bool
}

func newLiveConfig(path string, cfg Config) *liveConfig {
	l := &liveConfig{path: path}
	l.cur.Store(&cfg)
	return l
}

// Load returns the configuration in force.
func (l *liveConfig) Load() Config { return *l.cur.Load() }

// Reload re-reads the file. An invalid file leaves the configuration in
// force untouched and returns why. The listen address cannot change
// without a restart (the socket is inherited): a new one is reported in
// the log and STATUS, and the next restart binds it.
func (l *liveConfig) Reload(context.Context) error {
	next, err := LoadConfig(l.path)
	if err != nil {
		return err
	}
	l.cur.Store(&next)
	if l.listenChanged != nil {
		l.listenChanged(next.Listen)
	}
	return nil
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
