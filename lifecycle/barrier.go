package lifecycle

import "context"

// Barrier waits until the manager has processed every notification sent
// before it (BARRIER=1, systemd >= 246). Use it before exiting so that a
// final STATUS or EXIT_STATUS is not lost, or in tests.
//
// It sends BARRIER=1 alone, carrying the write end of a fresh pipe, closes
// its own copy of that end, and waits for the read end to report hang-up:
// the manager closes the descriptor only after it has dealt with all the
// messages queued before. ctx bounds the wait: when its deadline passes
// the error matches context.DeadlineExceeded, when it is cancelled
// context.Canceled. Without a manager Barrier returns at once with
// sent == false.
func (n *Notifier) Barrier(ctx context.Context) (sent bool, err error) {
	if !n.enabled() {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return n.barrier(ctx)
}
