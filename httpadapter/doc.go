// Package httpadapter holds what a user of package sdlife sets and calls
// about the HTTP side of a service:
//
//   - ListenConfig: where a listener comes from (socket activation or the
//     fd store by name, else an address bound and stored).
//   - ServerConfig: the http.Server template, TLS, and the drain's bounds.
//   - Check: a health check, run by the Service for /healthz and the
//     watchdog.
//   - Certificate: a TLS certificate and key read from files, checked on
//     load and on Reload (a Reloader); a failed reload keeps the old pair.
//   - DrainStarted: tells a streaming handler, or the owner of a hijacked
//     connection, that the drain began.
//
// The server, the listener's hand-over, the drain, STATUS= and the probes
// are run by sdlife.Service (see package sdlife for what the manager
// sees).
package httpadapter
