package lifecycle_test

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/lifecycle"
)

// streamFile returns a stream socket as a file: a connected TCP
// connection, or a TCP or unix socket that is bound but not listening.
// net.FileListener takes all of them, as it checks only the type.
func streamFile(t *testing.T, kind string) *os.File {
	t.Helper()
	switch kind {
	case "connected TCP":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		f, err := c.(*net.TCPConn).File()
		if err != nil {
			t.Fatal(err)
		}
		return f
	case "bound TCP":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			unix.Close(fd)
			t.Fatal(err)
		}
		return os.NewFile(uintptr(fd), kind)
	case "bound unix":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(t.TempDir(), "s")}); err != nil {
			unix.Close(fd)
			t.Fatal(err)
		}
		return os.NewFile(uintptr(fd), kind)
	}
	t.Fatalf("unknown kind %q", kind)
	return nil
}

// A descriptor passed under a listener's name that is a stream socket but
// not listening (a unit's mistake, or a connection stored under the
// wrong name) is refused by Listener and Listeners: serving it would
// fail on the first Accept. It stays unclaimed, for Close.
func TestFilesListenerRequiresListening(t *testing.T) {
	for _, kind := range []string{"connected TCP", "bound TCP", "bound unix"} {
		t.Run(kind, func(t *testing.T) {
			files := lifecycle.NewFiles(lifecycle.NamedFile{Name: "http", File: streamFile(t, kind)})
			defer files.Close()
			l, err := files.Listener("http")
			if err == nil {
				l.Close()
				t.Fatal("Listener() took a socket that does not listen")
			}
			if want := `lifecycle: descriptor "http": socket is not listening`; err.Error() != want {
				t.Errorf("Listener() = %q, want %q", err, want)
			}
			if ls, err := files.Listeners("http"); err == nil {
				for _, l := range ls {
					l.Close()
				}
				t.Fatal("Listeners() took a socket that does not listen")
			}
			if got := files.Names(); !reflect.DeepEqual(got, []string{"http"}) {
				t.Fatalf("unclaimed after the refusals: %v, want [http]", got)
			}
		})
	}
}
