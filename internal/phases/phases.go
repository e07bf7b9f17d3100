// Package phases is how an adapter in this module (fxmodule) drives an
// sdlife.Service through the phases of its life one by one, without
// those phases being part of sdlife's public API: sdlife registers Of
// when it is initialised. Run, in package sdlife, calls the same phases in
// this order:
//
//	Start          signals caught, STATUS "Starting"
//	Serve          listener and server (optional)
//	  ...          the caller's own start work
//	Ready          READY=1; reloads, watchdog pings begin
//	  ...          serving, until StopRequested is closed
//	Stopping       STOPPING=1, readiness 503; reloads and pings end
//	Drain          the server drains
//	  ...          the caller's own stop work
//	Stop           goroutines waited for, signals released, final barrier
//
// StartFailed replaces Ready when the caller's start work fails.
package phases

import (
	"context"
	"net/http"
)

// Service is the phase protocol of an sdlife.Service.
type Service interface {
	Start(ctx context.Context) error
	Serve(ctx context.Context, h http.Handler) error
	Ready() error
	StartFailed(err error)
	StopRequested() <-chan struct{}
	Err() error
	Stopping()
	Drain(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Of returns the phases of svc, an *sdlife.Service. Package sdlife sets
// it in its init; importing sdlife is what makes it non-nil.
var Of func(svc any) Service
