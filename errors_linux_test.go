package sdlife_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// An operator reads one line per error, with one package prefix however
// many layers the error crossed.
func TestErrorsCarryOnePackagePrefix(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	m := sdtest.NewManager(t)
	tests := []struct {
		name string
		give func() error
	}{
		{"bad WATCHDOG_USEC", func() error {
			_, err := sdlife.New(sdlife.Options{Environment: &lifecycle.Environment{WatchdogUSec: "soon"}})
			return err
		}},
		{"relative NOTIFY_SOCKET", func() error {
			_, err := sdlife.New(sdlife.Options{Environment: &lifecycle.Environment{NotifySocket: "run/notify"}})
			return err
		}},
		{"bad option", func() error {
			_, err := sdlife.New(sdlife.Options{Server: httpadapter.ServerConfig{DrainTimeout: -time.Second}})
			return err
		}},
		{"address in use", func() error {
			env := m.Environment()
			svc, err := sdlife.New(sdlife.Options{Environment: &env, Listen: httpadapter.ListenConfig{Address: busy.Addr().String()}})
			if err != nil {
				return err
			}
			return svc.Run(context.Background(), http.NotFoundHandler())
		}},
		{"not a listener", func() error {
			env := m.Environment()
			files := lifecycle.NewFiles(lifecycle.NamedFile{Name: "http", File: devNull(t)})
			svc, err := sdlife.New(sdlife.Options{Environment: &env, Files: files})
			if err != nil {
				return err
			}
			return svc.Run(context.Background(), http.NotFoundHandler())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give()
			if err == nil {
				t.Fatal("no error")
			}
			n := 0
			for _, p := range []string{"lifecycle: ", "httpadapter: ", "sdlife: ", "fxmodule: "} {
				n += strings.Count(err.Error(), p)
			}
			if n != 1 || strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: want one line with one package prefix", err)
			}
		})
	}
}

func devNull(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
