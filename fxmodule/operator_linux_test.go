package fxmodule_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// pool stands for a database pool whose constructor can fail.
type pool struct{}

func newPoolFailing() (*pool, error) {
	return nil, fmt.Errorf("db: connect 127.0.0.1:5432: %w", syscall.ECONNREFUSED)
}

// serving is a Service that serves on a free port.
func serving(opts ...fx.Option) []fx.Option {
	return append([]fx.Option{
		fx.Supply(sdlife.Options{Listen: httpadapter.ListenConfig{Address: "127.0.0.1:0"}}),
		provideHandler(),
	}, opts...)
}

// runModes are the child applications that use fxmodule.Run, the
// documented entry point; the environment is the child's own (NOTIFY_SOCKET
// and the like), as under systemd.
var runModes = map[string][]fx.Option{
	// Nothing but the Service, built from the environment.
	"run-env": nil,
	// A constructor the application needs fails.
	"run-construct": {fx.Provide(newPoolFailing), fx.Invoke(func(*pool) {})},
	// A programming error: nothing provides *pool.
	"run-missing": {fx.Invoke(func(*pool) {})},
	// fx's default stop timeout against the default drain.
	"run-stoptimeout": serving(fx.StopTimeout(15 * time.Second)),
	// An OnStart hook fails.
	"run-failstart": {fx.Invoke(func(lc fx.Lifecycle) {
		lc.Append(fx.StartHook(func() error {
			return fmt.Errorf("open /etc/app/config.json: %w", syscall.EACCES)
		}))
	})},
	// An OnStart hook outlasts the start timeout.
	"run-starttimeout": {fx.StartTimeout(100 * time.Millisecond), fx.Invoke(func(lc fx.Lifecycle) {
		lc.Append(fx.StartHook(func() { <-make(chan struct{}) })) // hangs; fx gives up on it
	})},
	// A service that serves until SIGTERM.
	"run-serve": serving(),
}

// runWithRun runs the child application with fxmodule.Run. LISTEN_PID=self
// becomes the child's PID, which systemd sets after the fork.
func runWithRun(opts []fx.Option) {
	if os.Getenv("LISTEN_PID") == "self" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	fxmodule.Run(opts...)
}

