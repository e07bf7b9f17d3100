package httpserve

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCheckAddress (issue 16, item 1): what a reload can tell about a new
// listen address before the restart that binds it, and that the check
// leaves nothing listening.
func TestCheckAddress(t *testing.T) {
	serving := holdPort(t, "127.0.0.1:0").Addr()
	taken := holdPort(t, "127.0.0.1:0").Addr().String()
	dir := shortDir(t)
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(dir, "live.sock")
	ul, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	tests := []struct {
		name    string
		network string
		give    string
		wantErr string        // "" : nil
		wantIs  syscall.Errno // 0: not checked
	}{
		{"the address served", "tcp", serving.String(), "", 0},
		{"the address served, by name", "tcp", "localhost:" + portString(serving), "", 0},
		{"a free port", "tcp", "127.0.0.1:" + freePort(t), "", 0},
		{"the served port on another loopback address", "tcp", "127.0.0.2:" + portString(serving), "", 0},
		{"the served port on the wildcard", "tcp", "0.0.0.0:" + portString(serving), "", 0},
		{"not an IP, does not resolve", "tcp", "999.1.1.1:80", "999.1.1.1", 0},
		{"no port", "tcp", "127.0.0.1", "missing port", 0},
		{"port out of range", "tcp", "127.0.0.1:65536", "bad port", 0},
		{"empty", "tcp", "", "empty address", 0},
		{"port taken by another process", "tcp", taken, "address already in use", syscall.EADDRINUSE},
		{"an address no interface has", "tcp", "192.0.2.1:" + freePort(t), "", syscall.EADDRNOTAVAIL},
		{"the served port on an address no interface has", "tcp", "192.0.2.1:" + portString(serving), "", syscall.EADDRNOTAVAIL},
		{"unix path free", "unix", filepath.Join(dir, "new.sock"), "", 0},
		{"unix path is a regular file", "unix", regular, "not a socket", 0},
		{"unix path served by another process", "unix", live, "another process listens", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAddress(context.Background(), serving, tt.network, tt.give)
			switch {
			case tt.wantErr == "" && tt.wantIs == 0:
				if err != nil {
					t.Fatalf("CheckAddress(%q) = %v, want nil", tt.give, err)
				}
			case err == nil:
				t.Fatalf("CheckAddress(%q) = nil, want an error", tt.give)
			case !strings.Contains(err.Error(), tt.wantErr) || tt.wantIs != 0 && !errors.Is(err, tt.wantIs) || prefixes(err) != 1:
				t.Errorf("CheckAddress(%q) = %v, want %q (%v) with one prefix", tt.give, err, tt.wantErr, tt.wantIs)
			}
			if tt.network == "tcp" && err == nil && tt.give != "" {
				if c, err := net.Dial("tcp", tt.give); err == nil && !strings.HasSuffix(tt.give, ":"+portString(serving)) {
					c.Close()
					t.Errorf("%s accepts after the check", tt.give)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "new.sock")); !os.IsNotExist(err) {
		t.Errorf("the checked unix path was left behind: %v", err)
	}
}
