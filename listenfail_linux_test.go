package sdlife_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// TestServiceUnboundAddressKeepsServing (issue 16, item 1): a restart whose
// configured address is taken by another process serves on the listener
// the fd store handed back, says so in STATUS= (with ERRNO=) for as long as
// it lasts, and stops saying it once a reload names the address served.
func TestServiceUnboundAddressKeepsServing(t *testing.T) {
	h := newHarness(t, sdtest.WithFDStore(4))
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	first := h.run(h.newService(nil), ok)
	h.wait(sdtest.Has("READY", "1"), "the first READY=1")
	served := first.svc.Addr().String()
	first.cancel()
	if err := first.wait(t); err != nil {
		t.Fatal(err)
	}

	other, err := net.Listen("tcp", "127.0.0.1:0") // another process's port
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	taken := other.Addr().String()
	seq := h.last()
	svc := h.newService(func(o *sdlife.Options) {
		o.Listen.Address = taken
		o.Files = h.m.Files()
	})
	second := h.run(svc, ok)
	h.after(seq, sdtest.Has("READY", "1"), "READY=1 of the second process")
	if got := svc.Addr().String(); got != served {
		t.Fatalf("serving %s, want the stored %s", got, served)
	}
	if code, _, err := get(second.url("/")); err != nil || code != http.StatusOK {
		t.Fatalf("GET: %d, %v", code, err)
	}
	note := "cannot listen on the configured " + taken
	h.after(seq, sdtest.StatusContains(note), "STATUS naming "+taken)
	h.after(seq, sdtest.Has("ERRNO", "98"), "ERRNO=98 (EADDRINUSE)")

	// Still said after the counters changed and STATUS= went out again.
	seq = h.last()
	if _, _, err := get(second.url("/")); err != nil {
		t.Fatal(err)
	}
	if msg := h.after(seq, sdtest.Has("STATUS", ""), "a STATUS refresh"); !sdtest.StatusContains(note)(msg) {
		t.Errorf("STATUS refresh %q dropped %q", msg.Raw, note)
	}

	if err := svc.CheckListenAddress(context.Background(), taken); err == nil {
		t.Errorf("CheckListenAddress(%s) = nil for a port another process holds", taken)
	}
	if err := svc.CheckListenAddress(context.Background(), served); err != nil {
		t.Errorf("CheckListenAddress(%s), the address served: %v", served, err)
	}
	seq = h.last()
	if svc.ListenAddressChanged(taken) { // a reload that left listen alone
		t.Errorf("ListenAddressChanged(%s), the address that failed, = true", taken)
	}
	h.sync()
	if n := h.countSince(seq, func(m sdtest.Message) bool { return sdtest.Has("STATUS", "")(m) && !sdtest.StatusContains(note)(m) }); n != 0 {
		t.Errorf("after a reload that left listen alone, %d STATUS= without %q", n, note)
	}
	svc.ListenAddressChanged(served) // a reload went back to the address served
	msg := h.after(seq, sdtest.Has("STATUS", ""), "STATUS after the reload")
	if sdtest.StatusContains("cannot listen")(msg) {
		t.Errorf("STATUS %q still reports the old address", msg.Raw)
	}
}

// TestNewNamesBacklog: a negative Listen.Backlog is refused at New, by
// name.
func TestNewNamesBacklog(t *testing.T) {
	o := sdlife.Options{Environment: &lifecycle.Environment{}, Files: lifecycle.NewFiles()}
	o.Listen.Backlog = -5
	_, err := sdlife.New(o)
	if !errors.Is(err, sdlife.ErrInvalidOptions) || !strings.Contains(err.Error(), "Listen.Backlog -5") {
		t.Errorf("New: %v, want ErrInvalidOptions naming Listen.Backlog", err)
	}
}
