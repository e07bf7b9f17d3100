// Package logs holds the module's one rule for an absent logger.
package logs

import "log/slog"

// OrDiscard returns log, or a Logger that drops everything when log is
// nil: every Logger option of the module means "silent" when nil.
func OrDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
