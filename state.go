package sdlife

import (
	"strconv"
)

// State is where a Service is in its life. It is the one state of the
// service: every transition between states is made in one place, which
// also sets the readiness probe, the STATUS= phase and sends the manager's
// notification that belongs to it, so the three can never disagree.
//
//	                    ┌──► Upgrading ──┐ (handed over: the new process serves)
//	                    │       │        │
//	New ─► Starting ─► Ready ◄──┴─► Reloading
//	           │          │          │   │
//	           └──────────┴──────────┴───┴──► Stopping ─► Stopped
//
// Upgrading is a reload that puts a new binary in the process's place:
// it ends in Ready when the new binary cannot serve, and in Stopping when
// it took over (this process then sends nothing more to the manager).
type State int32

// The states, in the order a service passes through them.
const (
	StateNew       State = iota // built, nothing started
	StateStarting               // start hooks running; STATUS "Starting"
	StateReady                  // READY=1 sent; serving
	StateReloading              // RELOADING=1 sent; reloaders running
	StateUpgrading              // RELOADING=1 sent; a new binary starting beside this one
	StateStopping               // STOPPING=1 sent; draining
	StateStopped                // everything released
)

func (s State) String() string {
	switch s {
	case StateNew:
		return "new"
	case StateStarting:
		return "starting"
	case StateReady:
		return "ready"
	case StateReloading:
		return "reloading"
	case StateUpgrading:
		return "upgrading"
	case StateStopping:
		return "stopping"
	case StateStopped:
		return "stopped"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// phase is the state's word at the head of the STATUS= line.
func (s State) phase() string {
	switch s {
	case StateStarting:
		return "Starting"
	case StateReady:
		return "Serving"
	case StateReloading:
		return "Reloading"
	case StateUpgrading:
		return "Upgrading"
	case StateStopping:
		return "Stopping"
	case StateStopped:
		return "Stopped"
	}
	return ""
}

// probe is the readiness probe's word for the state.
func (s State) probe() string {
	switch s {
	case StateReady, StateReloading, StateUpgrading:
		return s.String()
	case StateStopping, StateStopped:
		return "stopping"
	}
	return "starting"
}

// next reports whether the machine may move from s to t.
func (s State) next(t State) bool {
	switch t {
	case StateStarting:
		return s == StateNew
	case StateReady:
		return s == StateStarting || s == StateReloading || s == StateUpgrading
	case StateReloading, StateUpgrading:
		return s == StateReady
	case StateStopping:
		return s == StateStarting || s == StateReady || s == StateReloading || s == StateUpgrading
	case StateStopped:
		return s != StateStopped
	}
	return false
}
