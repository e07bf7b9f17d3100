package upgrade

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseNotice(t *testing.T) {
	tests := []struct {
		name string
		give string
		want notice
	}{
		{name: "ready", give: "READY=1", want: notice{ready: true}},
		{name: "status and errno", give: "STATUS=start failed: x\nERRNO=2\nSTOPPING=1",
			want: notice{status: "start failed: x", hasState: true, errno: 2, stopping: true}},
		{name: "last status wins", give: "STATUS=a\nSTATUS=b", want: notice{status: "b", hasState: true}},
		{name: "empty status clears", give: "STATUS=", want: notice{hasState: true}},
		{name: "extend", give: "EXTEND_TIMEOUT_USEC=1500000", want: notice{extend: 1500 * time.Millisecond}},
		{name: "absurd extend", give: "EXTEND_TIMEOUT_USEC=99999999999999", want: notice{}},
		{name: "bad values", give: "READY=2\nERRNO=x\nEXTEND_TIMEOUT_USEC=-1", want: notice{}},
		{name: "not assignments", give: "READY\n\nfoo", want: notice{}},
		{name: "control characters", give: "STATUS=a\rb\x00c", want: notice{status: "a b c", hasState: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseNotice([]byte(tt.give)); got != tt.want {
				t.Errorf("parseNotice(%q) = %+v, want %+v", tt.give, got, tt.want)
			}
		})
	}
}

func TestParseNoticeLongStatus(t *testing.T) {
	got := parseNotice([]byte("STATUS=" + strings.Repeat("é", 2000))).status
	if len(got) > maxStatusLen+3 || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
		t.Errorf("long status: %d bytes, valid UTF-8 %t, %q...", len(got), utf8.ValidString(got), got[len(got)-8:])
	}
}

func FuzzParseNotice(f *testing.F) {
	f.Add([]byte("READY=1\nSTATUS=ok"))
	f.Add([]byte("STATUS=" + strings.Repeat("é", 600)))
	f.Add([]byte("EXTEND_TIMEOUT_USEC=18446744073709551615\nERRNO=65536"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := parseNotice(b)
		if strings.ContainsAny(n.status, "\n\r\x00") {
			t.Errorf("status %q is not one line", n.status)
		}
		if len(n.status) > maxStatusLen+len("...") {
			t.Errorf("status of %d bytes", len(n.status))
		}
		if utf8.Valid(b) && !utf8.ValidString(n.status) {
			t.Errorf("status %q: valid input became invalid UTF-8", n.status)
		}
		if n.extend < 0 || n.extend > 24*time.Hour || n.errno < 0 {
			t.Errorf("out of range: %+v", n)
		}
	})
}
