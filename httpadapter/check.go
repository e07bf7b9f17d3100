package httpadapter

import (
	"context"
	"time"
)

// Check is one health check.
type Check struct {
	Name string
	// Func reports the health of one dependency; nil error means healthy.
	// It should return when ctx is done.
	Func func(ctx context.Context) error
	// Timeout bounds one run. Zero means 2s. A check
	// that has not returned by then counts as failing.
	Timeout time.Duration
	// Fatal marks a check whose failure means the process should be
	// restarted: with sdlife.Options.FatalCheck set to FatalTrigger, the
	// Service sends WATCHDOG=trigger for it.
	Fatal bool
}
