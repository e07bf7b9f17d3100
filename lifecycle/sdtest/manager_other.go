//go:build !linux

package sdtest

import (
	"context"
	"errors"
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

func withAbstractSocket() Option { return func() {} }

// WithWatchdog is a no-op outside Linux.
func WithWatchdog(time.Duration) Option { return func() {} }

// WithFDStore is a no-op outside Linux.
func WithFDStore(int) Option { return func() {} }

// WithOnMessage is a no-op outside Linux.
func WithOnMessage(func(Message)) Option { return func() {} }

// WithMemoryPressure is a no-op outside Linux.
func WithMemoryPressure() Option { return func() {} }

// NewManager skips the test: the fake needs Linux. Without a test it
// panics.
func NewManager(tb testing.TB, _ ...Option) *Manager {
	if tb == nil {
		panic(errNoLinux.Error())
	}
	tb.Helper()
	tb.Skip("sdtest: the fake service manager needs Linux")
	return nil
}

var errNoLinux = errors.New("sdtest: needs Linux")

func (*Manager) Environment() lifecycle.Environment { return lifecycle.Environment{} }
func (*Manager) Notifier() *lifecycle.Notifier      { return nil }
func (*Manager) Messages() []Message                { return nil }
func (*Manager) Wait(context.Context, func(Message) bool) (Message, error) {
	return Message{}, errNoLinux
}
func (*Manager) Stored() []StoredFile    { return nil }
func (*Manager) Files() *lifecycle.Files { return nil }
func (*Manager) Close() error            { return nil }
