//go:build linux

package lifecycle

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The stream and seqpacket transports are only reachable through vsock,
// which CI machines rarely have; the protocol logic is family-agnostic, so
// exercise it over AF_UNIX sockets of the same types.
func TestSendOnConnection(t *testing.T) {
	for _, sotype := range []struct {
		name string
		typ  int
		net  string
	}{{"stream", unix.SOCK_STREAM, "unix"}, {"seqpacket", unix.SOCK_SEQPACKET, "unixpacket"}} {
		t.Run(sotype.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s")
			l, err := net.Listen(sotype.net, path)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			got := make(chan string, 1)
			released := make(chan struct{})
			go func() {
				c, err := l.Accept()
				if err != nil {
					got <- err.Error()
					return
				}
				defer c.Close()
				b, _ := io.ReadAll(c) // until the sender's SHUT_WR
				got <- string(b)
				<-released // the sender must still be waiting for our close
			}()
			fd, err := dialType(unix.AF_UNIX, sotype.typ, &unix.SockaddrUnix{Name: path})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- sendOnConnection(fd, address{kind: kindUnix, path: path}, []byte("READY=1"), nil) }()
			if msg := <-got; msg != "READY=1" {
				t.Fatalf("manager read %q", msg)
			}
			select {
			case err := <-done:
				t.Fatalf("sender returned before the manager closed: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			close(released)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSendOnConnectionTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fd, err := dialType(unix.AF_UNIX, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: path})
	if err != nil {
		t.Fatal(err)
	}
	// Nobody accepts or closes: waitHangup must give up.
	if err := waitHangup(fd, 30*time.Millisecond); !errors.Is(err, unix.ETIMEDOUT) {
		t.Fatalf("waitHangup = %v, want ETIMEDOUT", err)
	}
	unix.Close(fd)
}

// Without vsock support in the kernel the send fails cleanly, with the
// address in the message; with it, nobody listens on the port.
func TestVsockSendFailsCleanly(t *testing.T) {
	for _, give := range []string{"vsock:local:1", "vsock-stream:local:1", "vsock-seqpacket:local:1", "vsock-dgram:local:1"} {
		t.Run(give, func(t *testing.T) {
			n, err := NewNotifier(Environment{NotifySocket: give})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			sent, err := n.Ready()
			if sent || err == nil || !strings.Contains(err.Error(), "vsock") {
				t.Fatalf("Ready = %v, %v; want a vsock error", sent, err)
			}
		})
	}
}
