package lifecycle

import (
	"bytes"
	"encoding/base64"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestEnvironmentMemoryPressure(t *testing.T) {
	systemdTrigger := base64.StdEncoding.EncodeToString([]byte("some 200000 2000000\x00"))
	tests := []struct {
		name    string
		give    Environment
		want    MemoryPressure
		wantErr string
	}{
		{name: "unset"},
		{name: "dev null", give: Environment{MemoryPressureWatch: "/dev/null", MemoryPressureWrite: systemdTrigger}},
		{name: "path, no write", give: Environment{MemoryPressureWatch: "/sys/fs/cgroup/system.slice/a.service/memory.pressure"},
			want: MemoryPressure{Path: "/sys/fs/cgroup/system.slice/a.service/memory.pressure"}},
		{name: "systemd trigger", give: Environment{MemoryPressureWatch: "/run/mp", MemoryPressureWrite: systemdTrigger},
			want: MemoryPressure{Path: "/run/mp", Trigger: []byte("some 200000 2000000\x00")}},
		{name: "white space in base64", give: Environment{MemoryPressureWatch: "/run/mp", MemoryPressureWrite: " aGVs\nbG8= "},
			want: MemoryPressure{Path: "/run/mp", Trigger: []byte("hello")}},
		{name: "unpadded base64", give: Environment{MemoryPressureWatch: "/run/mp", MemoryPressureWrite: "aGVsbG8"},
			want: MemoryPressure{Path: "/run/mp", Trigger: []byte("hello")}},
		{name: "empty write", give: Environment{MemoryPressureWatch: "/run/mp", MemoryPressureWrite: ""},
			want: MemoryPressure{Path: "/run/mp"}},
		{name: "relative", give: Environment{MemoryPressureWatch: "run/mp"}, wantErr: "not an absolute path"},
		{name: "dot dot", give: Environment{MemoryPressureWatch: "/a/../b"}, wantErr: "not a normalized path"},
		{name: "double slash", give: Environment{MemoryPressureWatch: "//x"}, wantErr: "not a normalized path"},
		{name: "dot", give: Environment{MemoryPressureWatch: "/a/./b"}, wantErr: "not a normalized path"},
		{name: "trailing slash", give: Environment{MemoryPressureWatch: "/a/"}, wantErr: "not a normalized path"},
		{name: "NUL", give: Environment{MemoryPressureWatch: "/a\x00b"}, wantErr: "NUL"},
		{name: "bad base64", give: Environment{MemoryPressureWatch: "/run/mp", MemoryPressureWrite: "!!not base64!!"}, wantErr: "MEMORY_PRESSURE_WRITE: not base64"},
		{name: "truncated base64", give: Environment{MemoryPressureWatch: "/run/mp", MemoryPressureWrite: "aGVsbG8=a"}, wantErr: "not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.give.MemoryPressure()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "lifecycle: ") {
					t.Fatalf("MemoryPressure() error = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Path != tt.want.Path || !bytes.Equal(got.Trigger, tt.want.Trigger) {
				t.Fatalf("MemoryPressure() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzMemoryPressure(f *testing.F) {
	f.Add("/sys/fs/cgroup/a.service/memory.pressure", "c29tZSAyMDAwMDAgMjAwMDAwMAA=")
	f.Add("/dev/null", "")
	f.Add("//x", "aGVsbG8")
	f.Add("/a/../b", "!!")
	f.Add("rel", " aGVs\nbG8= ")
	f.Fuzz(func(t *testing.T, watch, write string) {
		mp, err := Environment{MemoryPressureWatch: watch, MemoryPressureWrite: write}.MemoryPressure()
		if err != nil {
			if mp.Path != "" || mp.Trigger != nil {
				t.Fatalf("error %v with a non-zero result %+v", err, mp)
			}
			return
		}
		if mp.Path == "" {
			if watch != "" && watch != "/dev/null" {
				t.Fatalf("watch %q parsed as disabled", watch)
			}
			return
		}
		if mp.Path != watch || !filepath.IsAbs(mp.Path) || filepath.Clean(mp.Path) != mp.Path {
			t.Fatalf("watch %q accepted as %q", watch, mp.Path)
		}
		if mp.Trigger != nil && len(mp.Trigger) == 0 {
			t.Fatal("empty non-nil trigger")
		}
		if mp.Trigger != nil {
			// What was decoded encodes back to the input, white space aside.
			stripped := strings.Join(strings.Fields(write), "")
			if enc := base64.RawStdEncoding.EncodeToString(mp.Trigger); enc != strings.TrimRight(stripped, "=") {
				t.Fatalf("write %q decoded to %q, which encodes as %q", write, mp.Trigger, enc)
			}
		}
	})
}

func TestParsePSITrigger(t *testing.T) {
	tests := []struct {
		name   string
		give   string
		want   psiThreshold
		wantOK bool
	}{
		{name: "systemd default", give: "some 200000 2000000\x00", want: psiThreshold{"some", 200000}, wantOK: true},
		{name: "full with newline", give: "full 70000 1000000\n", want: psiThreshold{"full", 70000}, wantOK: true},
		{name: "no terminator", give: "some 150000 2000000", want: psiThreshold{"some", 150000}, wantOK: true},
		{name: "zero threshold", give: "some 0 2000000"},
		{name: "unknown kind", give: "many 1 2"},
		{name: "missing window", give: "some 1"},
		{name: "binary", give: "\x01\x02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parsePSITrigger([]byte(tt.give))
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("parsePSITrigger(%q) = %+v, %v; want %+v, %v", tt.give, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func psiFile(some, full uint64) []byte {
	return []byte("some avg10=0.00 avg60=0.00 avg300=0.00 total=" + strconv.FormatUint(some, 10) + "\n" +
		"full avg10=0.00 avg60=0.00 avg300=0.00 total=" + strconv.FormatUint(full, 10) + "\n")
}

func TestPSIFilter(t *testing.T) {
	trigger := []byte("some 200000 2000000\x00")
	tests := []struct {
		name     string
		trigger  []byte
		baseline []byte
		events   [][]byte
		want     []bool
	}{
		{
			name:     "spurious first event dropped, real one passed",
			trigger:  trigger,
			baseline: psiFile(5_000_000, 1_000_000),
			events:   [][]byte{psiFile(5_000_010, 1_000_000), psiFile(5_250_000, 1_000_000), psiFile(5_250_001, 1_000_000)},
			want:     []bool{false, true, true},
		},
		{
			name:     "growth of exactly the threshold is real",
			trigger:  trigger,
			baseline: psiFile(0, 0),
			events:   [][]byte{psiFile(200_000, 0)},
			want:     []bool{true},
		},
		{
			name:     "full trigger reads the full line",
			trigger:  []byte("full 100000 2000000\x00"),
			baseline: psiFile(0, 0),
			events:   [][]byte{psiFile(900_000, 50), psiFile(900_000, 100_050)},
			want:     []bool{false, true},
		},
		{
			name:     "unparsable trigger: no filter",
			trigger:  []byte("custom"),
			baseline: psiFile(0, 0),
			events:   [][]byte{psiFile(0, 0)},
			want:     []bool{true},
		},
		{
			name:     "unreadable baseline: no filter",
			trigger:  trigger,
			baseline: nil,
			events:   [][]byte{psiFile(0, 0)},
			want:     []bool{true},
		},
		{
			name:     "unreadable contents at the event: passed on",
			trigger:  trigger,
			baseline: psiFile(0, 0),
			events:   [][]byte{[]byte("garbage")},
			want:     []bool{true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPSIFilter(tt.trigger, tt.baseline)
			for i, ev := range tt.events {
				if got := f.accept(ev); got != tt.want[i] {
					t.Fatalf("event %d (%q): accept = %v, want %v", i, ev, got, tt.want[i])
				}
			}
		})
	}
}
