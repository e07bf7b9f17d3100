package sdlife_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// waitFor bounds every wait in these tests. It is a bound on "not stalled",
// never a synchronisation: every wait ends on an event.
const waitFor = 10 * time.Second

// harness is a fake manager plus a second, independent notifier the test's
// own hooks use to drop markers (X_MARK=...) into the same message stream.
// A unixgram send is queued at the receiver before sendmsg returns, so the
// order of messages in the stream is the order in which they were sent,
// across both sockets: "READY=1 came after X_MARK=started" is a real
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

// options are the Options every test starts from: this harness's
// environment, no passed descriptors, a fresh loopback port, STATUS=
// refreshed often.
func (h *harness) options() sdlife.Options {
	env := h.env
	return sdlife.Options{
		Environment:    &env,
		Files:          lifecycle.NewFiles(),
		Listen:         httpadapter.ListenConfig{Address: "127.0.0.1:0"},
		StatusInterval: 10 * time.Millisecond,
	}
}

// newService builds a Service from options(), edited by edit (may be nil).
func (h *harness) newService(edit func(*sdlife.Options)) *sdlife.Service {
	h.t.Helper()
	o := h.options()
	if edit != nil {
		edit(&o)
	}
	svc, err := sdlife.New(o)
	if err != nil {
		h.t.Fatal(err)
	}
	return svc
}

// running is a Service whose Run is in progress in a goroutine.
type running struct {
	svc    *sdlife.Service
	cancel context.CancelFunc
	done   chan error
}

// run starts svc.Run(ctx, handler, hooks...) and makes sure, when the test
// ends, that it was stopped and returned.
func (h *harness) run(svc *sdlife.Service, handler http.Handler, hooks ...sdlife.Hook) *running {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{svc: svc, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- svc.Run(ctx, handler, hooks...) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(waitFor):
			h.t.Errorf("Run did not return %v after its context ended", waitFor)
		}
	})
	return r
}

// wait returns Run's result.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(waitFor):
		t.Fatalf("Run did not return within %v", waitFor)
		return nil
	}
}

// url is the service's address, for requests.
func (r *running) url(path string) string {
	return "http://" + r.svc.Addr().String() + path
}

// Mark drops X_MARK=name into the message stream.
func (h *harness) Mark(name string) {
	if _, err := h.mark.Notify("X_MARK=" + name); err != nil {
		h.t.Errorf("mark %s: %v", name, err)
	}
}

// wait waits for a message, from the first one received on.
func (h *harness) wait(match func(sdtest.Message) bool, what string) sdtest.Message {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	msg, err := h.m.Wait(ctx, match)
	if err != nil {
		h.t.Fatalf("waiting for %s: %v\nmessages:\n%s", what, err, h.dump())
	}
	return msg
}

// after waits for a message after the one numbered seq.
func (h *harness) after(seq int, match func(sdtest.Message) bool, what string) sdtest.Message {
	h.t.Helper()
	return h.wait(sdtest.After(seq, match), what)
}

// sync waits until the manager has read everything sent so far from the
// marker socket and, since sends are queued in order, from the service.
func (h *harness) sync() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := h.mark.Barrier(ctx); err != nil {
		h.t.Fatalf("barrier: %v", err)
	}
}

// seq is the number of the first message that matches, 0 if none.
func (h *harness) seq(match func(sdtest.Message) bool) int {
	for _, msg := range h.m.Messages() {
		if match(msg) {
			return msg.Seq
		}
	}
	return 0
}

// countSince counts matching messages received after seq.
func (h *harness) countSince(seq int, match func(sdtest.Message) bool) int {
	n := 0
	for _, msg := range h.m.Messages() {
		if msg.Seq > seq && match(msg) {
			n++
		}
	}
	return n
}

func (h *harness) count(match func(sdtest.Message) bool) int { return h.countSince(0, match) }

func (h *harness) last() int {
	msgs := h.m.Messages()
	if len(msgs) == 0 {
		return 0
	}
	return msgs[len(msgs)-1].Seq
}

func (h *harness) dump() string {
	var b strings.Builder
	for _, msg := range h.m.Messages() {
		b.WriteString(strings.ReplaceAll(msg.Raw, "\n", " | "))
		b.WriteByte('\n')
	}
	return b.String()
}

// order fails the test unless the first messages matching each of
// matches came in that order, all present.
func (h *harness) order(names []string, matches ...func(sdtest.Message) bool) {
	h.t.Helper()
	prev := 0
	for i, m := range matches {
		s := h.seq(m)
		if s == 0 || s < prev {
			h.t.Errorf("want %s in order; %s is at seq %d after %d; messages:\n%s",
				strings.Join(names, " < "), names[i], s, prev, h.dump())
			return
		}
		prev = s
	}
}

func mark(name string) func(sdtest.Message) bool { return sdtest.Has("X_MARK", name) }

var (
	ready     = sdtest.Has("READY", "1")
	stopping  = sdtest.Has("STOPPING", "1")
	reloading = sdtest.Has("RELOADING", "1")
)

// kill sends sig to this process, as the manager would.
func kill(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), sig); err != nil {
		t.Fatal(err)
	}
}

// signals delivers sigs to this process one at a time, each only once the
// previous one has gone through os/signal to every channel registered for
// it, the Service's included. os/signal hands signals to channels from one
// goroutine, one signal after the other: once the test's own channel has
// received signal k, the delivery of signal k-1 is complete; a final
// SIGUSR1, received on the test's channel, closes the delivery of the last.
func signals(t *testing.T, sigs ...syscall.Signal) {
	t.Helper()
	c := make(chan os.Signal, 1)
	set := []os.Signal{syscall.SIGUSR1}
	for _, s := range sigs {
		set = append(set, s)
	}
	signal.Notify(c, set...)
	defer signal.Stop(c)
	for _, s := range append(sigs, syscall.SIGUSR1) {
		kill(t, s)
		select {
		case <-c:
		case <-time.After(waitFor):
			t.Fatalf("%v not delivered", s)
		}
	}
}

// get sends GET url and returns the status and body.
func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// dialable reports whether addr accepts a TCP connection now.
func dialable(addr net.Addr) bool {
	if addr == nil {
		return false
	}
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// readyz checks what the Service's readiness probe answers now.
func readyz(t *testing.T, svc *sdlife.Service, wantCode int, wantBody string) {
	t.Helper()
	rec := httptest.NewRecorder()
	svc.ReadinessHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != wantCode || rec.Body.String() != wantBody+"\n" {
		t.Errorf("/readyz = %d %q, want %d %q", rec.Code, rec.Body, wantCode, wantBody)
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

// activated returns Files holding a duplicate of l's descriptor under
// name, as if the manager had passed l through socket activation. The
// caller keeps l; unclaimed descriptors are closed when the test ends.
func activated(t *testing.T, l net.Listener, name string) *lifecycle.Files {
	t.Helper()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	files := lifecycle.NewFiles(lifecycle.NamedFile{Name: name, File: f})
	t.Cleanup(func() { files.Close() })
	return files
}
