//go:build unix

package lifecycle

import (
	"log/slog"
	"os"

	slogjournal "github.com/systemd/slog-journal"
	"golang.org/x/sys/unix"
)

// journalSocket is where journald takes native-protocol datagrams.
const journalSocket = "/run/systemd/journal/socket"

func newJournalHandler(opts *slog.HandlerOptions) (slog.Handler, error) {
	// The handler drops records silently when the socket is missing, so a
	// journal that is not there is found here, once, and text is logged.
	if _, err := os.Stat(journalSocket); err != nil {
		return nil, err
	}
	replace := opts.ReplaceAttr
	return slogjournal.NewHandler(&slogjournal.Options{
		Level:        opts.Level,
		ReplaceGroup: journalField,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if replace != nil {
				if a = replace(groups, a); a.Equal(slog.Attr{}) {
					return a
				}
			}
			if a.Key = journalField(a.Key); a.Key == "" {
				return slog.Attr{}
			}
			if a.Value.Kind() == slog.KindDuration {
				// As the text form has it ("took=6ms"), not the handler's
				// bare microseconds, so that a field reads the same in both.
				a.Value = slog.StringValue(a.Value.Duration().String())
			}
			return a
		},
	})
}

// devIno returns the device and inode numbers of f.
func devIno(f *os.File) (dev, ino uint64, ok bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil || serr != nil {
		return 0, 0, false
	}
	return uint64(st.Dev), uint64(st.Ino), true //nolint:unconvert // the types differ per platform
}