// runRunChild runs a child in mode with env added, and returns its exit code
// and stderr.
func runRunChild(t *testing.T, h *harness, mode string, env ...string) (int, string) {
	t.Helper()
	// Each of these children fails at once; one that keeps running has
	// not failed, and is killed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "NOTIFY_SOCKET="+h.m.Environment().NotifySocket)
	cmd.Env = append(cmd.Env, env...) // the last of a duplicate key wins
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// Every way a service under fxmodule.Run can fail to start ends in one
// line on stderr that says why in the application's or sdlife's words,
// without fx's or dig's wrapping and source positions, and the same text
// in STATUS= (with ERRNO= when there is an errno), unless the manager's
// socket itself is what is wrong.
func TestRunStartFailuresAreOneCleanLine(t *testing.T) {
	tests := []struct {
		name       string
		mode       string
		env        []string
		want       string // stderr after "<program>: ", and STATUS after "start failed: "
		wantStatus string // the STATUS, when not "start failed: "+want
		unnotified bool   // the manager cannot be told
		wantErrno  syscall.Errno
	}{
		{
			name:       "relative NOTIFY_SOCKET",
			mode:       "run-env",
			env:        []string{"NOTIFY_SOCKET=run/notify"},
			want:       `lifecycle: NOTIFY_SOCKET "run/notify": want an absolute path, @abstract or vsock:CID:PORT`,
			unnotified: true,
		},
		{
			name: "LISTEN_FDS=garbage",
			mode: "run-env",
			env:  []string{"LISTEN_FDS=garbage", "LISTEN_PID=self"},
			want: `lifecycle: LISTEN_FDS "garbage": want a count of at most 65536`,
		},
		{
			name:      "constructor error",
			mode:      "run-construct",
			want:      "db: connect 127.0.0.1:5432: connection refused",
			wantErrno: syscall.ECONNREFUSED,
		},
		{
			name: "missing type",
			mode: "run-missing",
			want: "fxmodule: cannot build the application: missing type: *fxmodule_test.pool",
		},
		{
			name: "stop timeout shorter than the drain",
			mode: "run-stoptimeout",
			want: "fxmodule: fx.StopTimeout 15s does not exceed the drain (30s): requests still in flight would be cut; pass fx.StopTimeout(35s) or shorten Options.Server.DrainTimeout",
		},
		{
			name:       "start timeout",
			mode:       "run-starttimeout",
			want:       "fxmodule: start did not finish within fx.StartTimeout 100ms",
			wantStatus: "start failed: OnStart hook still running: context deadline exceeded",
		},
		{
			name:      "OnStart hook error",
			mode:      "run-failstart",
			want:      "open /etc/app/config.json: permission denied",
			wantErrno: syscall.EACCES,
		},
	}
	prog := filepath.Base(os.Args[0])
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			code, stderr := runRunChild(t, h, tt.mode, tt.env...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if want := prog + ": " + tt.want + "\n"; stderr != want {
				t.Errorf("stderr:\n%q\nwant:\n%q", stderr, want)
			}
			h.sync() // the manager has read all the child sent
			var status []string
			errnos := 0
			for _, msg := range h.m.Messages() {
				if v, ok := msg.Get("STATUS"); ok {
					status = append(status, v)
				}
				if v, ok := msg.Get("ERRNO"); ok {
					errnos++
					if v != strconv.Itoa(int(tt.wantErrno)) {
						t.Errorf("ERRNO=%s, want %d", v, tt.wantErrno)
					}
				}
			}
			switch {
			case tt.unnotified && len(status) > 0:
				t.Errorf("STATUS %q from a child that cannot reach the manager", status)
			}
			wantStatus := tt.wantStatus
			if wantStatus == "" {
				wantStatus = "start failed: " + tt.want
			}
			if !tt.unnotified && !slices.Contains(status, wantStatus) {
				t.Errorf("STATUS %q, want %q", status, wantStatus)
			}
			if wantN := map[bool]int{true: 1}[tt.wantErrno != 0]; errnos != wantN {
				t.Errorf("%d ERRNO= messages, want %d:\n%s", errnos, wantN, h.dump())
			}
			if h.seq("READY", "1") != 0 {
				t.Errorf("READY=1 from a failed start:\n%s", h.dump())
			}
		})
	}
}

