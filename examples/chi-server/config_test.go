package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    Config
		wantErr string
	}{
		{name: "empty object is the defaults", give: `{}`, want: DefaultConfig()},
		{name: "all fields", give: `{"listen":"127.0.0.1:9","greeting":"hi","down_file":"/run/x/down"}`, want: Config{Listen: "127.0.0.1:9", Greeting: "hi", DownFile: "/run/x/down"}},
		{name: "unknown field", give: `{"greting":"hi"}`, wantErr: `unknown field "greting"`},
		{name: "wrong type", give: `{"greeting":5}`, wantErr: `field "greeting": want a string`},
		{name: "syntax", give: `{"greeting":}`, wantErr: "invalid JSON at byte"},
		{name: "empty", give: ``, wantErr: "empty file"},
		{name: "trailing data", give: `{} {}`, wantErr: "unexpected data"},
		{name: "trailing garbage", give: `{} x`, wantErr: "unexpected data"},
		{name: "bad listen", give: `{"listen":"8080"}`, wantErr: `listen "8080"`},
		{name: "empty listen", give: `{"listen":""}`, wantErr: "listen: must not be empty"},
		{name: "admin listen", give: `{"admin_listen":"127.0.0.1:9090"}`, want: Config{Listen: "127.0.0.1:8080", Greeting: "hello", AdminListen: "127.0.0.1:9090"}},
		{name: "bad admin listen", give: `{"admin_listen":"9090"}`, wantErr: `admin_listen "9090"`},
		{name: "admin listen on listen", give: `{"admin_listen":"127.0.0.1:8080"}`, wantErr: "the same address as listen"},
		{name: "relative down_file", give: `{"down_file":"down"}`, wantErr: "absolute path"},
		{name: "listen_backlog", give: `{"listen_backlog":512}`, want: Config{Listen: "127.0.0.1:8080", Greeting: "hello", ListenBacklog: 512}},
		{name: "negative listen_backlog", give: `{"listen_backlog":-1}`, wantErr: "listen_backlog -1: want 0"},
		{name: "not an object", give: `[]`, wantErr: "want a main.Config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tt.give))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseConfig(%q) error = %v, want it to mention %q", tt.give, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error is not one line: %q", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseConfig(%q) = %+v, %v; want %+v", tt.give, got, err, tt.want)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"greeting":"hey"}`), 0o644)
	big := filepath.Join(dir, "big.json")
	os.WriteFile(big, make([]byte, maxConfigSize+1), 0o644)

	if cfg, err := LoadConfig(good); err != nil || cfg.Greeting != "hey" || cfg.Listen != "127.0.0.1:8080" {
		t.Fatalf("LoadConfig(good) = %+v, %v", cfg, err)
	}
	if cfg, err := LoadConfig(""); err != nil || cfg != DefaultConfig() {
		t.Fatalf("LoadConfig(\"\") = %+v, %v", cfg, err)
	}
	for _, tt := range []struct{ give, want string }{
		{filepath.Join(dir, "missing.json"), "no such file"},
		{big, "larger than"},
		{dir, "is a directory"},
	} {
		if _, err := LoadConfig(tt.give); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadConfig(%s) error = %v, want %q", tt.give, err, tt.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(`{"listen":"127.0.0.1:1","greeting":"x","down_file":"/a"}`)
	f.Add(`{}`)
	f.Add(`{"listen":"[::1]:80"}`)
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseConfig([]byte(s))
		if err != nil {
			return
		}
		if cfg.Validate() != nil {
			t.Fatalf("accepted an invalid config %+v", cfg)
		}
	})
}

func TestParseConfigTLS(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    *TLSConfig
		wantErr string
	}{
		{name: "absent", give: `{}`, want: nil},
		{name: "valid", give: `{"tls":{"cert_file":"/etc/x/cert.pem","key_file":"key.pem"}}`, want: &TLSConfig{CertFile: "/etc/x/cert.pem", KeyFile: "key.pem"}},
		{name: "missing key_file", give: `{"tls":{"cert_file":"cert.pem"}}`, wantErr: "cert_file and key_file are both required"},
		{name: "missing cert_file", give: `{"tls":{"key_file":"key.pem"}}`, wantErr: "cert_file and key_file are both required"},
		{name: "empty section", give: `{"tls":{}}`, wantErr: "cert_file and key_file are both required"},
		{name: "unknown field inside tls", give: `{"tls":{"cert_file":"c","key_file":"k","ca_file":"x"}}`, wantErr: `unknown field "ca_file"`},
		{name: "wrong type inside tls", give: `{"tls":{"cert_file":1,"key_file":"k"}}`, wantErr: "cert_file"},
		{name: "tls not an object", give: `{"tls":"cert.pem"}`, wantErr: `field "tls"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tt.give))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseConfig(%q) error = %v, want it to mention %q", tt.give, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig(%q): %v", tt.give, err)
			}
			if (got.TLS == nil) != (tt.want == nil) || (got.TLS != nil && *got.TLS != *tt.want) {
				t.Fatalf("ParseConfig(%q).TLS = %+v, want %+v", tt.give, got.TLS, tt.want)
			}
		})
	}
}

func TestTLSConfigResolve(t *testing.T) {
	tests := []struct {
		name              string
		give              TLSConfig
		configPath        string
		credDir           string
		wantCert, wantKey string
	}{
		{name: "relative, next to the config", give: TLSConfig{CertFile: "cert.pem", KeyFile: "tls/key.pem"}, configPath: "/etc/chi-server/config.json", wantCert: "/etc/chi-server/cert.pem", wantKey: "/etc/chi-server/tls/key.pem"},
		{name: "relative, in the credentials dir", give: TLSConfig{CertFile: "cert.pem", KeyFile: "key.pem"}, configPath: "/etc/chi-server/config.json", credDir: "/run/credentials/chi-server.service", wantCert: "/run/credentials/chi-server.service/cert.pem", wantKey: "/run/credentials/chi-server.service/key.pem"},
		{name: "absolute wins over the credentials dir", give: TLSConfig{CertFile: "/srv/cert.pem", KeyFile: "key.pem"}, configPath: "/etc/chi-server/config.json", credDir: "/run/cred", wantCert: "/srv/cert.pem", wantKey: "/run/cred/key.pem"},
		{name: "relative config path", give: TLSConfig{CertFile: "cert.pem", KeyFile: "key.pem"}, configPath: "conf/config.json", wantCert: "conf/cert.pem", wantKey: "conf/key.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, key := tt.give.resolve(tt.configPath, tt.credDir)
			if cert != tt.wantCert || key != tt.wantKey {
				t.Fatalf("resolve(%q, %q) = %q, %q; want %q, %q", tt.configPath, tt.credDir, cert, key, tt.wantCert, tt.wantKey)
			}
		})
	}
}
