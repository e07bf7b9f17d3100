package httpserve

import (
	"context"
	"net"
	"os"
)

// ParkIdle takes the server's idle HTTP/1 connections away from it, as
// many as the fd store has room for, for an upgrade that hands them to
// the new process: between two requests, with no byte of the next one
// read. The server serves them no more; give them back with Unpark, or
// close them with CloseParked once another process holds them. Without a
// ConnStore (TLS, no fd store) there are none. ctx bounds the wait for
// net/http to let go of them.
func (s *Server) ParkIdle(ctx context.Context) []net.Conn {
	if s == nil || s.cfg.ConnStore == nil {
		return nil
	}
	return s.parkIdle(ctx, s.cfg.ConnStore.Room())
}

// Unpark gives connections ParkIdle took back to the server, which serves
// them as connections between two requests; those it cannot take (it is
// shutting down) are closed.
func (s *Server) Unpark(conns []net.Conn) {
	if len(conns) == 0 {
		return
	}
	s.mu.Lock()
	pl, ok := s.ln.(parkListener)
	s.mu.Unlock()
	var hl *handoverListener
	if ok {
		hl, ok = pl.Listener.(*handoverListener)
	}
	unwrapped := make([]net.Conn, len(conns))
	for i, c := range conns {
		if pc, isPark := c.(*parkConn); isPark {
			c = pc.Conn
		}
		unwrapped[i] = c
	}
	if ok && hl.inject(unwrapped) {
		return
	}
	CloseParked(conns)
}

// CloseParked closes the sockets of parked connections without telling
// their clients anything: another process holds duplicates and serves
// them, so no FIN goes out.
func CloseParked(conns []net.Conn) {
	for _, c := range conns {
		_ = closeSocket(c)
	}
}

// ConnFile returns a duplicate of a parked connection's socket, for
// another process.
func ConnFile(c net.Conn) (*os.File, error) {
	if pc, ok := c.(*parkConn); ok {
		c = pc.Conn
	}
	sc, err := tcpSocket(c)
	if err != nil {
		return nil, err
	}
	return sc.(*net.TCPConn).File()
}
