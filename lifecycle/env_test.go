package lifecycle

import (
	"strings"
	"testing"
	"time"

	"github.com/sdlife/sdlife/internal/sdwire"
)

func TestWatchdog(t *testing.T) {
	tests := []struct {
		name    string
		give    Environment
		want    time.Duration
		wantErr string
	}{
		{name: "unset", give: Environment{PID: 7}},
		{name: "enabled, no pid", give: Environment{WatchdogUSec: "5000000", PID: 7}, want: 5 * time.Second},
		{name: "enabled, our pid", give: Environment{WatchdogUSec: "1000", WatchdogPID: "7", PID: 7}, want: time.Millisecond},
		{name: "other pid", give: Environment{WatchdogUSec: "1000", WatchdogPID: "8", PID: 7}},
		{name: "zero", give: Environment{WatchdogUSec: "0", PID: 7}},
		{name: "not a number", give: Environment{WatchdogUSec: "5s", PID: 7}, wantErr: "WATCHDOG_USEC"},
		{name: "negative", give: Environment{WatchdogUSec: "-1", PID: 7}, wantErr: "WATCHDOG_USEC"},
		{name: "overflow", give: Environment{WatchdogUSec: "18446744073709551615", PID: 7}, wantErr: "out of range"},
		{name: "bad pid", give: Environment{WatchdogUSec: "1000", WatchdogPID: "x", PID: 7}, wantErr: "WATCHDOG_PID"},
		{name: "pid zero", give: Environment{WatchdogUSec: "1000", WatchdogPID: "0", PID: 7}, wantErr: "WATCHDOG_PID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.give.Watchdog()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Watchdog() error = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Interval != tt.want || got.PingInterval() != tt.want/2 {
				t.Fatalf("Watchdog() = %+v (ping %v), want interval %v", got, got.PingInterval(), tt.want)
			}
		})
	}
}

func TestFDStoreLimit(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    FDStoreLimit
		enabled bool
		wantErr bool
	}{
		{name: "unset is unknown", give: "", want: FDStoreLimit{}},
		{name: "enabled", give: "16", want: FDStoreLimit{Known: true, Max: 16}, enabled: true},
		{name: "zero", give: "0", want: FDStoreLimit{Known: true}},
		{name: "garbage", give: "lots", wantErr: true},
		{name: "negative", give: "-3", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Environment{FDStore: tt.give}.FDStoreLimit()
			if (err != nil) != tt.wantErr {
				t.Fatalf("FDStoreLimit() error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want || got.Enabled() != tt.enabled {
				t.Fatalf("FDStoreLimit() = %+v (enabled %v), want %+v", got, got.Enabled(), tt.want)
			}
		})
	}
}

func TestParseListenEnv(t *testing.T) {
	tests := []struct {
		name      string
		give      Environment
		wantN     int
		wantNames []string
		wantErr   string
	}{
		{name: "nothing", give: Environment{PID: 9}},
		{name: "only LISTEN_FDS", give: Environment{ListenFDs: "2", PID: 9}},
		{name: "other process", give: Environment{ListenPID: "10", ListenFDs: "2", PID: 9}},
		{name: "zero fds", give: Environment{ListenPID: "9", ListenFDs: "0", PID: 9}},
		{name: "unnamed", give: Environment{ListenPID: "9", ListenFDs: "2", PID: 9}, wantN: 2, wantNames: []string{"unknown", "unknown"}},
		{name: "named", give: Environment{ListenPID: "9", ListenFDs: "2", ListenFDNames: "http:stored", PID: 9}, wantN: 2, wantNames: []string{"http", "stored"}},
		{name: "bad pid", give: Environment{ListenPID: "nine", ListenFDs: "2", PID: 9}, wantErr: "LISTEN_PID"},
		{name: "bad count", give: Environment{ListenPID: "9", ListenFDs: "two", PID: 9}, wantErr: "LISTEN_FDS"},
		{name: "huge count", give: Environment{ListenPID: "9", ListenFDs: "99999999", PID: 9}, wantErr: "LISTEN_FDS"},
		{name: "negative count", give: Environment{ListenPID: "9", ListenFDs: "-1", PID: 9}, wantErr: "LISTEN_FDS"},
		{name: "too few names", give: Environment{ListenPID: "9", ListenFDs: "2", ListenFDNames: "http", PID: 9}, wantN: 2, wantErr: "1 names for 2"},
		{name: "too many names", give: Environment{ListenPID: "9", ListenFDs: "1", ListenFDNames: "a:b", PID: 9}, wantN: 1, wantErr: "2 names for 1"},
		{name: "empty name", give: Environment{ListenPID: "9", ListenFDs: "2", ListenFDNames: "a:", PID: 9}, wantN: 2, wantErr: "invalid descriptor name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, names, err := parseListenEnv(tt.give)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to mention %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if n != tt.wantN {
				t.Fatalf("n = %d, want %d", n, tt.wantN)
			}
			if tt.wantErr == "" && strings.Join(names, ":") != strings.Join(tt.wantNames, ":") {
				t.Fatalf("names = %q, want %q", names, tt.wantNames)
			}
		})
	}
}

func FuzzParseListenEnv(f *testing.F) {
	f.Add("9", "2", "http:stored")
	f.Add("9", "1", "")
	f.Add("x", "-1", "::")
	f.Fuzz(func(t *testing.T, pid, fds, names string) {
		n, got, err := parseListenEnv(Environment{ListenPID: pid, ListenFDs: fds, ListenFDNames: names, PID: 9})
		if n < 0 || n > maxListenFDs {
			t.Fatalf("n = %d", n)
		}
		if err == nil && len(got) != n {
			t.Fatalf("%d names for %d descriptors", len(got), n)
		}
		for _, name := range got {
			if !sdwire.ValidFDName(name) {
				t.Fatalf("invalid name %q accepted", name)
			}
		}
	})
}

func FuzzWatchdog(f *testing.F) {
	f.Add("5000000", "9")
	f.Add("0", "")
	f.Add("-5", "x")
	f.Fuzz(func(t *testing.T, usec, pid string) {
		w, err := Environment{WatchdogUSec: usec, WatchdogPID: pid, PID: 9}.Watchdog()
		if err == nil && w.Interval < 0 {
			t.Fatalf("negative interval %v", w.Interval)
		}
	})
}

func FuzzFDStoreLimit(f *testing.F) {
	f.Add("16")
	f.Add("")
	f.Add("-1")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Environment{FDStore: s}.FDStoreLimit()
		if err != nil {
			return
		}
		if l.Max < 0 || (s == "" && l.Known) || (s != "" && !l.Known) {
			t.Fatalf("FDStoreLimit(%q) = %+v", s, l)
		}
	})
}
