package httpadapter

import (
	"crypto/tls"
	"net/http"
	"time"
)

// ListenConfig says where a listener comes from: a descriptor named Name
// that the manager passed (socket activation, or the fd store after a
// restart), else Address, bound and kept in the fd store so that the next
// start gets the same socket back and the kernel queues connections in
// between.
//
// The configured address wins: a listener the fd store hands back bound
// elsewhere is replaced, unless Address cannot be bound, in which case
// the old one keeps serving and STATUS= says why. A socket unit's
// listener is used wherever it listens (the socket unit decides), with a
// warning when it differs from Address.
type ListenConfig struct {
	// Name is the descriptor's name: FileDescriptorName= in the socket
	// unit, FDNAME= in the fd store. Zero means "http". At most 255
	// ASCII characters, no control characters and no ':'.
	Name string
	// Network is "tcp" (zero), "tcp4", "tcp6" or "unix".
	Network string
	// Address is the address to serve: "host:port" for TCP, a path or
	// "@abstract" name for unix. It may be empty only when the manager
	// always hands a descriptor named Name over.
	Address string
	// Backlog is the listen(2) backlog of a listener bound or taken back
	// from the fd store; a socket unit's listener keeps its Backlog=.
	// Zero means net.core.somaxconn, at most 4096 (4096 when /proc hides
	// it). The kernel caps larger values at somaxconn, with one warning in
	// the log.
	Backlog int
}

// ServerConfig configures the HTTP servers of a Service and their drain.
// Zero values are documented per field.
type ServerConfig struct {
	// Server carries timeouts and the like; the Service takes it over and
	// sets its Handler, ConnState, ConnContext and BaseContext (chaining
	// those already set). Nil means a new http.Server with a
	// ReadHeaderTimeout of 10s.
	//
	// When its Protocols and TLSNextProto are both nil, HTTP/1 and HTTP/2
	// are served: h2c (with prior knowledge) on a plain listener, h2 (by
	// ALPN) with TLS. Set Protocols to choose otherwise.
	Server *http.Server
	// TLS, when set, serves HTTPS on the same listening socket, which
	// survives restarts as for plain HTTP. It needs a certificate
	// (Certificates, GetCertificate or GetConfigForClient;
	// Certificate.TLSConfig provides one that can be reloaded). When its
	// NextProtos is empty, "h2" and "http/1.1" are offered as far as the
	// server's protocols include them. Idle connections are not handed
	// over to the next process with TLS. Nil serves plain HTTP.
	TLS *tls.Config
	// DrainTimeout bounds the drain's wait for requests in flight,
	// counted from the end of ListenerCloseDelay. Zero means 30s.
	DrainTimeout time.Duration
	// IdleGrace is how long an idle HTTP/1 keep-alive connection may still
	// send a request once the drain begins (it is answered, with
	// "Connection: close") before it is closed, when it cannot be handed
	// over to the next process. It is also how long the drain waits for
	// hijacked connections to be closed by their owners. Zero means
	// 500ms.
	IdleGrace time.Duration
	// HeaderGrace bounds how long a connection that has sent part of a
	// request header and no more (slowloris) holds the drain: it is
	// closed once it has received nothing for HeaderGrace, and at the
	// latest HeaderGrace after the drain began. A connection that has
	// sent nothing yet, or a TLS connection without a complete header, is
	// given IdleGrace instead (outside Linux, every such connection is).
	// None of these carried a complete request, so no request is lost.
	// Zero means 50ms.
	HeaderGrace time.Duration
	// GoawayAckTimeout bounds the drain's two-step GOAWAY on an HTTP/2
	// connection (RFC 9113 §6.8): the final GOAWAY goes out when the
	// client acknowledged the first one's PING, or when this much time
	// passed since the drain began, whichever is first. Zero means 1s.
	GoawayAckTimeout time.Duration
	// ListenerCloseDelay is how long the servers keep accepting and
	// serving as usual after STOPPING=1 (the readiness probe says 503
	// from then on), before the drain begins: time for a load balancer
	// that polls the probe to stop sending new connections. Zero is right
	// under systemd, where the listening socket outlives the process and
	// the kernel queues new connections for the next one.
	ListenerCloseDelay time.Duration
	// StopTimeout is the unit's TimeoutStopSec=. When the drain may take
	// longer (DrainTimeout plus ListenerCloseDelay), the manager's stop
	// timeout is extended (EXTEND_TIMEOUT_USEC) while the drain runs.
	// Zero means unknown: no extension.
	StopTimeout time.Duration
}
