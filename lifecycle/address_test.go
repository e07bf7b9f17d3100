package lifecycle

import (
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    address
		wantErr string
	}{
		{name: "path", give: "/run/systemd/notify", want: address{kind: kindUnix, path: "/run/systemd/notify"}},
		{name: "abstract", give: "@sd-notify", want: address{kind: kindUnix, path: "@sd-notify"}},
		{name: "vsock default", give: "vsock:2:1234", want: address{kind: kindVsock, cid: 2, port: 1234, typ: typeDefault}},
		{name: "vsock host name", give: "vsock:host:9", want: address{kind: kindVsock, cid: vsockCIDHost, port: 9}},
		{name: "vsock local", give: "vsock:local:9", want: address{kind: kindVsock, cid: vsockCIDLocal, port: 9}},
		{name: "vsock hypervisor", give: "vsock:hypervisor:9", want: address{kind: kindVsock, cid: vsockCIDHypervisor, port: 9}},
		{name: "vsock-stream", give: "vsock-stream:3:80", want: address{kind: kindVsock, cid: 3, port: 80, typ: typeStream}},
		{name: "vsock-dgram", give: "vsock-dgram:3:80", want: address{kind: kindVsock, cid: 3, port: 80, typ: typeDgram}},
		{name: "vsock-seqpacket", give: "vsock-seqpacket:3:80", want: address{kind: kindVsock, cid: 3, port: 80, typ: typeSeqpacket}},
		{name: "relative path", give: "run/notify", wantErr: "want an absolute path"},
		{name: "empty abstract", give: "@", wantErr: "empty abstract"},
		{name: "path too long", give: "/" + strings.Repeat("a", 120), wantErr: "longer than"},
		{name: "abstract too long", give: "@" + strings.Repeat("a", 120), wantErr: "longer than"},
		{name: "path with NUL", give: "/run/a\x00b", wantErr: "NUL"},
		{name: "vsock empty CID", give: "vsock::1234", wantErr: "want vsock:CID:PORT"},
		{name: "vsock no port", give: "vsock:2", wantErr: "want vsock:CID:PORT"},
		{name: "vsock empty port", give: "vsock:2:", wantErr: "want vsock:CID:PORT"},
		{name: "vsock bad CID", give: "vsock:guest:1", wantErr: "bad CID"},
		{name: "vsock CID overflow", give: "vsock:4294967296:1", wantErr: "bad CID"},
		{name: "vsock port overflow", give: "vsock:2:4294967296", wantErr: "bad port"},
		{name: "vsock negative port", give: "vsock:2:-1", wantErr: "bad port"},
		{name: "vsock unknown form", give: "vsock-raw:2:1", wantErr: "unknown vsock form"},
		{name: "garbage", give: "hello", wantErr: "want an absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAddress(tt.give)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseAddress(%q) error = %v, want it to mention %q", tt.give, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseAddress(%q): %v", tt.give, err)
			}
			if got != tt.want {
				t.Fatalf("parseAddress(%q) = %+v, want %+v", tt.give, got, tt.want)
			}
		})
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"/run/systemd/notify", "@x", "vsock:2:1", "vsock-stream:host:80", "vsock::1", "", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseAddress(s)
		if err != nil {
			return
		}
		// Whatever parses must print back to a form that parses to the
		// same address.
		b, err := parseAddress(a.String())
		if err != nil || a != b {
			t.Fatalf("parseAddress(%q) = %+v, reparse of %q = %+v, %v", s, a, a.String(), b, err)
		}
	})
}
