package httpserve

import (
	"net/http"
	"strconv"
	"sync/atomic"
)

// State is where a service is in its life, as readiness probes see it.
type State int32

// The states, in the order a service normally passes through them.
const (
	StateStarting  State = iota // not serving yet
	StateReady                  // serving
	StateReloading              // reloading its configuration
	StateStopping               // draining and shutting down
)

func (s State) String() string {
	switch s {
	case StateStarting:
		return "starting"
	case StateReady:
		return "ready"
	case StateReloading:
		return "reloading"
	case StateStopping:
		return "stopping"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Readiness holds the service's State for a readiness probe. The zero
// value is usable and in StateStarting. It is safe for concurrent use.
//
// Once in StateStopping it stays there: a late Set from a reload that
// finishes during shutdown must not make a stopping service look ready.
type Readiness struct {
	state atomic.Int32
}

// Set changes the state, unless the state is already StateStopping.
func (r *Readiness) Set(s State) {
	for {
		cur := r.state.Load()
		if State(cur) == StateStopping || r.state.CompareAndSwap(cur, int32(s)) {
			return
		}
	}
}

// State returns the current state.
func (r *Readiness) State() State { return State(r.state.Load()) }

// Handler answers 200 "ready" in StateReady and 503 with the state's name
// otherwise, so a load balancer stops sending traffic as soon as a reload
// or a shutdown begins. It never caches: every request reads the state.
func (r *Readiness) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s := r.State()
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		if s != StateReady {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(s.String() + "\n"))
	})
}
