package lifecycle

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJournalField(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "lower case", give: "err", want: "ERR"},
		{name: "dotted", give: "http.status", want: "HTTP_STATUS"},
		{name: "leading underscore is journald's", give: "_private", want: "PRIVATE"},
		{name: "leading digit", give: "9lives", want: "LIVES"},
		{name: "non-ASCII", give: "ünï", want: "N__"},
		{name: "only digits", give: "123", want: ""},
		{name: "too long", give: strings.Repeat("a", 70), want: strings.Repeat("A", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := journalField(tt.give); got != tt.want {
				t.Errorf("journalField(%q) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}

func TestNewLoggerTextWhenStderrIsNotTheJournal(t *testing.T) {
	stderr := tempFile(t)
	logger := NewLogger(stderr, Environment{JournalStream: "1:2"}, nil)
	logger.Error("reload failed", "err", errors.New("boom"))
	got := readAll(t, stderr)
	if !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "err=boom") {
		t.Fatalf("stderr = %q, want a text record with level=ERROR and err=boom", got)
	}
}

func TestNewLoggerOptions(t *testing.T) {
	stderr := tempFile(t)
	logger := NewLogger(stderr, Environment{}, &slog.HandlerOptions{Level: slog.LevelWarn})
	logger.Info("quiet")
	logger.Warn("loud")
	if got := readAll(t, stderr); strings.Contains(got, "quiet") || !strings.Contains(got, "loud") {
		t.Fatalf("stderr = %q, want only the warning (Level applies)", got)
	}
}

func tempFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

// FuzzJournalField: whatever the attribute key, the field name is one
// journald accepts from a client, or empty.
func FuzzJournalField(f *testing.F) {
	for _, s := range []string{"err", "http.status", "_private", "9lives", "ünï", "", strings.Repeat("a", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		got := journalField(key)
		if len(got) > 64 {
			t.Fatalf("journalField(%q) = %q: longer than 64 bytes", key, got)
		}
		for i, c := range []byte(got) {
			upper, digit := c >= 'A' && c <= 'Z', c >= '0' && c <= '9'
			if !upper && !(i > 0 && (digit || c == '_')) {
				t.Fatalf("journalField(%q) = %q: byte %d (%q) not allowed there", key, got, i, c)
			}
		}
	})
}
