package lifecycle

import (
	"log/slog"
	"os"
	"strconv"
	"strings"
)

// NewLogger returns the logger a service wants under systemd: when stderr
// is the journal's stream (env.JournalStream names its device and inode),
// each record is one journal entry sent over the journal's native protocol,
// with PRIORITY following the level (error 3, warning 4, info 6, debug 7)
// and every attribute a field of its own, its key upper-cased ("err"
// becomes ERR, "listen.addr" LISTEN_ADDR) and a duration in Go's form
// ("6ms", as in text). Otherwise, and off Linux, it
// logs text to stderr. opts may be nil; its Level and ReplaceAttr apply to
// both forms.
//
//	logger := lifecycle.NewLogger(os.Stderr, lifecycle.ReadEnvironment(), nil)
func NewLogger(stderr *os.File, env Environment, opts *slog.HandlerOptions) *slog.Logger {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	text := slog.NewTextHandler(stderr, opts)
	if !isJournalStream(stderr, env.JournalStream) {
		return slog.New(text)
	}
	h, err := newJournalHandler(opts)
	if err != nil {
		l := slog.New(text)
		l.Warn("lifecycle: logging text: the journal cannot be reached", "err", err)
		return l
	}
	return slog.New(h)
}

// isJournalStream reports whether f is the stream journalStream names, as
// sd_journal_stream_fd(3) asks services to check: a child that inherited
// the variable but had its stderr redirected logs text.
func isJournalStream(f *os.File, journalStream string) bool {
	devText, inoText, ok := strings.Cut(journalStream, ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devText, 10, 64)
	ino, err2 := strconv.ParseUint(inoText, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	fdev, fino, ok := devIno(f)
	return ok && fdev == dev && fino == ino
}

// journalField makes a journal field name of an attribute key or group:
// upper case, every byte outside A-Z, 0-9 and _ becomes _, no leading _ or
// digit (journald keeps leading _ for its own trusted fields), at most 64
// bytes. An empty result means the attribute cannot be a field.
func journalField(key string) string {
	b := []byte(strings.ToUpper(key))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	s := strings.TrimLeft(string(b), "_0123456789")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}
