//go:build unix

package main

import (
	"bytes"
	bin "encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// streamOf returns f's "DEV:INODE", as $JOURNAL_STREAM would name it.
func streamOf(t *testing.T, f *os.File) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(f.Name(), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", uint64(st.Dev), uint64(st.Ino))
}

func tempStderr(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestStderrIsJournal(t *testing.T) {
	stderr := tempStderr(t)
	match := streamOf(t, stderr)
	dev, ino, _ := strings.Cut(match, ":")
	tests := []struct {
		name   string
		stderr any
		give   string
		want   bool
	}{
		{name: "device and inode match", stderr: stderr, give: match, want: true},
		{name: "other inode", stderr: stderr, give: dev + ":" + ino + "1"},
		{name: "other device", stderr: stderr, give: "1" + dev + ":" + ino},
		{name: "unset", stderr: stderr, give: ""},
		{name: "no colon", stderr: stderr, give: dev + ino},
		{name: "not numbers", stderr: stderr, give: "a:b"},
		{name: "three parts", stderr: stderr, give: match + ":1"},
		{name: "negative", stderr: stderr, give: "-" + match},
		{name: "stderr not a file", stderr: &bytes.Buffer{}, give: match},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.stderr.(interface{ Write([]byte) (int, error) })
			if got := stderrIsJournal(w, tt.give); got != tt.want {
				t.Fatalf("stderrIsJournal(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

// fakeJournal is a unixgram socket standing in for journald's.
func fakeJournal(t *testing.T) (string, *net.UnixConn) {
	t.Helper()
	dir, err := os.MkdirTemp("", "journal")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "socket")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return path, conn
}

// readEntry reads one datagram and decodes journald's native format.
func readEntry(t *testing.T, conn *net.UnixConn) map[string]string {
	t.Helper()
	buf := make([]byte, 1<<16)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	b := buf[:n]
	fields := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			t.Fatalf("entry ends without a newline: %q", b)
		}
		line := b[:nl]
		if k, v, ok := bytes.Cut(line, []byte("=")); ok {
			fields[string(k)] = string(v)
			b = b[nl+1:]
			continue
		}
		// Binary form: NAME\n, 64-bit LE length, value, \n.
		rest := b[nl+1:]
		size := bin.LittleEndian.Uint64(rest[:8])
		fields[string(line)] = string(rest[8 : 8+size])
		if rest[8+size] != '\n' {
			t.Fatalf("binary field %s not closed by a newline", line)
		}
		b = rest[8+size+1:]
	}
	return fields
}

func TestJournalNativeLogging(t *testing.T) {
	socket, journal := fakeJournal(t)
	stderr := tempStderr(t)
	logger := newLogger(stderr, logEnv{JournalStream: streamOf(t, stderr), JournalSocket: socket})
	if _, ok := logger.Handler().(*journalHandler); !ok {
		t.Fatalf("handler is %T, want the journal handler", logger.Handler())
	}
	defer logger.Handler().(*journalHandler).conn.Close()

	logger.With("unit", "chi-server.service").WithGroup("reload").Error("reload failed; keeping the previous config",
		"err", errors.New("config: unknown field \"greting\"\nat line 2"), "attempt", 3)
	got := readEntry(t, journal)
	want := map[string]string{
		"MESSAGE":           "reload failed; keeping the previous config",
		"PRIORITY":          "3",
		"UNIT":              "chi-server.service",
		"RELOAD_ERR":        "config: unknown field \"greting\"\nat line 2",
		"RELOAD_ATTEMPT":    "3",
		"SYSLOG_IDENTIFIER": filepath.Base(os.Args[0]),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("field %s = %q, want %q (entry %q)", k, got[k], v, got)
		}
	}

	for _, tt := range []struct {
		level slog.Level
		want  string
	}{{slog.LevelWarn, "4"}, {slog.LevelInfo, "6"}} {
		logger.Log(t.Context(), tt.level, "memory pressure", "err", "x")
		if e := readEntry(t, journal); e["PRIORITY"] != tt.want || e["ERR"] != "x" {
			t.Errorf("level %v: PRIORITY=%q ERR=%q, want %s and x", tt.level, e["PRIORITY"], e["ERR"], tt.want)
		}
	}
	if fi, _ := stderr.Stat(); fi.Size() != 0 {
		t.Errorf("journal-native logging also wrote %d bytes to stderr", fi.Size())
	}
}

func TestTextLoggingWhenStderrIsNotTheJournal(t *testing.T) {
	socket, _ := fakeJournal(t)
	var buf bytes.Buffer
	logger := newLogger(&buf, logEnv{JournalStream: "1:2", JournalSocket: socket})
	logger.Error("reload failed", "err", errors.New("boom"))
	if got := buf.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "err=boom") {
		t.Fatalf("text log = %q, want level=ERROR and err=boom", got)
	}
}

func TestTextLoggingWhenJournalSocketMissing(t *testing.T) {
	stderr := tempStderr(t)
	logger := newLogger(stderr, logEnv{JournalStream: streamOf(t, stderr), JournalSocket: filepath.Join(t.TempDir(), "none")})
	logger.Error("reload failed", "err", errors.New("boom"))
	b, err := os.ReadFile(stderr.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "journal socket unreachable") || !strings.Contains(string(b), "err=boom") {
		t.Fatalf("stderr = %q, want the fallback warning and the text record", b)
	}
}

func TestFieldName(t *testing.T) {
	tests := []struct{ give, want string }{
		{"err", "ERR"},
		{"http.status", "HTTP_STATUS"},
		{"_private", "PRIVATE"},
		{"9lives", "LIVES"},
		{"ünï", "N__"},
		{strings.Repeat("a", 70), strings.Repeat("A", 64)},
	}
	for _, tt := range tests {
		if got := fieldName(tt.give); got != tt.want {
			t.Errorf("fieldName(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestReadLogEnv(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "8:1234")
	if got := readLogEnv(); got != (logEnv{JournalStream: "8:1234"}) {
		t.Fatalf("readLogEnv() = %+v", got)
	}
}
