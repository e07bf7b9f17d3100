package sdlife_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
)

// upgradeChildEnv makes the test binary, started by an upgrade, the new
// process of TestUpgradeInProcess instead of running tests.
const upgradeChildEnv = "SDLIFE_TEST_UPGRADE_CHILD"

func TestMain(m *testing.M) {
	if name := os.Getenv(upgradeChildEnv); name != "" {
		os.Exit(upgradeChild(name))
	}
	goleak.VerifyTestMain(m)
}

// upgradeChild is the new process of an in-process upgrade: a Service,
// from the environment the old process gave it, that answers with name
// until SIGTERM.
func upgradeChild(name string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	svc, err := sdlife.New(sdlife.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "upgrade child:", err)
		return 1
	}
	if name == "unhealthy" {
		svc.AddHealthCheck(httpadapter.Check{Name: "db", Func: func(context.Context) error { return errors.New("connection refused") }})
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name+"\n") })
	if err := svc.Run(ctx, h); err != nil {
		fmt.Fprintln(os.Stderr, "upgrade child:", err)
		return 1
	}
	return 0
}
