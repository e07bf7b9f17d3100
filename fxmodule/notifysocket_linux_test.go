package fxmodule_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// markRounds is how many health rounds, each followed by a watchdog ping,
// the "run-logged" child runs before it says so on stderr.
const markRounds = 20

// loggedService is the "run-logged" child: a service under fxmodule.Run
// that logs to stderr (without times, so that lines compare exactly),
// refreshes STATUS= every 10 ms, and writes "X_ROUNDS 20" once its health
// check has run markRounds times: by then markRounds-1 watchdog pings, one
// after each passing round, have been attempted.
func loggedService() []fx.Option {
	var rounds atomic.Int64
	return []fx.Option{
		fx.Supply(stderrLogger(), sdlife.Options{StatusInterval: 10 * time.Millisecond}),
		fx.Provide(fxmodule.AsHealthCheck(func() httpadapter.Check {
			return httpadapter.Check{Name: "rounds", Func: func(context.Context) error {
				if rounds.Add(1) == markRounds {
					fmt.Fprintln(os.Stderr, "X_ROUNDS", markRounds)
				}
				return nil
			}}
		})),
	}
}

func init() { runModes["run-logged"] = loggedService() }

// stderrLogger logs text to stderr without times, so that lines compare
// exactly.
func stderrLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// stderrLines is the stderr of a running child, line by line.
type stderrLines struct {
	t    *testing.T
	ch   chan string // closed at EOF
	seen []string
}

func startLogged(t *testing.T, notifySocket string) (*exec.Cmd, *stderrLines) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=run-logged", "NOTIFY_SOCKET="+notifySocket,
		// A ping every 100 ms. Each health round must answer within that
		// period or count as failed, which a loaded machine must not cause.
		"WATCHDOG_USEC=200000")
	cmd.Stdout = os.Stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := &stderrLines{t: t, ch: make(chan string, 1024)}
	go func() {
		defer close(l.ch)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			l.ch <- sc.Text()
		}
	}()
	return cmd, l
}

// waitFor reads lines until one equals want.
func (l *stderrLines) waitFor(want string) {
	l.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-l.ch:
			if !ok {
				l.t.Fatalf("stderr ended without %q:\n%s", want, strings.Join(l.seen, "\n"))
			}
			l.seen = append(l.seen, line)
			if line == want {
				return
			}
		case <-timeout:
			l.t.Fatalf("no %q on stderr within 10s:\n%s", want, strings.Join(l.seen, "\n"))
		}
	}
}

// rest reads the remaining lines, once the child exited.
func (l *stderrLines) rest() []string {
	for line := range l.ch {
		l.seen = append(l.seen, line)
	}
	return l.seen
}

// notifyLines are the lines an operator would look at: warnings, errors,
// and anything about the notify socket.
func notifyLines(lines []string) []string {
	var out []string
	for _, line := range lines {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") || strings.Contains(line, "notify socket") {
			out = append(out, line)
		}
	}
	return out
}

func stopLogged(t *testing.T, cmd *exec.Cmd, l *stderrLines) []string {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	lines := l.rest()
	if err := cmd.Wait(); err != nil {
		t.Errorf("child: %v, want a clean stop:\n%s", err, strings.Join(lines, "\n"))
	}
	return lines
}

func unreachableLine(path string) string {
	return `level=ERROR msg="sdlife: the manager's notify socket is unreachable; notifications are lost until it is back" err="lifecycle: dial notify socket ` +
		path + `: no such file or directory"`
}

// NOTIFY_SOCKET names a path that does not exist: one ERROR line, however
// many watchdog pings and STATUS refreshes fail after it.
func TestNotifySocketMissingIsOneErrorLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "notify")
	cmd, l := startLogged(t, path)
	l.waitFor(fmt.Sprint("X_ROUNDS ", markRounds))
	lines := stopLogged(t, cmd, l)
	if got, want := notifyLines(lines), []string{unreachableLine(path)}; !slices.Equal(got, want) {
		t.Errorf("operator's lines:\n%s\nwant:\n%s\nall of stderr:\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"), strings.Join(lines, "\n"))
	}
}

// The manager's socket disappears, comes back, and disappears again: one
// line per change, and the messages reach the manager that came back.
func TestNotifySocketDisappearsAndComesBack(t *testing.T) {
	first, second := sdtest.NewManager(t), sdtest.NewManager(t)
	// The child's NOTIFY_SOCKET is a symbolic link the test points at
	// either manager's socket, or removes.
	link := filepath.Join(t.TempDir(), "notify")
	if err := os.Symlink(first.Environment().NotifySocket, link); err != nil {
		t.Fatal(err)
	}
	cmd, l := startLogged(t, link)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := first.Wait(ctx, sdtest.Has("READY", "1")); err != nil {
		t.Fatal(err)
	}

	// The link first: the child, refused by the closed socket, dials the
	// link again and finds nothing (ENOENT), whatever the timing.
	os.Remove(link)
	first.Close()
	l.waitFor(unreachableLine(link))

	if err := os.Symlink(second.Environment().NotifySocket, link); err != nil {
		t.Fatal(err)
	}
	reachable := `level=INFO msg="sdlife: the manager's notify socket is reachable again" socket=` + link
	l.waitFor(reachable)
	if _, err := second.Wait(ctx, sdtest.Has("WATCHDOG", "1")); err != nil {
		t.Fatal(err)
	}

	os.Remove(link) // and again
	second.Close()
	l.waitFor(unreachableLine(link))

	lines := stopLogged(t, cmd, l)
	want := []string{unreachableLine(link), reachable, unreachableLine(link)}
	if got := notifyLines(lines); !slices.Equal(got, want) {
		t.Errorf("operator's lines:\n%s\nwant:\n%s\nall of stderr:\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"), strings.Join(lines, "\n"))
	}
}
