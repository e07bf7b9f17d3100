package sdtest_test

import (
	"os"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// sameFile reports whether a and b are descriptors of one open file.
func sameFile(t *testing.T, a, b *os.File) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := unix.Fstat(int(a.Fd()), &sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(int(b.Fd()), &sb); err != nil {
		t.Fatal(err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// The fake fd store keeps what PID 1 keeps: each descriptor under its
// FDNAME, with FDPOLL=0 recorded; FDSTOREREMOVE drops every descriptor of
// a name and no other; Files hands the rest back under their names, in
// the order they were stored, as a restarted service receives them.
func TestFakeFDStore(t *testing.T) {
	type stored struct {
		name string
		poll bool
	}
	tests := []struct {
		name   string
		noPoll []bool   // one FDSTORE=1 per entry, named "a", "b", ...; true: FDPOLL=0
		remove []string // FDSTOREREMOVE=1 of these names afterwards
		want   []stored
	}{
		{name: "polled", noPoll: []bool{false}, want: []stored{{"a", true}}},
		{name: "FDPOLL=0", noPoll: []bool{true}, want: []stored{{"a", false}}},
		{name: "mixed, in order", noPoll: []bool{true, false, true}, want: []stored{{"a", false}, {"b", true}, {"c", false}}},
		{name: "remove one name", noPoll: []bool{false, true, false}, remove: []string{"b"}, want: []stored{{"a", true}, {"c", true}}},
		{name: "remove all", noPoll: []bool{false, false}, remove: []string{"a", "b"}},
		{name: "remove an unknown name", noPoll: []bool{false}, remove: []string{"z"}, want: []stored{{"a", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t, sdtest.WithFDStore(8))
			n := m.Notifier()
			sent := map[string]*os.File{}
			for i, noPoll := range tt.noPoll {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.Close(); w.Close() })
				name := string(rune('a' + i))
				sent[name] = r
				store := n.FDStore
				if noPoll {
					store = n.FDStoreNoPoll
				}
				if _, err := store(name, r); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range tt.remove {
				if _, err := n.FDStoreRemove(name); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := n.Barrier(ctx(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}

			var got []stored
			for _, s := range m.Stored() {
				got = append(got, stored{s.Name, s.Poll})
				if !sameFile(t, s.File, sent[s.Name]) {
					t.Errorf("stored %q is not the descriptor sent under that name", s.Name)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Stored() = %v, want %v", got, tt.want)
			}

			files := m.Files()
			defer files.Close()
			var wantNames []string
			for _, s := range tt.want {
				wantNames = append(wantNames, s.name)
			}
			if got := files.Names(); !reflect.DeepEqual(got, wantNames) {
				t.Fatalf("Files().Names() = %v, want %v", got, wantNames)
			}
			for _, s := range tt.want {
				f, err := files.File(s.name)
				if err != nil {
					t.Fatal(err)
				}
				same := sameFile(t, f, sent[s.name])
				f.Close()
				if !same {
					t.Errorf("Files() hands back another descriptor under %q", s.name)
				}
			}
		})
	}
}

// A message that assigns a variable twice means its last value, as for
// PID 1; Has with an empty value matches any value.
func TestMessageGet(t *testing.T) {
	tests := []struct {
		name   string
		give   string
		key    string
		want   string
		wantOK bool
	}{
		{name: "one", give: "READY=1\nSTATUS=up", key: "STATUS", want: "up", wantOK: true},
		{name: "last assignment wins", give: "STATUS=starting\nREADY=1\nSTATUS=serving", key: "STATUS", want: "serving", wantOK: true},
		{name: "empty value", give: "STATUS=", key: "STATUS", want: "", wantOK: true},
		{name: "value with =", give: "X_A=b=c", key: "X_A", want: "b=c", wantOK: true},
		{name: "absent", give: "READY=1", key: "STATUS"},
		{name: "prefix of a key", give: "STATUS_X=1", key: "STATUS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := sdtest.Message{Raw: tt.give}
			got, ok := msg.Get(tt.key)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("Get(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.wantOK)
			}
			if sdtest.Has(tt.key, "")(msg) != tt.wantOK {
				t.Fatalf("Has(%q, \"\") = %v, want %v", tt.key, !tt.wantOK, tt.wantOK)
			}
			if tt.wantOK && !sdtest.Has(tt.key, tt.want)(msg) && tt.want != "" {
				t.Fatalf("Has(%q, %q) = false", tt.key, tt.want)
			}
		})
	}
}
