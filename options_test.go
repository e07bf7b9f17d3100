package sdlife_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle"
)

// Every field the Service fills in itself, and every value that cannot
// work, is an error from New rather than a silent replacement or a
// double notification.
func TestNewRejectsInvalidOptions(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name string
		give func(*sdlife.Options)
	}{
		{name: "Listen.Files", give: func(o *sdlife.Options) { o.Listen.Files = lifecycle.NewFiles() }},
		{name: "Listen.Notifier", give: func(o *sdlife.Options) { o.Listen.Notifier = new(lifecycle.Notifier) }},
		{name: "Listen.FDStore", give: func(o *sdlife.Options) { o.Listen.FDStore = lifecycle.FDStoreLimit{Known: true, Max: 4} }},
		{name: "Listen.Logger", give: func(o *sdlife.Options) { o.Listen.Logger = log }},
		{name: "Listen.Release", give: func(o *sdlife.Options) { o.Listen.Release = httpadapter.ReleaseByCaller }},
		{name: "negative Listen.Backlog", give: func(o *sdlife.Options) { o.Listen.Backlog = -1 }},
		{name: "Server.Handler", give: func(o *sdlife.Options) { o.Server.Handler = http.NotFoundHandler() }},
		{name: "Server.Notifier", give: func(o *sdlife.Options) { o.Server.Notifier = new(lifecycle.Notifier) }},
		{name: "Server.Readiness", give: func(o *sdlife.Options) { o.Server.Readiness = new(httpadapter.Readiness) }},
		{name: "Server.Logger", give: func(o *sdlife.Options) { o.Server.Logger = log }},
		{name: "Server.Ready", give: func(o *sdlife.Options) { o.Server.Ready = httpadapter.ReadyByCaller }},
		{name: "negative StatusInterval", give: func(o *sdlife.Options) { o.StatusInterval = -1 }},
		{name: "negative ReloadTimeout", give: func(o *sdlife.Options) { o.ReloadTimeout = -1 }},
		{name: "unknown FatalCheck", give: func(o *sdlife.Options) { o.FatalCheck = 7 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := sdlife.Options{Environment: &lifecycle.Environment{}, Files: lifecycle.NewFiles()}
			tt.give(&o)
			svc, err := sdlife.New(o)
			if !errors.Is(err, sdlife.ErrInvalidOptions) {
				t.Fatalf("New = %v, %v; want ErrInvalidOptions", svc, err)
			}
		})
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
			if err := svc.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if svc.State() != sdlife.StateStopped {
				t.Errorf("state %v after Stop", svc.State())
			}
			if err := svc.Start(context.Background()); err == nil {
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
