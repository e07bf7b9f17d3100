package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Config is the service's configuration file (see README.md in this
// directory). Unknown fields are an error, so a typo
// cannot silently fall back to a default.
type Config struct {
	// Listen is the address bound when systemd handed over no listener.
	Listen string `json:"listen"`
	// Greeting is the body of GET /, followed by a newline.
	Greeting string `json:"greeting"`
	// DownFile, when set, makes the health check fail while it exists.
	DownFile string `json:"down_file"`
	// TLS, when set, makes the listener serve HTTPS.
	TLS *TLSConfig `json:"tls"`
	// RestartResetAfter is how long the health check must pass before
	// the restart counter is reset (RESTART_RESET=1), as a Go duration
	// ("90s"). Empty means the library's default (one minute).
	RestartResetAfter string `json:"restart_reset_after"`
	// ListenBacklog is the listen backlog of the bound or stored listener
	// (httpadapter.ListenConfig.Backlog), applied at the next start; 0
	// means the library's default.
	ListenBacklog int `json:"listen_backlog"`
	// AdminListen, when set, is the address of a second listener, named
	// "admin" in the fd store, that serves GET /version: a port of its
	// own for operators' tools, stored and drained like the first.
	AdminListen string `json:"admin_listen"`
}

// TLSConfig names the certificate chain and private key, both PEM. A
// relative path is looked up in $CREDENTIALS_DIRECTORY when systemd set it
// (LoadCredential=), else next to the configuration file.
type TLSConfig struct {
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
}

// resolve returns the paths to read, for a configuration file at
// configPath and the credentials directory credDir ("" when unset).
func (t TLSConfig) resolve(configPath, credDir string) (cert, key string) {
	base := credDir
	if base == "" {
		base = filepath.Dir(configPath)
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	return abs(t.CertFile), abs(t.KeyFile)
}

// DefaultConfig is what a missing field means.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:8080", Greeting: "hello"}
}

// maxConfigSize bounds what is read, so a wrong path (a device, a huge
// log) is an error rather than a hang or an allocation spike.
const maxConfigSize = 1 << 20

// LoadConfig reads and validates the file at path. An empty path means
// the defaults.
func LoadConfig(path string) (Config, error) {
	if path == "" {
		return DefaultConfig(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return Config{}, fmt.Errorf("config %s: larger than %d bytes", path, maxConfigSize)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes and validates a configuration document.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, describeJSONError(err)
	}
	if dec.More() {
		return Config{}, errors.New("unexpected data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Config{}, errors.New("unexpected data after the JSON object")
	}
	return cfg, cfg.Validate()
}

// Validate reports the first problem with cfg.
func (c Config) Validate() error {
	if c.Listen == "" {
		return errors.New("listen: must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: %w", c.Listen, err)
	}
	if c.AdminListen != "" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			return fmt.Errorf("admin_listen %q: %w", c.AdminListen, err)
		}
		if c.AdminListen == c.Listen {
			return fmt.Errorf("admin_listen %q: the same address as listen", c.AdminListen)
		}
	}
	if c.ListenBacklog < 0 {
		return fmt.Errorf("listen_backlog %d: want 0 (the default) or more", c.ListenBacklog)
	}
	if c.DownFile != "" && !filepath.IsAbs(c.DownFile) {
		return fmt.Errorf("down_file %q: must be an absolute path", c.DownFile)
	}
	if c.RestartResetAfter != "" {
		if d, err := time.ParseDuration(c.RestartResetAfter); err != nil || d <= 0 {
			return fmt.Errorf("restart_reset_after %q: want a positive duration such as \"90s\"", c.RestartResetAfter)
		}
	}
	if c.TLS != nil && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		return errors.New("tls: cert_file and key_file are both required")
	}
	return nil
}

// describeJSONError turns decoder errors into one line that names the
// place of the problem.
func describeJSONError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("invalid JSON at byte %d: %w", syntax.Offset, err)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q: want a %s, got a JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return errors.New("empty file: want a JSON object")
	}
	return err
}

// restartResetAfter is RestartResetAfter as a duration; zero for the
// default. Validate has checked it.
func (c Config) restartResetAfter() time.Duration {
	d, _ := time.ParseDuration(c.RestartResetAfter)
	return d
}
