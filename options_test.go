package sdlife_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/phases"
	"github.com/sdlife/sdlife/lifecycle"
)

// Every value that cannot work is an error from New naming the field.
// The fields the Service fills in itself (descriptors, notifier, logger,
// handler) are not in Options at all.
func TestNewRejectsInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		give func(*sdlife.Options)
		want string
	}{
		{"negative Listen.Backlog", func(o *sdlife.Options) { o.Listen.Backlog = -1 }, "Listen.Backlog -1"},
		{"Listen.Name with a colon", func(o *sdlife.Options) { o.Listen.Name = "a:b" }, `Listen.Name "a:b"`},
		{"unknown Listen.Network", func(o *sdlife.Options) { o.Listen.Network = "udp" }, `Listen.Network "udp"`},
		{"Listen.Address without a port", func(o *sdlife.Options) { o.Listen.Address = "localhost" }, `Listen.Address "localhost"`},
		{"Listen.Address with a bad port", func(o *sdlife.Options) { o.Listen.Address = "localhost:99999" }, `Listen.Address "localhost:99999": bad port`},
		{"negative Server.DrainTimeout", func(o *sdlife.Options) { o.Server.DrainTimeout = -1 }, "Server.DrainTimeout -1ns"},
		{"negative Server.HeaderGrace", func(o *sdlife.Options) { o.Server.HeaderGrace = -time.Second }, "Server.HeaderGrace -1s"},
		{"Server.TLS without a certificate", func(o *sdlife.Options) { o.Server.TLS = &tls.Config{} }, "Server.TLS: no certificate"},
		{"listener without a name", func(o *sdlife.Options) {
			o.Listeners = []sdlife.Listener{{Handler: http.NotFoundHandler()}}
		}, "Listeners[0].Name: required"},
		{"listener named as Listen", func(o *sdlife.Options) {
			o.Listeners = []sdlife.Listener{{ListenConfig: httpadapter.ListenConfig{Name: "http"}, Handler: http.NotFoundHandler()}}
		}, `Listeners[0].Name "http": used by another listener`},
		{"two listeners with one name", func(o *sdlife.Options) {
			admin := sdlife.Listener{ListenConfig: httpadapter.ListenConfig{Name: "admin"}, Handler: http.NotFoundHandler()}
			o.Listeners = []sdlife.Listener{admin, admin}
		}, `Listeners[1].Name "admin": used by another listener`},
		{"listener name FDNAME forbids", func(o *sdlife.Options) {
			o.Listeners = []sdlife.Listener{{ListenConfig: httpadapter.ListenConfig{Name: "ad:min"}, Handler: http.NotFoundHandler()}}
		}, `Listeners[0].Name "ad:min": want`},
		{"listener without a handler", func(o *sdlife.Options) {
			o.Listeners = []sdlife.Listener{{ListenConfig: httpadapter.ListenConfig{Name: "admin"}}}
		}, "Listeners[0].Handler: nil"},
		{"negative StatusInterval", func(o *sdlife.Options) { o.StatusInterval = -1 }, "StatusInterval -1ns"},
		{"negative ReloadTimeout", func(o *sdlife.Options) { o.ReloadTimeout = -1 }, "ReloadTimeout -1ns"},
		{"negative MemoryPressureInterval", func(o *sdlife.Options) { o.MemoryPressureInterval = -1 }, "MemoryPressureInterval -1ns"},
		{"unknown FatalCheck", func(o *sdlife.Options) { o.FatalCheck = 7 }, "FatalCheck 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := sdlife.Options{Environment: &lifecycle.Environment{}, Files: lifecycle.NewFiles()}
			tt.give(&o)
			svc, err := sdlife.New(o)
			if !errors.Is(err, sdlife.ErrInvalidOptions) {
				t.Fatalf("New = %v, %v; want ErrInvalidOptions", svc, err)
			}
			if got := err.Error(); !strings.HasPrefix(got, "sdlife: invalid options: ") || !strings.Contains(got, tt.want) || strings.Contains(got, "\n") {
				t.Errorf("New: %q, want one line naming %q", got, tt.want)
			}
		})
	}
	// Two problems at once are both named, on one line.
	_, err := sdlife.New(sdlife.Options{Environment: &lifecycle.Environment{}, Files: lifecycle.NewFiles(), StatusInterval: -1, Listen: httpadapter.ListenConfig{Backlog: -1}})
	if err == nil || !strings.Contains(err.Error(), "Listen.Backlog -1") || !strings.Contains(err.Error(), "StatusInterval -1ns") {
		t.Errorf("New with two bad values: %v", err)
	}
}

// The zero Options work, and so does a negative BarrierTimeout (no
// barrier); a Service that never started stops cleanly.
func TestNewAcceptsValidOptions(t *testing.T) {
	tests := []struct {
		name string
		give sdlife.Options
	}{
		{name: "zero"},
		{name: "no barrier", give: sdlife.Options{BarrierTimeout: -1}},
		{name: "trigger", give: sdlife.Options{FatalCheck: sdlife.FatalTrigger}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.give
			o.Environment, o.Files = &lifecycle.Environment{}, lifecycle.NewFiles()
			svc, err := sdlife.New(o)
			if err != nil {
				t.Fatal(err)
			}
			if svc.State() != sdlife.StateNew {
				t.Errorf("state %v", svc.State())
			}
			if err := phases.Of(svc).Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if svc.State() != sdlife.StateStopped {
				t.Errorf("state %v after Stop", svc.State())
			}
			if err := phases.Of(svc).Start(context.Background()); err == nil {
				t.Error("Start after Stop succeeded")
			}
		})
	}
}

// A malformed environment is New's error, with the lifecycle prefix once.
func TestNewRejectsBadEnvironment(t *testing.T) {
	_, err := sdlife.New(sdlife.Options{
		Environment: &lifecycle.Environment{WatchdogUSec: "soon", WatchdogPID: "1"},
		Files:       lifecycle.NewFiles(),
	})
	if err == nil {
		t.Fatal("New accepted WATCHDOG_USEC=soon")
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		give sdlife.State
		want string
	}{
		{sdlife.StateNew, "new"},
		{sdlife.StateStarting, "starting"},
		{sdlife.StateReady, "ready"},
		{sdlife.StateReloading, "reloading"},
		{sdlife.StateStopping, "stopping"},
		{sdlife.StateStopped, "stopped"},
		{sdlife.State(42), "State(42)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.give.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
