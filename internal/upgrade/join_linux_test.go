//go:build linux

package upgrade

import (
	"context"
	"errors"
	"github.com/sdlife/sdlife/internal/sdwire"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// joinPair runs Join in this process, as a new process would, on one end
// of a fresh channel, and returns the Joined and the old process's end.
func joinPair(t *testing.T, m *sdtest.Manager) (*Joined, *net.UnixConn) {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	pf := os.NewFile(uintptr(pair[0]), "parent")
	defer pf.Close()
	pc, err := net.FileConn(pf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	t.Setenv(envNotifySocket, m.Environment().NotifySocket)
	files := lifecycle.NewFiles(lifecycle.NamedFile{Name: ChannelName, File: os.NewFile(uintptr(pair[1]), ChannelName)})
	j, err := Join(lifecycle.Environment{PID: os.Getpid()}, files)
	if err != nil || j == nil {
		t.Fatalf("Join = %v, %v", j, err)
	}
	t.Cleanup(func() { j.Close() })
	if _, ok := os.LookupEnv(envNotifySocket); ok {
		t.Errorf("Join left $%s for the process's children", envNotifySocket)
	}
	return j, pc.(*net.UnixConn)
}

func readMsg(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, sdwire.MaxMessageSize)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("old process's end: %v", err)
	}
	return string(buf[:n])
}

func TestJoinRelay(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(4))
	j, parent := joinPair(t, m)
	n, err := lifecycle.NewNotifier(j.Environment())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Before the adoption: to the old process, barriers answered.
	n.Status("starting")
	if got := readMsg(t, parent); got != "STATUS=starting" {
		t.Errorf("old process got %q, want STATUS=starting", got)
	}
	if _, err := n.Barrier(ctx); err != nil {
		t.Errorf("barrier before the adoption: %v", err)
	}
	n.Ready()
	if got := readMsg(t, parent); got != "READY=1" {
		t.Errorf("old process got %q, want READY=1", got)
	}
	n.Status("waiting")
	n.Barrier(ctx)
	select {
	case <-j.Done():
		t.Fatal("Done before the adoption")
	default:
	}

	if _, err := parent.Write([]byte(msgAdopted)); err != nil {
		t.Fatal(err)
	}
	if err := j.Wait(ctx); err != nil {
		t.Fatalf("Wait after the adoption: %v", err)
	}
	if _, err := m.Wait(ctx, sdtest.Has("STATUS", "waiting")); err != nil {
		t.Errorf("the status set after READY=1 was not replayed to the manager: %v", err)
	}
	// Another process cannot use the relay (its message would be
	// forwarded before the barrier below) to reach the manager.
	spoof := exec.Command(os.Args[0], "-test.run=^$")
	spoof.Env = append(os.Environ(), envChild+"=spoof", "UPGRADE_TEST_SPOOF_ADDR="+j.Environment().NotifySocket)
	if out, err := spoof.CombinedOutput(); err != nil {
		t.Fatalf("spoofing process: %v %s", err, out)
	}

	// After it: to the manager, with descriptors, from this process.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := n.FDStore("pipe", r); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Barrier(ctx); err != nil {
		t.Errorf("barrier after the adoption: %v", err)
	}
	if st := m.Stored(); len(st) != 1 || st[0].Name != "pipe" {
		t.Errorf("fd store holds %v, want the pipe stored after the adoption", st)
	}
	for _, msg := range m.Messages() {
		if msg.PID != os.Getpid() {
			t.Errorf("message %q from PID %d, want %d", msg.Raw, msg.PID, os.Getpid())
		}
		if sdtest.Has("X_SPOOF", "1")(msg) {
			t.Errorf("another process's message went through the relay: %q", msg.Raw)
		}
		if sdtest.Has("STATUS", "starting")(msg) || sdtest.Has("READY", "1")(msg) {
			t.Errorf("a message from before the adoption reached the manager: %q", msg.Raw)
		}
	}
	// The old process going away after the adoption changes nothing.
	parent.Close()
	time.Sleep(50 * time.Millisecond)
	if err := j.Err(); err != nil {
		t.Errorf("Err after the old process left, adopted: %v", err)
	}
}

func TestJoinAbandoned(t *testing.T) {
	m := sdtest.NewManager(t)
	j, parent := joinPair(t, m)
	parent.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.Wait(ctx); !errors.Is(err, ErrAbandoned) {
		t.Errorf("Wait = %v, want ErrAbandoned", err)
	}
}

// A process that fails and exits at once still tells the old process why.
func TestJoinCloseFlushes(t *testing.T) {
	m := sdtest.NewManager(t)
	j, parent := joinPair(t, m)
	n, err := lifecycle.NewNotifier(j.Environment())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		n.Notify("X_N=" + string(rune('A'+i%26)))
	}
	n.Status("start failed: boom")
	n.Close()
	j.Close()
	var last string
	for range 51 {
		last = readMsg(t, parent)
	}
	if last != "STATUS=start failed: boom" {
		t.Errorf("last message %q, want the status sent before Close", last)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.Wait(ctx); err == nil || errors.Is(err, ErrAbandoned) {
		t.Errorf("Wait after Close = %v, want the closed error", err)
	}
}

func TestJoinNotAnUpgrade(t *testing.T) {
	j, err := Join(lifecycle.Environment{}, lifecycle.NewFiles())
	if j != nil || err != nil {
		t.Fatalf("Join without the channel = %v, %v; want nil, nil", j, err)
	}
	if err := j.Wait(context.Background()); err != nil {
		t.Errorf("nil Joined: Wait = %v", err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("nil Joined: Close = %v", err)
	}
}

func TestJoinWrongDescriptor(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	j, err := Join(lifecycle.Environment{}, lifecycle.NewFiles(lifecycle.NamedFile{Name: ChannelName, File: r}))
	if j != nil || err == nil {
		t.Errorf("Join with a pipe as the channel = %v, %v; want an error", j, err)
	}
}
