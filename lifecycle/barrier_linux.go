//go:build linux

package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func (n *Notifier) barrier(ctx context.Context) (bool, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return false, fmt.Errorf("lifecycle: barrier pipe: %w", err)
	}
	// The non-blocking read end goes to the runtime poller, so the wait
	// below parks a goroutine instead of a thread and honours deadlines.
	r := os.NewFile(uintptr(p[0]), "barrier")
	defer r.Close()

	n.mu.Lock()
	sent, err := n.sendLocked(msgBarrier, p[1:])
	n.mu.Unlock()
	unix.Close(p[1])
	if err != nil {
		return false, err
	}

	if deadline, ok := ctx.Deadline(); ok {
		_ = r.SetReadDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = r.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	var b [1]byte
	for {
		_, err = r.Read(b[:])
		switch {
		case errors.Is(err, io.EOF):
			return sent, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			if ctx.Err() == context.Canceled {
				return sent, fmt.Errorf("lifecycle: barrier: %w", context.Canceled)
			}
			return sent, fmt.Errorf("lifecycle: barrier: the manager did not answer in time: %w", context.DeadlineExceeded)
		case err != nil:
			return sent, fmt.Errorf("lifecycle: barrier: %w", err)
		}
		// Nobody should write to the pipe; ignore data and keep waiting.
	}
}
