//go:build !unix

package lifecycle

import (
	"errors"
	"log/slog"
	"os"
)

func newJournalHandler(*slog.HandlerOptions) (slog.Handler, error) {
	return nil, errors.New("no journal on this platform")
}

func devIno(*os.File) (dev, ino uint64, ok bool) { return 0, 0, false }
