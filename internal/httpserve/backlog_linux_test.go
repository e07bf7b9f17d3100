package httpserve

import (
	"errors"
	"github.com/sdlife/sdlife/httpadapter"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// backlogOf reads a listening TCP socket's backlog as the kernel applies
// it: TCP_INFO's tcpi_sacked is sk_max_ack_backlog for a listener (the
// Send-Q that ss -ltn shows).
func backlogOf(t *testing.T, l net.Listener) int {
	t.Helper()
	rc, err := l.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || ierr != nil {
		t.Fatal(errors.Join(err, ierr))
	}
	return int(info.Sacked)
}

// fakeSomaxconn makes somaxconn read content ("" : a file that does not
// exist, as under ProcSubset=pid) for the test's duration.
func fakeSomaxconn(t *testing.T, content string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "somaxconn")
	if content != "" {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := somaxconnPath
	somaxconnPath = path
	t.Cleanup(func() { somaxconnPath = old })
}

// realSomaxconn is the host's net.core.somaxconn.
func realSomaxconn(t *testing.T) int {
	t.Helper()
	n, ok := somaxconn()
	if !ok {
		t.Skip("net.core.somaxconn is not readable here")
	}
	return n
}

// TestListenBacklog (issue 16, item 3): the backlog Listen sets on a bound
// listener and on one the fd store hands back, whatever Go's net.Listen
// read (or failed to read) from /proc.
func TestListenBacklog(t *testing.T) {
	host := realSomaxconn(t)
	tests := []struct {
		name      string
		somaxconn string // "": hidden, as under ProcSubset=pid
		give      int
		want      int // in ListenResult.Backlog
		wantSock  int // on the socket
		wantLog   bool
	}{
		{"default, somaxconn hidden", "", 0, MaxDefaultBacklog, min(MaxDefaultBacklog, host), false},
		{"default, somaxconn below the cap", "100", 0, 100, 100, false},
		{"default, somaxconn above the cap", "65535", 0, MaxDefaultBacklog, min(MaxDefaultBacklog, host), false},
		{"set", "", 50, 50, 50, false},
		{"set above somaxconn: clamped, said once", strconv.Itoa(host), host + 1, host, host, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t, sdtest.WithFDStore(4))
			var logs strings.Builder
			log := slog.New(slog.NewTextHandler(&logs, nil))
			fakeSomaxconn(t, "") // the first process: Go's default backlog, 128
			first, err := (&ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0", Backlog: 7}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}).Listen()
			if err != nil {
				t.Fatal(err)
			}
			if got := backlogOf(t, first.Listener); got != 7 {
				t.Fatalf("bound with Backlog 7: socket backlog %d", got)
			}
			first.Listener.Close()
			barrier(t, m)

			fakeSomaxconn(t, tt.somaxconn)
			files := m.Files()
			defer files.Close()
			res, err := (&ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0", Backlog: tt.give}, Files: files, Notifier: m.Notifier(), FDStore: storeLimit(t, m), Logger: log}).Listen()
			if err != nil {
				t.Fatal(err)
			}
			defer res.Listener.Close()
			if res.Source != SourceFDStore {
				t.Fatalf("Source %v, want the stored socket", res.Source)
			}
			if got := backlogOf(t, res.Listener); res.Backlog != tt.want || got != tt.wantSock {
				t.Errorf("Backlog %d, socket backlog %d; want %d, %d", res.Backlog, got, tt.want, tt.wantSock)
			}
			if n := strings.Count(logs.String(), "net.core.somaxconn"); n != map[bool]int{true: 1}[tt.wantLog] {
				t.Errorf("log %q: want a line about somaxconn: %v", logs.String(), tt.wantLog)
			}
		})
	}
}

// TestListenBacklogActivation: a socket unit's listener keeps its
// Backlog=; Listen does not listen(2) on it again.
func TestListenBacklogActivation(t *testing.T) {
	m := sdtest.NewManager(t)
	unit := listenLocal(t)
	if err := relisten(unit, 9); err != nil { // the socket unit's Backlog=9
		t.Fatal(err)
	}
	files := lifecycle.NewFiles(lifecycle.NamedFile{Name: "http", File: fileOf(t, unit)})
	defer files.Close()
	res, err := (&ListenConfig{ListenConfig: httpadapter.ListenConfig{Backlog: 100}, Files: files, Notifier: m.Notifier()}).Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer res.Listener.Close()
	if got := backlogOf(t, res.Listener); res.Source != SourceActivation || got != 9 || res.Backlog != 0 {
		t.Errorf("Source %v, socket backlog %d, Backlog %d; want the socket unit's 9 untouched", res.Source, got, res.Backlog)
	}
}

// TestListenBacklogInvalid: a negative backlog is refused by name.
func TestListenBacklogInvalid(t *testing.T) {
	_, err := (&ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0", Backlog: -1}}).Listen()
	if !errors.Is(err, ErrInvalidListenConfig) || !strings.Contains(err.Error(), "Backlog -1") || prefixes(err) != 1 {
		t.Errorf("err = %v, want ErrInvalidListenConfig naming Backlog -1", err)
	}
}
