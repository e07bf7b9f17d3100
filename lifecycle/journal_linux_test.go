package lifecycle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	slogjournal "github.com/systemd/slog-journal"
	"golang.org/x/sys/unix"
)

// streamOf returns f's "DEV:INODE", as $JOURNAL_STREAM would name it.
func streamOf(t *testing.T, f *os.File) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", uint64(st.Dev), uint64(st.Ino)) //nolint:unconvert // the types differ per platform
}

func TestIsJournalStream(t *testing.T) {
	f := tempFile(t)
	match := streamOf(t, f)
	dev, ino, _ := strings.Cut(match, ":")
	tests := []struct {
		name string
		give string
		want bool
	}{
		{name: "device and inode match", give: match, want: true},
		{name: "other inode", give: dev + ":" + ino + "1"},
		{name: "other device", give: "1" + dev + ":" + ino},
		{name: "unset", give: ""},
		{name: "no colon", give: dev + ino},
		{name: "not numbers", give: "a:b"},
		{name: "three parts", give: match + ":1"},
		{name: "negative", give: "-" + match},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isJournalStream(f, tt.give); got != tt.want {
				t.Fatalf("isJournalStream(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

// journalChildEnv marks the child process of TestNewLoggerJournalNative.
const journalChildEnv = "SDLIFE_TEST_JOURNAL_CHILD"

// TestNewLoggerJournalNative logs through the journal's native protocol to
// a real datagram socket at journald's fixed path. The path cannot be
// moved, so the test runs itself again in a private mount namespace (root
// only) with a tmpfs over /run, where it plays journald.
func TestNewLoggerJournalNative(t *testing.T) {
	if os.Getenv(journalChildEnv) == "1" {
		journalNativeChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for a private mount namespace")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNewLoggerJournalNative$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), journalChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestNewLoggerJournalNative")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func journalNativeChild(t *testing.T) {
	if err := unix.Mount("tmpfs", "/run", "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(journalSocket), 0o755); err != nil {
		t.Fatal(err)
	}
	journal, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: journalSocket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer journal.Close()
	stderr := tempFile(t)

	logger := NewLogger(stderr, Environment{JournalStream: streamOf(t, stderr)}, nil)
	if _, ok := logger.Handler().(*slogjournal.Handler); !ok {
		t.Fatalf("handler is %T, want the journal's", logger.Handler())
	}
	logger.With("unit", "chi-server.service").WithGroup("reload").Error("reload failed; keeping the previous config",
		"err", errors.New("config: unknown field \"greting\"\nat line 2"), "attempt", 3, "123", "dropped",
		"took", 6*time.Millisecond)
	got := readEntry(t, journal)
	want := map[string]string{
		"MESSAGE":           "reload failed; keeping the previous config",
		"PRIORITY":          "3",
		"UNIT":              "chi-server.service",
		"RELOAD_ERR":        "config: unknown field \"greting\"\nat line 2",
		"RELOAD_ATTEMPT":    "3",
		"RELOAD_TOOK":       "6ms",
		"SYSLOG_IDENTIFIER": filepath.Base(os.Args[0]),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("field %s = %q, want %q (entry %q)", k, got[k], v, got)
		}
	}
	for k := range got {
		if strings.Contains(k, "123") {
			t.Errorf("field %s: a key with no letters must be dropped", k)
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
	if s := readAll(t, stderr); s != "" {
		t.Errorf("journal-native logging also wrote to stderr: %q", s)
	}

	// No journal socket: text, and one line that says why.
	journal.Close()
	if err := os.Remove(journalSocket); err != nil {
		t.Fatal(err)
	}
	logger = NewLogger(stderr, Environment{JournalStream: streamOf(t, stderr)}, nil)
	logger.Error("reload failed", "err", errors.New("boom"))
	if s := readAll(t, stderr); !strings.Contains(s, "the journal cannot be reached") || !strings.Contains(s, "err=boom") {
		t.Fatalf("stderr = %q, want the fallback warning and the text record", s)
	}
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
		size := binary.LittleEndian.Uint64(rest[:8])
		fields[string(line)] = string(rest[8 : 8+size])
		if rest[8+size] != '\n' {
			t.Fatalf("binary field %s not closed by a newline", line)
		}
		b = rest[8+size+1:]
	}
	return fields
}
