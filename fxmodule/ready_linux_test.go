package fxmodule_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// slowHook is the user's server start: slow, and it says when it is done.
func (h *harness) slowHook(name string) fx.Hook {
	return fx.Hook{
		OnStart: func(context.Context) error {
			time.Sleep(150 * time.Millisecond)
			h.Mark(name + "-started")
			return nil
		},
		OnStop: func(context.Context) error {
			h.Mark(name + "-stopped")
			return nil
		},
	}
}

type lateServer struct{}

type lateDeps struct{}

func TestReadyAfterEveryOnStart(t *testing.T) {
	// Each case puts the user's slow OnStart somewhere else relative to
	// Module's own invoke; READY=1 must follow it every time, and
	// STOPPING=1 must precede its OnStop.
	cases := []struct {
		name string
		opts func(h *harness) []fx.Option // placed before Module
		post func(h *harness) []fx.Option // placed after Module
	}{
		{
			name: "user module before Module",
			opts: func(h *harness) []fx.Option {
				return []fx.Option{fx.Module("user", fx.Invoke(func(lc fx.Lifecycle) { lc.Append(h.slowHook("user")) }))}
			},
		},
		{
			name: "user module after Module",
			post: func(h *harness) []fx.Option {
				return []fx.Option{fx.Module("user", fx.Invoke(func(lc fx.Lifecycle) { lc.Append(h.slowHook("user")) }))}
			},
		},
		{
			name: "root invoke after Module",
			post: func(h *harness) []fx.Option {
				return []fx.Option{fx.Invoke(func(lc fx.Lifecycle) { lc.Append(h.slowHook("user")) })}
			},
		},
		{
			name: "root invoke before Module",
			opts: func(h *harness) []fx.Option {
				return []fx.Option{fx.Invoke(func(lc fx.Lifecycle) { lc.Append(h.slowHook("user")) })}
			},
		},
		{
			// The hook is appended by a constructor that nothing needs
			// until the very last root invoke, in a nested module, and
			// the constructor itself depends on Module's products.
			name: "constructor invoked late in a nested module",
			opts: func(h *harness) []fx.Option {
				return []fx.Option{
					fx.Module("outer", fx.Module("inner",
						fx.Provide(func(lc fx.Lifecycle, _ *sdlife.Service, _ *lateDeps) *lateServer {
							lc.Append(h.slowHook("user"))
							return &lateServer{}
						}),
					)),
				}
			},
			post: func(h *harness) []fx.Option {
				return []fx.Option{
					fx.Provide(func() *lateDeps { return &lateDeps{} }),
					fx.Invoke(func(lc fx.Lifecycle) {
						lc.Append(fx.Hook{OnStart: func(context.Context) error { h.Mark("first-root"); return nil }})
					}),
					fx.Invoke(func(*lateServer) {}),
				}
			},
		},
		{
			// Two slow hooks on both sides of Module.
			name: "slow hooks on both sides",
			opts: func(h *harness) []fx.Option {
				return []fx.Option{fx.Module("a", fx.Invoke(func(lc fx.Lifecycle) { lc.Append(h.slowHook("a")) }))}
			},
			post: func(h *harness) []fx.Option {
				return []fx.Option{fx.Invoke(func(lc fx.Lifecycle) { lc.Append(h.slowHook("user")) })}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var opts []fx.Option
			if tc.opts != nil {
				opts = append(opts, tc.opts(h)...)
			}
			opts = append(opts, h.options(h.config())...)
			if tc.post != nil {
				opts = append(opts, tc.post(h)...)
			}
			app := fxtest.New(t, opts...).RequireStart()
			h.wait(sdtest.Has("READY", "1"), "READY=1")
			h.before("X_MARK", "user-started", "READY", "1")
			if h.seq("X_MARK", "a-started") != 0 {
				h.before("X_MARK", "a-started", "READY", "1")
			}
			app.RequireStop()
			h.sync()
			h.before("STOPPING", "1", "X_MARK", "user-stopped")
			if n := h.count("READY", "1"); n != 1 {
				t.Errorf("READY=1 sent %d times, want 1:\n%s", n, h.dump())
			}
		})
	}
}

func TestReadyWithoutOtherHooks(t *testing.T) {
	h := newHarness(t)
	app := fxtest.New(t, h.options(h.config())...).RequireStart()
	ready := h.wait(sdtest.Has("READY", "1"), "READY=1")
	serving := h.wait(statusContains("Serving: 0 requests"), "STATUS Serving")
	// "Serving" is in place before READY=1 makes `systemctl start` return.
	if serving.Seq > ready.Seq {
		t.Errorf("STATUS Serving arrived after READY=1:\n%s", h.dump())
	}
	app.RequireStop()
	h.sync()
	h.before("READY", "1", "STOPPING", "1")
	stopping := h.wait(sdtest.Has("STOPPING", "1"), "STOPPING=1")
	h.wait(sdtest.After(stopping.Seq, statusContains("Stopping")), "STATUS Stopping after STOPPING=1")
}

