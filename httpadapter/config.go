package httpadapter

import (
	"crypto/tls"
	"net/http"
	"time"
)

// ListenConfig says where a listener comes from: a descriptor named Name
// that the manager passed (socket activation, or the fd store after a
// restart), else Address, bound and kept in the fd store so that the next
// start gets the same socket back. The configured address wins: a passed
// listener bound elsewhere is replaced.
type ListenConfig struct {
	// Name is the descriptor's name: FileDescriptorName= in the socket
	// unit, FDNAME= in the fd store. Zero means "http".
	Name string
	// Network is "tcp" (zero), "tcp4", "tcp6" or "unix".
	Network string
	// Address is the address to serve: "host:port" for TCP, a path or
	// "@abstract" name for unix. It is bound when the manager handed
	// nothing named Name over, or when the fd store handed back a listener
	// bound elsewhere (see Listen). It may be empty only when a descriptor
	// is always handed over; then any passed listener is used.
	Address string
	// Backlog is the listen(2) backlog of a listener Listen binds or
	// takes back from the fd store; a socket unit's listener keeps its
	// Backlog=. Zero means DefaultBacklog(); negative is an error. The
	// kernel caps it at net.core.somaxconn: a larger value is logged once
	// and the cap applies (see ListenResult.Backlog).
	Backlog int
}

// ServerConfig configures the HTTP server of a listener and its drain.
// Zero values are documented per field.
type ServerConfig struct {
	// Server carries timeouts and the like. The Server takes it over: it
	// sets its Handler (to Handler, wrapped), its ConnState, ConnContext
	// and BaseContext (chaining those already set). Nil means a new
	// http.Server with ReadHeaderTimeout set to DefaultReadHeaderTimeout.
	//
	// When its Protocols and TLSNextProto are both nil, Protocols is set
	// to HTTP/1 and HTTP/2: h2c (HTTP/2 with prior knowledge) on a plain
	// listener, h2 (negotiated by ALPN) with TLS. Set Protocols to choose
	// otherwise. NewServer has net/http set up its HTTP/2 server at once
	// (TLSNextProto) and puts itself between it and each connection, for
	// the drain's two-step GOAWAY (see Shutdown).
	Server *http.Server
	// TLS, when set, makes Start serve HTTPS: it wraps the listener it is
	// given (from socket activation, the fd store or a bind, see Listen)
	// in TLS, so the listening socket survives restarts as for plain
	// HTTP. It needs a certificate (Certificates, GetCertificate or
	// GetConfigForClient; Certificate.TLSConfig provides one that can be
	// reloaded). The Server uses a copy; when its NextProtos is empty, the
	// copy offers "h2" and "http/1.1" by ALPN as far as the http.Server's
	// protocols include them. Nil serves plain HTTP.
	TLS *tls.Config
	// DrainTimeout bounds Shutdown's wait for connections, counted from
	// the end of ListenerCloseDelay. Zero means DefaultDrainTimeout (30s).
	DrainTimeout time.Duration
	// IdleGrace is how long idle HTTP/1 keep-alive connections may still
	// send a request once the drain begins (it is answered, with
	// "Connection: close") before they are closed. It is also how long
	// the drain waits for hijacked connections to be closed by their
	// owners. Zero means DefaultIdleGrace (500ms).
	IdleGrace time.Duration
	// HeaderGrace bounds how long a connection that has sent part of a
	// request header and no more (slowloris) holds the drain: it is
	// closed once it has received nothing for HeaderGrace, and at the
	// latest HeaderGrace after the drain began. A connection that has
	// sent nothing yet (its first request may be on its way), and a TLS
	// connection without a complete header (its handshake may be under
	// way), is given IdleGrace from the start of the drain instead, as an
	// idle keep-alive connection. Outside Linux, which tells the two
	// apart, every such connection is given IdleGrace. A header completed
	// before then is answered as usual, and bytes waiting in the socket
	// buffer (on Linux) are read before a connection is closed. None of
	// these connections carried a complete request, so no request is
	// lost. Zero means DefaultHeaderGrace (50ms).
	HeaderGrace time.Duration
	// GoawayAckTimeout bounds the drain's two-step GOAWAY on an HTTP/2
	// connection (RFC 9113 §6.8; see goaway2.go): the final GOAWAY goes
	// out when the client acknowledged the first one's PING, or when
	// this much time passed since the drain began, whichever is first.
	// Zero means DefaultGoawayAckTimeout (1s).
	GoawayAckTimeout time.Duration
	// ListenerCloseDelay is how long Shutdown keeps accepting and serving
	// as usual after Readiness turned StateStopping, before the drain
	// begins: time for a load balancer that polls the readiness endpoint
	// to stop sending new connections, as containers and Kubernetes need.
	// Zero (no delay) is right under systemd, where the listening socket
	// outlives the process and the kernel queues new connections for the
	// next one.
	ListenerCloseDelay time.Duration
	// StopTimeout is the unit's TimeoutStopSec=. When DrainTimeout
	// exceeds it, Shutdown keeps extending the manager's stop timeout
	// (EXTEND_TIMEOUT_USEC) while it drains. Zero means unknown: no
	// extension.
	StopTimeout time.Duration
}
