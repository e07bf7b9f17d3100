// Package sdlife makes an HTTP service a first-class systemd service, in a
// few lines around the router it already has:
//
//	svc, err := sdlife.New(sdlife.Options{Listen: httpadapter.ListenConfig{Address: "127.0.0.1:8080"}})
//	if err != nil {
//		return err
//	}
//	r.Method(http.MethodGet, "/healthz", svc.HealthHandler())
//	r.Method(http.MethodGet, "/readyz", svc.ReadinessHandler())
//	svc.AddReloader(config) // anything with Reload(ctx) error
//	return svc.Run(ctx, r)
//
// Start here: New builds a Service, Run runs its whole life; another
// framework's start and stop run inside it as a Hook. Under fx, package
// fxmodule does the same from fx hooks. httpadapter holds the HTTP
// settings (ListenConfig, ServerConfig), health checks and certificates;
// lifecycle is the sd_notify protocol itself, for what the Service does
// not do; lifecycle/sdtest is a fake manager for tests.
//
// # What the manager sees
//
//   - READY=1 once the listener accepts connections and every start hook
//     has returned; `systemctl start` returns when the service serves.
//     A failed start sends STATUS=start failed: <error> and ERRNO= when
//     the error wraps a syscall.Errno.
//   - STATUS=<Phase>: <N> requests, <M> in flight, <R> req/s[; <note>],
//     refreshed at most once per Options.StatusInterval, with transitions
//     at once. Notes say what is wrong: a failed reload, failing health
//     checks, a server that stopped.
//   - SIGHUP or Service.Reload: RELOADING=1 with MONOTONIC_USEC=, every
//     Reloader in turn, then READY=1, as Type=notify-reload expects.
//     Reloads never overlap; requests during one cause exactly one more.
//     A failing reloader leaves the service serving its previous state.
//   - With WatchdogSec=, WATCHDOG=1 every half interval, but only right
//     after every health check passed; while unhealthy the pings stop and
//     the manager restarts the service.
//   - SIGTERM or SIGINT, or the end of Run's context, at any time: STOPPING=1,
//     the readiness probe says 503, every server drains without losing a
//     request, the hooks stop, then Run returns nil. While starting,
//     READY=1 is never sent.
//   - The listener is stored in the fd store (when the unit enables it),
//     so a restart never closes the socket: clients wait in the backlog.
//     Idle HTTP/1.1 keep-alive connections are stored too, as far as the
//     store has room, and the next process serves them: their clients see
//     no close. A stored listener bound elsewhere than
//     Options.Listen.Address is replaced, and STATUS= says so; when that
//     address cannot be bound, the stored listener keeps serving and
//     STATUS= says that until it is fixed. The listen backlog is
//     Options.Listen.Backlog, whatever /proc shows (ProcSubset=pid).
//     Options.Listeners are stored and drained the same way, each under
//     its own name.
//   - HTTP/1.1 and h2c on a plain listener, h2 and HTTP/1.1 with
//     Options.Server.TLS. HTTP/2 connections get the two-step GOAWAY (RFC
//     9113 §6.8) when the drain begins, so no stream a client opened is
//     refused; streaming handlers end on httpadapter.DrainStarted.
//   - With MemoryPressureWatch= (systemd >= 254), memory pressure frees the
//     Go heap and runs the MemoryReleasers; STATUS= says "memory pressure".
//   - After every health check passed for Options.RestartResetAfter,
//     RESTART_RESET=1 (systemd >= 258) restarts the RestartSteps= backoff.
//
// # One state
//
// A Service is in one State at a time (New, Starting, Ready, Reloading,
// Stopping, Stopped). Every transition sets the STATUS= phase and sends
// the notification that belongs to it, in one place, and the readiness
// probe reads the State, so they cannot disagree. The Service is the only
// sender of READY=1, RELOADING=1 and STOPPING=1.
package sdlife
