// Package httpadapter makes a net/http service a well-behaved systemd
// service: it counts requests, reports them in the unit's STATUS= line,
// answers readiness and health probes, takes its listening socket from
// socket activation or the fd store, and drains across a restart without
// losing a request.
//
// Most services use them through package sdlife (or fxmodule under fx),
// which puts them together; use them directly to assemble your own. The
// pieces are independent and can be used alone:
//
//   - Counters and Counters.Middleware count requests by status class with
//     padded per-shard atomics and a pooled response writer: no locks, no
//     allocations, no system calls on the request path.
//   - StatusReporter turns the counts into one STATUS= line, sent from its
//     own goroutine at most once per interval and only when it changed.
//   - Readiness and Health are the probe handlers; readiness turns 503 the
//     moment a reload or a shutdown begins.
//   - Listen returns the listener named "http": from socket activation, from
//     the fd store (when bound to the configured address; otherwise it is
//     replaced, unless the configured address cannot be bound), or freshly
//     bound, and stores it for the next start, with the listen backlog
//     set. It takes back the idle connections an earlier process stored.
//   - ConnStore hands idle HTTP/1.1 keep-alive connections to the fd store
//     when a Server's drain begins, so the next process serves them.
//   - Server runs an http.Server and, on Shutdown, drains it in an order
//     that answers every request the kernel accepted (see Server.Shutdown):
//     HTTP/1 and HTTP/2 (h2c on plain listeners, h2 over TLS by default),
//     with or without TLS on the same kept-alive listener. Handlers that
//     stream learn that the drain began from DrainStarted.
//   - Certificate holds a TLS certificate and key read from files, checked
//     on load and on Reload; a failed reload keeps the old pair.
package httpadapter
