//go:build linux

package lifecycle_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/lifecycle"
)

// The child side of the re-exec tests: a process whose LISTEN_PID really is
// its own PID, as when systemd starts it. It prints one line per check.
func init() {
	mode := os.Getenv("SDLIFE_TEST_CHILD")
	if mode == "" {
		return
	}
	out := bufio.NewWriter(os.Stdout)
	childMain(mode, out)
	out.Flush()
	os.Exit(0)
}

func childMain(mode string, out *bufio.Writer) {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	files, err := lifecycle.TakeFiles(lifecycle.ReadEnvironment())
	say("err=%v", err)
	say("env=%q,%q,%q", os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES"))
	for fd := 3; fd <= 5; fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		switch {
		case err != nil:
			say("fd%d=closed", fd)
		case flags&unix.FD_CLOEXEC != 0:
			say("fd%d=cloexec", fd)
		default:
			say("fd%d=inheritable", fd)
		}
	}
	if mode != "take" || err != nil {
		return
	}
	say("names=%s", strings.Join(files.Names(), ","))
	_, again := lifecycle.TakeFiles(lifecycle.Environment{ListenPID: fmt.Sprint(os.Getpid()), ListenFDs: "1", PID: os.Getpid()})
	say("again=%v", errors.Is(again, lifecycle.ErrFilesTaken))
	if _, err := files.Listener("pipe"); err != nil {
		say("pipe-as-listener=error")
	}
	l, err := files.Listener("http")
	if err != nil {
		say("listener=%v", err)
		return
	}
	say("listener=%s", l.Addr())
	out.Flush()
	c, err := l.Accept() // the parent dials after reading the address
	if err != nil {
		say("accept=%v", err)
		return
	}
	c.Write([]byte("hello from child\n"))
	c.Close()
	l.Close()
	say("unclaimed=%s", strings.Join(files.Names(), ","))
	say("close=%v", files.Close())
	say("after-close=%d", len(files.Names()))
}

// startChild re-executes the test binary through sh, so that LISTEN_PID can
// be set to the PID that the test binary will have ($$ survives exec).
func startChild(t *testing.T, mode, listenFDs, names string, extra []*os.File, pid string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	if pid == "" {
		pid = "$$"
	}
	script := fmt.Sprintf(`LISTEN_PID=%s LISTEN_FDS=%s LISTEN_FDNAMES=%s exec "$0"`, pid, listenFDs, names)
	cmd := exec.Command("/bin/sh", "-c", script, os.Args[0])
	cmd.Env = append(os.Environ(), "SDLIFE_TEST_CHILD="+mode)
	cmd.ExtraFiles = extra
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewScanner(stdout)
}

func expectLines(t *testing.T, sc *bufio.Scanner, want ...string) {
	t.Helper()
	for _, w := range want {
		if !sc.Scan() {
			t.Fatalf("child ended early; want %q (%v)", w, sc.Err())
		}
		if got := sc.Text(); got != w {
			t.Fatalf("child said %q, want %q", got, w)
		}
	}
}

// handover returns a TCP listener, a unix listener and a pipe end as files
// for the child, in that order.
func handover(t *testing.T) (tcp *net.TCPListener, files []*os.File) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ul, err := net.Listen("unix", filepath.Join(t.TempDir(), "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ul.Close() })
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	tf, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	uf, err := ul.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tf.Close(); uf.Close() })
	return l.(*net.TCPListener), []*os.File{tf, uf, r}
}

func TestTakeFilesInChild(t *testing.T) {
	tcp, extra := handover(t)
	_, sc := startChild(t, "take", "3", "http:admin:pipe", extra, "")
	expectLines(t, sc,
		"err=<nil>",
		`env="","",""`,
		"fd3=cloexec", "fd4=cloexec", "fd5=cloexec",
		"names=http,admin,pipe",
		"again=true",
		"pipe-as-listener=error",
		"listener="+tcp.Addr().String(),
	)
	c, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "hello from child\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	expectLines(t, sc, "unclaimed=admin,pipe", "close=<nil>", "after-close=0")
}