func TestStartFailureReportsErrno(t *testing.T) {
	h := newHarness(t)
	opts := h.options(h.config(),
		fx.Invoke(func(lc fx.Lifecycle) { lc.Append(h.slowHook("user")) }),
		fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.Hook{OnStart: func(context.Context) error {
				return fmt.Errorf("listen tcp :80: %w", &os.SyscallError{Syscall: "bind", Err: syscall.EADDRINUSE})
			}})
		}),
		fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.Hook{OnStart: func(context.Context) error {
				t.Error("a hook after the failing one ran")
				return nil
			}})
		}),
	)
	app := fxtest.New(t, opts...)
	err := app.Start(context.Background())
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Start: %v, want EADDRINUSE", err)
	}
	h.sync()
	st := h.wait(statusContains("start failed: listen tcp :80: bind: address already in use"), "STATUS start failed")
	errno := h.wait(sdtest.Has("ERRNO", fmt.Sprint(int(syscall.EADDRINUSE))), "ERRNO")
	if errno.Seq < st.Seq {
		t.Errorf("ERRNO before STATUS")
	}
	if h.seq("READY", "1") != 0 {
		t.Errorf("READY=1 sent after a failed start:\n%s", h.dump())
	}
	// fx rolled back: the started user hook was stopped, after STOPPING=1.
	h.before("STOPPING", "1", "X_MARK", "user-stopped")
	if err := app.Stop(context.Background()); err != nil {
		t.Errorf("Stop after failed start: %v", err)
	}
}

func TestStartFailureWithoutErrno(t *testing.T) {
	h := newHarness(t)
	app := fxtest.New(t, h.options(h.config(),
		fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.StartHook(func() error { return errors.New("config: missing field greeting") }))
		}))...)
	if err := app.Start(context.Background()); err == nil {
		t.Fatal("Start succeeded")
	}
	h.sync()
	h.wait(statusContains("start failed: config: missing field greeting"), "STATUS")
	if h.count("ERRNO", "") != 0 {
		t.Errorf("ERRNO sent for an error without errno:\n%s", h.dump())
	}
}

func TestStartTimeoutReported(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	app := fxtest.New(t, h.options(h.config(),
		fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.StartHook(func(context.Context) error {
				<-release
				h.Mark("hung-returned")
				return nil
			}))
		}))...)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := app.Start(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start: %v, want deadline exceeded", err)
	}
	h.wait(statusContains("start failed: OnStart hook still running: context deadline exceeded"), "STATUS")
	// fx gave up on the hook without rolling back (App.Run would exit 1
	// now). Let the hook return and fx's start goroutine finish, then stop
	// the application so that nothing leaks.
	close(release)
	h.wait(sdtest.Has("X_MARK", "hung-returned"), "hook return")
	time.Sleep(100 * time.Millisecond)
	if err := app.Stop(context.Background()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	h.sync()
	if h.seq("READY", "1") != 0 {
		t.Errorf("READY=1 after a start timeout:\n%s", h.dump())
	}
}

func TestSIGTERMWhileStarting(t *testing.T) {
	h := newHarness(t)
	app := fxtest.New(t, h.options(h.config(),
		fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.Hook{
				OnStart: func(context.Context) error {
					// Module's first hook has installed its handler by now.
					if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
						return err
					}
					h.wait(sdtest.Has("STOPPING", "1"), "STOPPING=1 while starting")
					h.Mark("user-started")
					return nil
				},
				OnStop: func(context.Context) error { h.Mark("user-stopped"); return nil },
			})
		}))...)
	app.RequireStart()
	select {
	case sig := <-app.Wait():
		t.Logf("shutdown requested: %v", sig)
	case <-time.After(5 * time.Second):
		t.Fatal("no shutdown after SIGTERM while starting")
	}
	app.RequireStop()
	h.sync()
	if h.seq("READY", "1") != 0 {
		t.Errorf("READY=1 after SIGTERM while starting:\n%s", h.dump())
	}
	if n := h.count("STOPPING", "1"); n != 1 {
		t.Errorf("STOPPING=1 sent %d times:\n%s", n, h.dump())
	}
}

func TestModuleInstalledTwice(t *testing.T) {
	h := newHarness(t)
	app := fx.New(fx.NopLogger, fx.Supply(h.config()), fxmodule.Module, fxmodule.Module)
	if err := app.Err(); err == nil || !strings.Contains(err.Error(), "already decorated") {
		t.Errorf("fx.New with Module twice: %v", err)
	}
}
