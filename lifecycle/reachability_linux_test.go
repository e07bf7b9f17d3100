package lifecycle_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

// The Notifier tells its owner when the manager's socket stops and starts
// being reachable, once per change, however many sends fail in between.
func TestNotifierReachability(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	n := mustNotifier(t, lifecycle.Environment{NotifySocket: path})
	defer n.Close()
	var got []string
	sdwire.NotifierOf(n).OnReachability(func(err error) {
		if err == nil {
			got = append(got, "reachable")
			return
		}
		got = append(got, "unreachable: "+err.Error())
	})
	var conn *net.UnixConn
	listen := func() {
		t.Helper()
		var err error
		conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
	}
	vanish := func() {
		t.Helper()
		conn.Close()
		os.Remove(path)
	}
	missing := "unreachable: lifecycle: dial notify socket " + path + ": no such file or directory"

	tests := []struct {
		name   string
		give   func() // what happens to the socket before the sends
		sends  int
		wantOK bool
		want   []string // changes heard so far
	}{
		{name: "missing", give: func() {}, sends: 3, want: []string{missing}},
		{name: "appears", give: listen, sends: 3, wantOK: true, want: []string{missing, "reachable"}},
		{name: "disappears", give: vanish, sends: 3, want: []string{missing, "reachable", missing}},
		{name: "comes back", give: listen, sends: 3, wantOK: true, want: []string{missing, "reachable", missing, "reachable"}},
	}
	for _, tt := range tests {
		tt.give()
		for range tt.sends {
			sent, err := n.Status("x")
			switch {
			case tt.wantOK && (!sent || err != nil):
				t.Fatalf("%s: Status = %v, %v; want sent", tt.name, sent, err)
			case !tt.wantOK && (!errors.Is(err, lifecycle.ErrUnreachable) || !errors.Is(err, syscall.ENOENT)):
				t.Fatalf("%s: Status = %v, %v; want ErrUnreachable and ENOENT", tt.name, sent, err)
			}
		}
		if sdwire.NotifierOf(n).Reachable() != tt.wantOK {
			t.Errorf("%s: Reachable() = %v", tt.name, !tt.wantOK)
		}
		if !slices.Equal(got, tt.want) {
			t.Fatalf("%s: heard %q, want %q", tt.name, got, tt.want)
		}
	}
	conn.Close()
}
