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
		{name: "relative down_file", give: `{"down_file":"down"}`, wantErr: "absolute path"},
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