func TestTakeFilesInChildRejects(t *testing.T) {
	tests := []struct {
		name  string
		fds   string
		names string
		pid   string
		want  []string
	}{
		{
			name: "other process", fds: "3", names: "a:b:c", pid: "1",
			// Not ours: left alone, but the variables are still removed.
			want: []string{"err=<nil>", `env="","",""`, "fd3=inheritable", "fd4=inheritable", "fd5=inheritable"},
		},
		{
			name: "name count mismatch", fds: "3", names: "a:b",
			// Ours but unusable: closed rather than leaked.
			want: []string{"err=lifecycle: LISTEN_FDNAMES has 2 names for 3 descriptors", `env="","",""`, "fd3=closed", "fd4=closed", "fd5=closed"},
		},
		{
			// fd 6 and up belong to the child's runtime (epoll): the
			// three passed descriptors are closed, the rest untouched.
			name: "count too large", fds: "6", names: "a:b:c:d:e:f",
			want: []string{"err=lifecycle: LISTEN_FDS=6 but descriptor 6 was not inherited (close-on-exec is set)", `env="","",""`, "fd3=closed", "fd4=closed", "fd5=closed"},
		},
		{
			name: "descriptor not open", fds: "400", names: "",
			want: []string{"err=lifecycle: LISTEN_FDS=400 but descriptor 6 was not inherited (close-on-exec is set)", `env="","",""`, "fd3=closed", "fd4=closed", "fd5=closed"},
		},
		{
			name: "malformed count", fds: "three", names: "a",
			want: []string{`err=lifecycle: LISTEN_FDS "three": want a count of at most 65536`, `env="","",""`, "fd3=inheritable", "fd4=inheritable", "fd5=inheritable"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, extra := handover(t)
			_, sc := startChild(t, "inspect", tt.fds, tt.names, extra, tt.pid)
			expectLines(t, sc, tt.want...)
		})
	}
}

func TestFilesClaiming(t *testing.T) {
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	f1, _ := l1.(*net.TCPListener).File()
	f2, _ := l2.(*net.TCPListener).File()
	fu, _ := udp.(*net.UDPConn).File()
	r, w, _ := os.Pipe()
	defer w.Close()

	files := lifecycle.NewFiles(
		lifecycle.NamedFile{Name: "http", File: f1},
		lifecycle.NamedFile{Name: "http", File: f2},
		lifecycle.NamedFile{Name: "dns", File: fu},
		lifecycle.NamedFile{Name: "state", File: r},
	)
	defer files.Close()
	if got := strings.Join(files.Names(), ","); got != "http,http,dns,state" || len(files.Names()) != 4 {
		t.Fatalf("Names = %s, Len = %d", got, len(files.Names()))
	}

	if _, err := files.Listener("dns"); err == nil {
		t.Fatal("a UDP socket became a listener")
	}
	if _, err := files.Listeners("state"); err == nil {
		t.Fatal("a pipe became a listener")
	}
	ls, err := files.Listeners("http")
	if err != nil || len(ls) != 2 {
		t.Fatalf("Listeners(http) = %v, %v", ls, err)
	}
	for i, want := range []net.Listener{l1, l2} {
		if ls[i].Addr().String() != want.Addr().String() {
			t.Fatalf("listener %d at %v, want %v", i, ls[i].Addr(), want.Addr())
		}
		ls[i].Close()
	}
	fdns, err := files.File("dns")
	if err != nil {
		t.Fatalf("File(dns): %v", err)
	}
	pc, err := net.FilePacketConn(fdns)
	fdns.Close()
	if err != nil || pc.LocalAddr().String() != udp.LocalAddr().String() {
		t.Fatalf("FilePacketConn of File(dns) = %v, %v", pc, err)
	}
	pc.Close()
	if _, err := files.Listener("http"); !errors.Is(err, lifecycle.ErrNotFound) {
		t.Fatalf("claiming twice: %v, want ErrNotFound", err)
	}
	if got := strings.Join(files.Names(), ","); got != "state" {
		t.Fatalf("unclaimed = %s", got)
	}
	if err := files.Close(); err != nil {
		t.Fatal(err)
	}
	// Close closed the unclaimed pipe read end: writing now fails.
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("pipe read end still open after Files.Close")
	}
}

func TestTakeFilesMalformedReturnsNil(t *testing.T) {
	files, err := lifecycle.TakeFiles(lifecycle.Environment{ListenPID: "x", ListenFDs: "1", PID: os.Getpid()})
	if err == nil || files != nil {
		t.Fatalf("TakeFiles with a malformed LISTEN_PID = %v, %v; want nil and an error", files, err)
	}
	files, err = lifecycle.TakeFiles(lifecycle.Environment{PID: os.Getpid()})
	if err != nil || files == nil || len(files.Names()) != 0 {
		t.Fatalf("TakeFiles without variables = %v, %v; want an empty set", files, err)
	}
}

func TestFilesNil(t *testing.T) {
	var files *lifecycle.Files
	if len(files.Names()) != 0 || files.Names() != nil || files.Close() != nil {
		t.Fatal("nil Files is not empty")
	}
	if _, err := files.Listener("http"); !errors.Is(err, lifecycle.ErrNotFound) {
		t.Fatalf("nil Files Listener: %v", err)
	}
	if _, err := files.File("http"); !errors.Is(err, lifecycle.ErrNotFound) {
		t.Fatalf("nil Files File: %v", err)
	}
}
