package lifecycle

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sdlife/sdlife/internal/sdwire"
)

func TestAppendStatus(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "plain", give: "Serving: 12 requests", want: "STATUS=Serving: 12 requests"},
		{name: "empty", give: "", want: "STATUS="},
		{name: "newline injection", give: "ok\nREADY=1", want: "STATUS=ok READY=1"},
		{name: "CRLF", give: "a\r\nb", want: "STATUS=a  b"},
		{name: "NUL", give: "a\x00b", want: "STATUS=a b"},
		{name: "tab becomes a space", give: "a\tb", want: "STATUS=a b"},
		{name: "UTF-8 kept", give: "grüße ✓", want: "STATUS=grüße ✓"},
		{name: "invalid UTF-8", give: "a\xffb", want: "STATUS=a\uFFFDb"},
		{name: "truncated rune", give: "a\xe2\x9c", want: "STATUS=a\uFFFD\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendStatus(nil, tt.give)); got != tt.want {
				t.Fatalf("appendStatus(%q) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}

func FuzzAppendStatus(f *testing.F) {
	for _, s := range []string{"ok", "a\nb", "\xff", "READY=1\nSTATUS=x", "\r\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendStatus(nil, s)
		if !strings.HasPrefix(string(got), "STATUS=") {
			t.Fatalf("missing prefix: %q", got)
		}
		if strings.ContainsAny(string(got), "\n\r\x00") {
			t.Fatalf("status %q produced a line break or NUL: %q", s, got)
		}
		if !utf8.Valid(got) {
			t.Fatalf("status %q produced invalid UTF-8: %q", s, got)
		}
		if err := validateState(string(got)); len(got) <= maxMessageSize && err != nil {
			t.Fatalf("sanitized status rejected: %v", err)
		}
	})
}

func TestValidateState(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		wantErr error
	}{
		{name: "one line", give: "READY=1"},
		{name: "several", give: "READY=1\nSTATUS=up\nX_APP=1"},
		{name: "trailing newline", give: "READY=1\n"},
		{name: "empty value", give: "STATUS="},
		{name: "empty", give: "", wantErr: ErrInvalidMessage},
		{name: "blank line", give: "READY=1\n\nSTATUS=x", wantErr: ErrInvalidMessage},
		{name: "two trailing newlines", give: "READY=1\n\n", wantErr: ErrInvalidMessage},
		{name: "no equals", give: "READY", wantErr: ErrInvalidMessage},
		{name: "lower-case key", give: "ready=1", wantErr: ErrInvalidMessage},
		{name: "empty key", give: "=1", wantErr: ErrInvalidMessage},
		{name: "NUL", give: "STATUS=a\x00b", wantErr: ErrInvalidMessage},
		{name: "too large", give: "STATUS=" + strings.Repeat("a", maxMessageSize), wantErr: ErrInvalidMessage},
		{name: "exactly max", give: "STATUS=" + strings.Repeat("a", maxMessageSize-7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateState(tt.give)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("validateState(%q) = %v, want %v", tt.give, err, tt.wantErr)
			}
		})
	}
}

func FuzzValidateState(f *testing.F) {
	for _, s := range []string{"READY=1", "READY=1\nSTATUS=x\n", "=", "\n", "A=\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validateState(s) != nil {
			return
		}
		// Anything accepted is what the manager parses as assignments.
		if len(s) > maxMessageSize || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("accepted %q", s)
		}
		for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
			k, _, ok := strings.Cut(line, "=")
			if !ok || !validKey(k) {
				t.Fatalf("accepted %q with line %q", s, line)
			}
		}
	})
}

func FuzzValidFDName(f *testing.F) {
	for _, s := range []string{"http", "a:b", "", "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !sdwire.ValidFDName(s) {
			return
		}
		if strings.ContainsAny(s, ":\n\x00") || len(s) > 255 || s == "" {
			t.Fatalf("accepted %q", s)
		}
		// A valid name survives the round trip through $LISTEN_FDNAMES.
		names, err := parseFDNames(s+":"+s, 2)
		if err != nil || names[0] != s || names[1] != s {
			t.Fatalf("parseFDNames round trip of %q: %v, %v", s, names, err)
		}
	})
}
