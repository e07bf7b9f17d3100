package httpadapter

import (
	"context"

	"github.com/sdlife/sdlife/internal/drainctx"
)

// DrainStarted returns a channel that is closed when the drain of the
// server serving the request begins, for a request's context
// (r.Context()): a handler that streams (server-sent events, long
// polling) selects on it to end its response at a clean point, and the
// owner of a hijacked connection (a WebSocket) to send its close
// message. Outside a request of the Service's servers the channel is nil,
// so a select on it never fires.
func DrainStarted(ctx context.Context) <-chan struct{} {
	if ctx == nil {
		return nil
	}
	return drainctx.Started(ctx)
}
