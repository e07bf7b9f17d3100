package fxmodule_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// harness is a fake manager plus a second, independent notifier the test's
// own hooks use to drop markers (X_MARK=...) into the same message stream.
// A unixgram send is queued at the receiver before sendmsg returns, so the
// order of messages in the stream is the order in which they were sent,
// across both sockets: "READY=1 came after X_MARK=listening" is a real
// happens-before, not a timing accident.
type harness struct {
	t    *testing.T
	m    *sdtest.Manager
	env  lifecycle.Environment
	mark *lifecycle.Notifier
}

func newHarness(t *testing.T, opts ...sdtest.Option) *harness {
	t.Helper()
	m := sdtest.NewManager(t, opts...)
	return &harness{t: t, m: m, env: m.Environment(), mark: m.Notifier()}
}

func (h *harness) config() sdlife.Options {
	env := h.env
	return sdlife.Options{Environment: &env, StatusInterval: 10 * time.Millisecond}
}

// options returns the module, the harness's Config and extra options.
func (h *harness) options(cfg sdlife.Options, opts ...fx.Option) []fx.Option {
	return append([]fx.Option{fx.Supply(cfg), fxmodule.Module}, opts...)
}

// Mark drops X_MARK=name into the message stream.
func (h *harness) Mark(name string) {
	h.t.Helper()
	if _, err := h.mark.Notify("X_MARK=" + name); err != nil {
		h.t.Errorf("mark %s: %v", name, err)
	}
}

// wait waits up to 5s for a message.
func (h *harness) wait(match func(sdtest.Message) bool, what string) sdtest.Message {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, err := h.m.Wait(ctx, match)
	if err != nil {
		h.t.Fatalf("waiting for %s: %v\nmessages:\n%s", what, err, h.dump())
	}
	return msg
}

// sync waits until the manager has read everything sent so far from the
// marker socket and, since sends are queued in order, from the module too.
func (h *harness) sync() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.mark.Barrier(ctx); err != nil {
		h.t.Fatalf("barrier: %v", err)
	}
}

func (h *harness) seq(key, value string) int {
	for _, msg := range h.m.Messages() {
		if sdtest.Has(key, value)(msg) {
			return msg.Seq
		}
	}
	return 0
}

func (h *harness) count(key, value string) int {
	n := 0
	for _, msg := range h.m.Messages() {
		if sdtest.Has(key, value)(msg) {
			n++
		}
	}
	return n
}

func (h *harness) dump() string {
	var b strings.Builder
	for _, msg := range h.m.Messages() {
		b.WriteString(strings.ReplaceAll(msg.Raw, "\n", " | "))
		b.WriteByte('\n')
	}
	return b.String()
}

// statusContains matches a STATUS= containing text.
func statusContains(text string) func(sdtest.Message) bool {
	return func(m sdtest.Message) bool {
		v, ok := m.Get("STATUS")
		return ok && strings.Contains(v, text)
	}
}

// before fails the test unless the first message matching a came before
// the first one matching b, both present.
func (h *harness) before(aKey, aValue, bKey, bValue string) {
	h.t.Helper()
	a, b := h.seq(aKey, aValue), h.seq(bKey, bValue)
	if a == 0 || b == 0 || a > b {
		h.t.Errorf("want %s=%s (seq %d) before %s=%s (seq %d); messages:\n%s",
			aKey, aValue, a, bKey, bValue, b, h.dump())
	}
}

// signalMemoryPressure sends one memory pressure event through the FIFO of
// m, made with sdtest.WithMemoryPressure.
func signalMemoryPressure(t *testing.T, m *sdtest.Manager) {
	t.Helper()
	if err := os.WriteFile(m.Environment().MemoryPressureWatch, []byte{1}, 0); err != nil {
		t.Fatalf("signal memory pressure: %v", err)
	}
}
