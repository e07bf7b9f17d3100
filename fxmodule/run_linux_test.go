package fxmodule_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

const childEnv = "FXMODULE_TEST_CHILD"

// runChild is the re-executed test binary: a plain fx application with
// App.Run, the environment read by the module itself (no Config).
func runChild(mode string) int {
	var opts []fx.Option
	switch mode {
	case "failstart":
		opts = append(opts, fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.StartHook(func() error {
				return fmt.Errorf("open /etc/app/config.json: %w", syscall.EACCES)
			}))
		}))
	case "run":
		opts = append(opts, fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.StartHook(func() { time.Sleep(100 * time.Millisecond) }))
		}))
	default:
		if runOpts, ok := runModes[mode]; ok {
			runWithRun(runOpts)
			return 0
		}
		extra, ok := fxNewModes[mode]
		if !ok {
			return 2
		}
		opts = append(opts, extra...)
	}
	opts = append(opts, fx.NopLogger, fxmodule.Module)
	fx.New(opts...).Run()
	return 0
}

func startChild(t *testing.T, h *harness, mode string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "NOTIFY_SOCKET="+h.m.Environment().NotifySocket)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestRunFailedStartExitsNonZero(t *testing.T) {
	h := newHarness(t)
	cmd := startChild(t, h, "failstart")
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("child: %v, want exit status 1", err)
	}
	st := h.wait(statusContains("start failed: open /etc/app/config.json: permission denied"), "STATUS")
	errno := h.wait(sdtest.Has("ERRNO", fmt.Sprint(int(syscall.EACCES))), "ERRNO=EACCES")
	if st.PID != cmd.Process.Pid || errno.Seq < st.Seq {
		t.Errorf("STATUS from pid %d (child %d), ERRNO seq %d, STATUS seq %d", st.PID, cmd.Process.Pid, errno.Seq, st.Seq)
	}
	if h.seq("READY", "1") != 0 {
		t.Errorf("READY=1 from a failed start:\n%s", h.dump())
	}
}

func TestRunSIGTERMRightAfterReady(t *testing.T) {
	h := newHarness(t)
	cmd := startChild(t, h, "run")
	h.wait(sdtest.Has("READY", "1"), "READY=1")
	// At once, maybe before fx.App.Run has installed its own handler: the
	// module still catches it (see termHandoff), so the stop is graceful.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v, want exit status 0 after a graceful stop", err)
	}
	h.wait(sdtest.Has("STOPPING", "1"), "STOPPING=1")
	h.before("READY", "1", "STOPPING", "1")
}
