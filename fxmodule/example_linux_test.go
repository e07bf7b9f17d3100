package fxmodule_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/fx"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

// fakeManager is the smallest stand-in for systemd: a datagram socket
// whose messages the example prints (sdtest.Manager needs a testing.TB).
type fakeManager struct {
	conn *net.UnixConn
	dir  string
}

func newFakeManager() *fakeManager {
	dir, err := os.MkdirTemp("", "fxmodule-example")
	if err != nil {
		panic(err)
	}
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		panic(err)
	}
	return &fakeManager{conn: conn, dir: dir}
}

func (m *fakeManager) env() *lifecycle.Environment {
	return &lifecycle.Environment{NotifySocket: m.conn.LocalAddr().String(), PID: os.Getpid()}
}

// expect prints the lifecycle messages the manager receives until one of
// them is the line want. STATUS lines carry a request rate, so they are
// left out, as are MONOTONIC_USEC's clock value and barriers.
func (m *fakeManager) expect(want string) {
	m.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, sdwire.MaxMessageSize)
	for {
		n, err := m.conn.Read(buf)
		if err != nil {
			fmt.Println("manager:", err)
			return
		}
		done := false
		for line := range strings.SplitSeq(string(buf[:n]), "\n") {
			switch {
			case strings.HasPrefix(line, "STATUS="), strings.HasPrefix(line, "MONOTONIC_USEC="), line == "BARRIER=1":
				continue
			}
			fmt.Println("manager:", line)
			done = done || line == want
		}
		if done {
			return
		}
	}
}

func (m *fakeManager) close() {
	m.conn.Close()
	os.RemoveAll(m.dir)
}

// configStore is the application's configuration, reloaded on SIGHUP.
type configStore struct{ greeting string }

func (c *configStore) Reload(context.Context) error {
	c.greeting = "hello again"
	return nil
}

func Example() {
	manager := newFakeManager()
	defer manager.close()
	var svc *sdlife.Service

	app := fx.New(
		fx.NopLogger,
		fx.Supply(sdlife.Options{Environment: manager.env(), BarrierTimeout: -1}),
		fx.Provide(
			func() *configStore { return &configStore{greeting: "hello"} },
			// The same *configStore, reloaded on SIGHUP.
			fxmodule.AsReloader(func(c *configStore) sdlife.Reloader { return c }),
		),
		fxmodule.Module,
		// The application's own start: READY=1 waits for it although this
		// invoke runs after Module's.
		fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.StartStopHook(
				func() { fmt.Println("app: listening") },
				func() {
					// STOPPING=1 went out before this first OnStop hook.
					manager.expect("STOPPING=1")
					fmt.Println("app: closed")
				},
			))
		}),
		fx.Populate(&svc),
	)
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	manager.expect("READY=1")

	svc.Reload() // what SIGHUP does
	manager.expect("READY=1")

	if err := app.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// app: listening
	// manager: READY=1
	// manager: RELOADING=1
	// manager: READY=1
	// manager: STOPPING=1
	// app: closed
}