// Run's default stop timeout leaves room for the default drain: the
// service starts, and stops cleanly on SIGTERM, saying nothing on stderr.
func TestRunServesAndStopsCleanly(t *testing.T) {
	h, stderr, err := readyThenTerm(t, "run-serve")
	if err != nil {
		t.Errorf("child: %v, want exit status 0; stderr %q", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q, want nothing", stderr.String())
	}
	h.wait(sdtest.Has("STOPPING", "1"), "STOPPING=1")
}

// RunContext returns the error Run would print, and reports a failed
// construction to the manager the application's Options name (here the
// fake manager, through Options.Environment), not to $NOTIFY_SOCKET.
func TestRunContextConstructorError(t *testing.T) {
	h := newHarness(t)
	err := fxmodule.RunContext(context.Background(),
		fx.Supply(h.config()),
		fx.Provide(newPoolFailing),
		fx.Invoke(func(*pool) {}),
	)
	want := "db: connect 127.0.0.1:5432: connection refused"
	if err == nil || err.Error() != want {
		t.Fatalf("RunContext: %v, want %q", err, want)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("RunContext: %v does not wrap ECONNREFUSED", err)
	}
	st := h.wait(statusContains("start failed: "+want), "STATUS")
	errno := h.wait(sdtest.Has("ERRNO", strconv.Itoa(int(syscall.ECONNREFUSED))), "ERRNO")
	if errno.Seq < st.Seq {
		t.Errorf("ERRNO before STATUS:\n%s", h.dump())
	}
}

// fxNewModes are child applications run with fx.New(...).Run(), the
// pattern before Run (see runChild).
var fxNewModes = map[string][]fx.Option{
	// fx's stop timeout shorter than the default drain, which Run refuses.
	"fxnew-shortstop": {
		fx.StopTimeout(2 * time.Second),
		fx.Supply(stderrLogger(), sdlife.Options{Listen: httpadapter.ListenConfig{Address: "127.0.0.1:0"}}),
		provideHandler(),
	},
}

// Under fx.New, which cannot refuse it, a stop timeout that does not
// exceed the drain is one warning as the stop begins: a request cut when
// fx gives up is not cut silently.
func TestFxNewShortStopTimeoutWarns(t *testing.T) {
	_, stderr, err := readyThenTerm(t, "fxnew-shortstop")
	if err != nil {
		t.Errorf("child: %v, want a clean stop (nothing in flight)", err)
	}
	var warnings []string
	for line := range strings.SplitSeq(stderr.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			warnings = append(warnings, line)
		}
	}
	want := `level=WARN msg="fxmodule: the stop timeout does not exceed the drain: requests still in flight when it runs out are cut; raise fx.StopTimeout or use fxmodule.Run" stop_timeout=2s drain=30s`
	if len(warnings) != 1 || warnings[0] != want {
		t.Errorf("warnings and errors:\n%s\nwant the one line:\n%s\nstderr:\n%s", strings.Join(warnings, "\n"), want, stderr.String())
	}
}

// A server that stops serving ends RunContext with the server's error, the
// line Run prints.
func TestRunContextServerFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	cfg := h.config()
	cfg.Files = lifecycle.NewFiles(lifecycle.NamedFile{Name: "http", File: f})
	done := make(chan error, 1)
	go func() { done <- fxmodule.RunContext(context.Background(), fx.Supply(cfg), provideHandler()) }()
	h.wait(sdtest.Has("READY", "1"), "READY=1")
	// shutdown(2) on a listening socket makes every accept on it fail
	// (EINVAL), the server's copy included.
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) {
		if err := syscall.Shutdown(int(fd), syscall.SHUT_RDWR); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	err = <-done
	if !errors.Is(err, syscall.EINVAL) || strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("RunContext: %q, want the server's accept error (EINVAL) on one line", err)
	}
	t.Logf("RunContext: %v", err)
}

// Run's defaults (no fx event log, DefaultStopTimeout) give way to the
// application's own fx.WithLogger and fx.StopTimeout.
func TestRunDefaultsGiveWay(t *testing.T) {
	h := newHarness(t)
	var events bytes.Buffer
	cfg := h.config()
	cfg.Listen.Address = "127.0.0.1:0"
	err := fxmodule.RunContext(context.Background(),
		fx.WithLogger(func() fxevent.Logger { return &fxevent.ConsoleLogger{W: &events} }),
		fx.StopTimeout(time.Second),
		fx.Supply(cfg),
		provideHandler(),
	)
	want := "fxmodule: fx.StopTimeout 1s does not exceed the drain (30s)"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("RunContext: %v, want %q...", err, want)
	}
	if !strings.Contains(events.String(), "[Fx] PROVIDE") {
		t.Errorf("the application's fx event logger got %q", events.String())
	}
}

// readyThenTerm runs the test binary as the child of mode under a fake
// manager, sends it SIGTERM once it said READY=1, and returns the manager,
// the child's stderr and how it exited.
func readyThenTerm(t *testing.T, mode string) (*harness, *bytes.Buffer, error) {
	t.Helper()
	h := newHarness(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "NOTIFY_SOCKET="+h.m.Environment().NotifySocket)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h.wait(sdtest.Has("READY", "1"), "READY=1")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	return h, &stderr, err
}
