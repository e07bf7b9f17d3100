//go:build !linux

package upgrade

import (
	"context"
	"errors"
	"fmt"

	"github.com/sdlife/sdlife/lifecycle"
)

// Upgrades need Linux (and systemd): elsewhere Replaced and Start fail
// with lifecycle.ErrUnsupported, Join finds no upgrade unless the Files
// holds a channel, which it reports as unsupported.

func Replaced(path string) (bool, error) {
	return false, &Error{Why: lifecycle.ErrUnsupported.Error(), Err: lifecycle.ErrUnsupported}
}

type Child struct{}

func Start(ctx context.Context, cfg Config) (*Child, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return nil, &Error{Why: lifecycle.ErrUnsupported.Error(), Err: lifecycle.ErrUnsupported}
}

func (c *Child) PID() int                             { return 0 }
func (c *Child) Status() string                       { return "" }
func (c *Child) HandOver(n *lifecycle.Notifier) error { return lifecycle.ErrUnsupported }
func (c *Child) Stop()                                {}

type Joined struct{ env lifecycle.Environment }

func Join(env lifecycle.Environment, files *lifecycle.Files) (*Joined, error) {
	f, err := files.File(ChannelName)
	if errors.Is(err, lifecycle.ErrNotFound) {
		return nil, nil
	}
	if err == nil {
		f.Close()
	}
	return nil, fmt.Errorf("upgrade: %w", lifecycle.ErrUnsupported)
}

func (j *Joined) Environment() lifecycle.Environment { return j.env }
func (j *Joined) Manager() lifecycle.Environment     { return j.env }
func (j *Joined) Done() <-chan struct{}              { c := make(chan struct{}); close(c); return c }
func (j *Joined) Err() error                         { return nil }
func (j *Joined) Wait(ctx context.Context) error     { return nil }
func (j *Joined) Close() error                       { return nil }
