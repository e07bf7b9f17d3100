//go:build !linux

package sdtest

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/sdlife/sdlife/lifecycle"
)

// StoredFile is a descriptor in the fake fd store.
type StoredFile struct {
	Name string
	File *os.File
	Poll bool
}

// Manager is a fake service manager; it needs Linux.
type Manager struct{}

// Option configures a Manager.
type Option func()

// WithAbstractSocket is a no-op outside Linux.
func WithAbstractSocket() Option { return func() {} }

// WithWatchdog is a no-op outside Linux.
func WithWatchdog(time.Duration) Option { return func() {} }

// WithFDStore is a no-op outside Linux.
func WithFDStore(int) Option { return func() {} }

// WithOnMessage is a no-op outside Linux.
func WithOnMessage(func(Message)) Option { return func() {} }

// WithMemoryPressure is a no-op outside Linux.
func WithMemoryPressure() Option { return func() {} }

// NewManager skips the test: the fake needs Linux.
func NewManager(tb testing.TB, _ ...Option) *Manager {
	tb.Helper()
	tb.Skip("sdtest: the fake service manager needs Linux")
	return nil
}

// Discard skips the test: the fake needs Linux.
func Discard(tb testing.TB) lifecycle.Environment {
	tb.Helper()
	tb.Skip("sdtest: the notify socket needs Linux")
	return lifecycle.Environment{}
}

// Start fails: the fake needs Linux.
func Start(...Option) (*Manager, error) { return nil, errNoLinux }

var errNoLinux = errors.New("sdtest: needs Linux")

func (*Manager) Environment() lifecycle.Environment              { return lifecycle.Environment{} }
func (*Manager) Notifier() *lifecycle.Notifier                   { return nil }
func (*Manager) Address() string                                 { return "" }
func (*Manager) Messages() []Message                             { return nil }
func (*Manager) Wait(context.Context, Match) (Message, error)    { return Message{}, errNoLinux }
func (*Manager) Next(context.Context, Match) (Message, error)    { return Message{}, errNoLinux }
func (*Manager) Activated(net.Listener, string) *lifecycle.Files { return nil }
func (*Manager) Stored() []StoredFile                            { return nil }
func (*Manager) StoreFull() []Message                            { return nil }
func (*Manager) Files() *lifecycle.Files                         { return nil }
func (*Manager) HoldBarriers()                                   {}
func (*Manager) ReleaseBarriers()                                {}
func (*Manager) Replace()                                        {}
func (*Manager) SignalMemoryPressure()                           {}
func (*Manager) Close() error                                    { return nil }
