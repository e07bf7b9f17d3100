package main

import (
	"bytes"
	"context"
	bin "encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// defaultJournalSocket is where journald takes native-protocol datagrams.
const defaultJournalSocket = "/run/systemd/journal/socket"

// logEnv is what newLogger needs from the environment, read once.
type logEnv struct {
	JournalStream string // $JOURNAL_STREAM: "DEV:INODE" of the stream journald gave as stdout/stderr
	JournalSocket string // the native socket; empty means defaultJournalSocket
}

func readLogEnv() logEnv { return logEnv{JournalStream: os.Getenv("JOURNAL_STREAM")} }

// newLogger logs journal-native when stderr is the journal's stream
// ($JOURNAL_STREAM names stderr's device and inode): each record is one
// journal entry whose PRIORITY follows the level and whose attributes are
// fields of their own (err becomes ERR). Otherwise, or when the journal's
// socket cannot be reached, it logs plain text to stderr.
func newLogger(stderr io.Writer, env logEnv) *slog.Logger {
	text := slog.NewTextHandler(stderr, nil)
	if !stderrIsJournal(stderr, env.JournalStream) {
		return slog.New(text)
	}
	socket := env.JournalSocket
	if socket == "" {
		socket = defaultJournalSocket
	}
	h, err := newJournalHandler(socket, text)
	if err != nil {
		l := slog.New(text)
		l.Warn("chi-server: journal socket unreachable; logging text to stderr", "err", err)
		return l
	}
	return slog.New(h)
}

// stderrIsJournal reports whether stderr is the stream $JOURNAL_STREAM
// names, as sd_journal_stream_fd(3) tells services to check: a child that
// inherited the variable but had its stderr redirected logs text.
func stderrIsJournal(stderr io.Writer, journalStream string) bool {
	devText, inoText, ok := strings.Cut(journalStream, ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devText, 10, 64)
	ino, err2 := strconv.ParseUint(inoText, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	sdev, sino, ok := devIno(stderr)
	return ok && sdev == dev && sino == ino
}

// journalHandler is a slog.Handler speaking journald's native protocol:
// one datagram per record, KEY=VALUE lines, values with a newline in the
// length-prefixed binary form.
type journalHandler struct {
	conn     *net.UnixConn // connected to the journal's socket
	fallback slog.Handler  // text to stderr when a datagram cannot be sent
	ident    string        // SYSLOG_IDENTIFIER
	prefix   string        // field-name prefix from WithGroup, "GROUP_"
	attrs    []byte        // fields from WithAttrs, already encoded
}

var _ slog.Handler = (*journalHandler)(nil)

func newJournalHandler(socket string, fallback slog.Handler) (*journalHandler, error) {
	// Connected once, so a missing journal is found at start, not per record.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	return &journalHandler{conn: conn, fallback: fallback, ident: filepath.Base(os.Args[0])}, nil
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

// priority maps a level to syslog's: error 3, warning 4, info 6, debug 7.
func priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	}
	return 7
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	var b bytes.Buffer
	appendField(&b, "MESSAGE", r.Message)
	appendField(&b, "PRIORITY", strconv.Itoa(priority(r.Level)))
	if h.ident != "" {
		appendField(&b, "SYSLOG_IDENTIFIER", h.ident)
	}
	b.Write(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.prefix, a)
		return true
	})
	if _, err := h.conn.Write(b.Bytes()); err != nil {
		return h.fallback.Handle(ctx, r)
	}
	return nil
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	var b bytes.Buffer
	b.Write(h.attrs)
	for _, a := range attrs {
		appendAttr(&b, h.prefix, a)
	}
	h2.attrs = b.Bytes()
	h2.fallback = h.fallback.WithAttrs(attrs)
	return &h2
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + fieldName(name) + "_"
	h2.fallback = h.fallback.WithGroup(name)
	return &h2
}

// appendAttr encodes one attribute; groups flatten to GROUP_KEY.
func appendAttr(b *bytes.Buffer, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += fieldName(a.Key) + "_"
		}
		for _, ga := range a.Value.Group() {
			appendAttr(b, p, ga)
		}
		return
	}
	name := fieldName(prefix + a.Key)
	if name == "" {
		return
	}
	appendField(b, name, a.Value.String())
}

// fieldName makes a journal field name of an attribute key: upper case,
// every byte outside A-Z, 0-9 and _ becomes _, no leading _ or digit
// (journald keeps leading _ for its own trusted fields), at most 64 bytes.
func fieldName(key string) string {
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

// appendField writes NAME=value, or, for a value with a newline, NAME, a
// newline, the value's length as 64-bit little endian, the value and a
// newline.
func appendField(b *bytes.Buffer, name, value string) {
	if !strings.Contains(value, "\n") {
		fmt.Fprintf(b, "%s=%s\n", name, value)
		return
	}
	b.WriteString(name)
	b.WriteByte('\n')
	_ = bin.Write(b, bin.LittleEndian, uint64(len(value)))
	b.WriteString(value)
	b.WriteByte('\n')
}
