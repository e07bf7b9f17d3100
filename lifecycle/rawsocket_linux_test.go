package lifecycle_test

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawSocket is a bare notify socket for what sdtest's Manager does not
// do: listen on an abstract address, be replaced at the same path, leave
// barriers unanswered. It reads only when asked.
type rawSocket struct {
	t    *testing.T
	addr string
	conn *net.UnixConn
	wg   sync.WaitGroup
}

// shortPath returns a socket path in a fresh directory short enough for
// sun_path (t.TempDir() paths grow with the test's name).
func shortPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "notify")
}

func listenRaw(t *testing.T, addr string) *rawSocket {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	r := &rawSocket{t: t, addr: addr, conn: conn}
	t.Cleanup(func() { r.close() })
	return r
}

// close closes the socket, which drops (and so closes) the descriptors of
// unread messages, and waits for answer's goroutine.
func (r *rawSocket) close() {
	r.conn.Close()
	r.wg.Wait()
}

// read returns the next message, closing the descriptors it carried.
func (r *rawSocket) read() string {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	msg, err := r.readAndClose()
	if err != nil {
		r.t.Fatal(err)
	}
	return msg
}

func (r *rawSocket) readAndClose() (string, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(253*4))
	n, oobn, _, _, err := r.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return "", err
	}
	cmsgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
	for _, c := range cmsgs {
		fds, _ := unix.ParseUnixRights(&c)
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	return string(buf[:n]), nil
}

// answer reads every message from now on, closing their descriptors as
// the manager does, which answers barriers, until the socket is closed.
func (r *rawSocket) answer() {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			if _, err := r.readAndClose(); err != nil {
				return
			}
		}
	}()
}
