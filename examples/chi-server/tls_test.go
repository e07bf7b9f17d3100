package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sdlife/sdlife/internal/testcert"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// pair is a self-signed certificate for 127.0.0.1 and its key, in PEM;
// it is its own CA.
type pair struct {
	certPEM, keyPEM []byte
	leaf            *x509.Certificate
}

func newPair(t *testing.T, name string, notBefore, notAfter time.Time) pair {
	t.Helper()
	p, err := testcert.New(name, notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return pair{certPEM: p.CertPEM, keyPEM: p.KeyPEM, leaf: p.Leaf}
}

func validPair(t *testing.T, name string) pair {
	now := time.Now()
	return newPair(t, name, now.Add(-time.Hour), now.Add(time.Hour))
}

// write puts the pair into dir as cert.pem and key.pem.
func (p pair) write(t *testing.T, dir string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "cert.pem"), p.certPEM)
	writeFile(t, filepath.Join(dir, "key.pem"), p.keyPEM)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsConfigJSON is a configuration listening on addr that serves the
// pair named cert.pem and key.pem, relative paths.
func tlsConfigJSON(t *testing.T, addr string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"listen": addr,
		"tls":    map[string]string{"cert_file": "cert.pem", "key_file": "key.pem"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startTLSServer starts chi-server under a fake manager with a config in
// dir that serves dir's cert.pem and key.pem; it does not wait for READY.
func startTLSServer(t *testing.T, dir string, m *sdtest.Manager, env ...string) *server {
	t.Helper()
	s := &server{t: t, addr: freeAddr(t), config: filepath.Join(dir, "config.json"), log: &logBuffer{}, exited: make(chan struct{})}
	writeFile(t, s.config, tlsConfigJSON(t, s.addr))
	s.cmd = exec.Command(binary, "-config", s.config)
	s.cmd.Env = append(append(cleanEnv(), "NOTIFY_SOCKET="+m.Environment().NotifySocket), env...)
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.exited
		if t.Failed() {
			t.Logf("chi-server log:\n%s", s.log)
		}
	})
	return s
}

// httpsClient trusts the given pairs and speaks h2 when h2 is set, else
// HTTP/1.1 only.
func httpsClient(t *testing.T, h2 bool, trust ...pair) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	for _, p := range trust {
		pool.AddCert(p.leaf)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
	if !h2 {
		var p http.Protocols
		p.SetHTTP1(true)
		tr.Protocols = &p
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// getTLS does a GET and returns the protocol and the server's leaf
// certificate's common name.
func getTLS(t *testing.T, c *http.Client, url string) (proto, cn string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		t.Fatalf("GET %s: not over TLS", url)
	}
	return resp.Proto, resp.TLS.PeerCertificates[0].Subject.CommonName
}

func TestTLSStart(t *testing.T) {
	tests := []struct {
		name    string
		credDir bool // the pair in $CREDENTIALS_DIRECTORY, not next to the config
	}{
		{name: "next to the config"},
		{name: "in the credentials dir", credDir: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := validPair(t, "pair-a")
			dir := t.TempDir()
			var env []string
			if tt.credDir {
				cred := t.TempDir()
				a.write(t, cred)
				env = append(env, "CREDENTIALS_DIRECTORY="+cred)
			} else {
				a.write(t, dir)
			}
			m := sdtest.NewManager(t)
			s := startTLSServer(t, dir, m, env...)
			if _, err := m.Wait(ctxT(t), sdtest.Has("READY", "1")); err != nil {
				t.Fatalf("no READY=1: %v\n%s", err, s.log)
			}
			url := "https://" + s.addr + "/"
			for _, c := range []struct {
				h2   bool
				want string
			}{{false, "HTTP/1.1"}, {true, "HTTP/2.0"}} {
				proto, cn := getTLS(t, httpsClient(t, c.h2, a), url)
				if proto != c.want || cn != "pair-a" {
					t.Fatalf("h2=%v: GET / over %s with %q, want %s with pair-a", c.h2, proto, cn, c.want)
				}
			}
			// Plain HTTP is not served on the TLS listener.
			if resp, err := http.Get("http://" + s.addr + "/"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					t.Fatal("plain HTTP answered 200 on the TLS listener")
				}
			}
		})
	}
}

func TestTLSStartErrors(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string)
		wantFile string // base name the error must mention
		want     string
	}{
		{
			name:     "missing certificate",
			setup:    func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "key.pem"), validPair(t, "x").keyPEM) },
			wantFile: "cert.pem",
			want:     "no such file",
		},
		{
			name: "missing key",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "cert.pem"), validPair(t, "x").certPEM)
			},
			wantFile: "key.pem",
			want:     "no such file",
		},
		{
			name: "mismatched pair",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "cert.pem"), validPair(t, "a").certPEM)
				writeFile(t, filepath.Join(dir, "key.pem"), validPair(t, "b").keyPEM)
			},
			wantFile: "key.pem",
			want:     "does not match",
		},
		{
			name: "expired",
			setup: func(t *testing.T, dir string) {
				newPair(t, "old", now.Add(-2*time.Hour), now.Add(-time.Hour)).write(t, dir)
			},
			wantFile: "cert.pem",
			want:     "expired",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			m := sdtest.NewManager(t)
			s := startTLSServer(t, dir, m)
			code := s.exitCode()
			log := s.log.String()
			if code == 0 {
				t.Fatalf("exit code 0, want non-zero; log %q", log)
			}
			if !strings.Contains(log, filepath.Join(dir, tt.wantFile)) || !strings.Contains(log, tt.want) {
				t.Fatalf("stderr %q: want it to name %s and say %q", log, tt.wantFile, tt.want)
			}
			msg, err := m.Wait(ctxT(t), sdtest.Has("STATUS", ""))
			if err != nil {
				t.Fatalf("no STATUS: %v", err)
			}
			if status, _ := msg.Get("STATUS"); !strings.Contains(status, "start failed") || !strings.Contains(status, tt.wantFile) {
				t.Fatalf("STATUS %q: want start failed naming %s", status, tt.wantFile)
			}
			for _, msg := range m.Messages() {
				if sdtest.Has("READY", "1")(msg) {
					t.Fatalf("READY=1 sent by a failed start: %+v", m.Messages())
				}
			}
		})
	}
}

func TestTLSRotation(t *testing.T) {
	a, b := validPair(t, "pair-a"), validPair(t, "pair-b")
	dir := t.TempDir()
	a.write(t, dir)
	m := sdtest.NewManager(t)
	s := startTLSServer(t, dir, m)
	ready, err := m.Wait(ctxT(t), sdtest.Has("READY", "1"))
	if err != nil {
		t.Fatalf("no READY=1: %v\n%s", err, s.log)
	}
	url := "https://" + s.addr + "/"

	// A keep-alive connection opened with A.
	kept := httpsClient(t, false, a, b)
	if _, cn := getTLS(t, kept, url); cn != "pair-a" {
		t.Fatalf("before rotation the server shows %q", cn)
	}

	reload := func(after int) (reloading, ready sdtest.Message) {
		t.Helper()
		s.signal(syscall.SIGHUP)
		reloading, err := m.Wait(ctxT(t), sdtest.After(after, sdtest.Has("RELOADING", "1")))
		if err != nil {
			t.Fatalf("no RELOADING=1: %v", err)
		}
		ready, err = m.Wait(ctxT(t), sdtest.After(reloading.Seq, sdtest.Has("READY", "1")))
		if err != nil {
			t.Fatalf("no READY=1 after RELOADING=1: %v", err)
		}
		return reloading, ready
	}

	b.write(t, dir)
	_, ready = reload(ready.Seq)
	if _, cn := getTLS(t, httpsClient(t, false, a, b), url); cn != "pair-b" {
		t.Fatalf("a new handshake after rotation sees %q, want pair-b", cn)
	}
	if _, cn := getTLS(t, httpsClient(t, true, b), url); cn != "pair-b" {
		t.Fatalf("a new h2 handshake after rotation sees %q, want pair-b", cn)
	}
	// The connection opened before still works, with A: it is the same
	// connection, not a new handshake.
	if _, cn := getTLS(t, kept, url); cn != "pair-a" {
		t.Fatalf("the kept connection shows %q, want pair-a (a new connection was made)", cn)
	}

	// A broken key: the reload fails, B stays.
	writeFile(t, filepath.Join(dir, "key.pem"), []byte("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"))
	reloading, _ := reload(ready.Seq)
	if _, err := m.Wait(ctxT(t), sdtest.After(reloading.Seq, func(msg sdtest.Message) bool {
		v, _ := msg.Get("STATUS")
		return strings.Contains(v, "reload failed")
	})); err != nil {
		t.Fatalf("STATUS does not say the reload failed: %v; %+v", err, m.Messages())
	}
	if _, cn := getTLS(t, httpsClient(t, false, a, b), url); cn != "pair-b" {
		t.Fatalf("after a failed reload a new handshake sees %q, want pair-b", cn)
	}
	if _, cn := getTLS(t, kept, url); cn != "pair-a" {
		t.Fatalf("the kept connection shows %q after the failed reload", cn)
	}
}

func TestTLSReloadRefusesChangedSection(t *testing.T) {
	a, b := validPair(t, "pair-a"), validPair(t, "pair-b")
	dir := t.TempDir()
	a.write(t, dir)
	writeFile(t, filepath.Join(dir, "other-cert.pem"), b.certPEM)
	writeFile(t, filepath.Join(dir, "other-key.pem"), b.keyPEM)
	m := sdtest.NewManager(t)
	s := startTLSServer(t, dir, m)
	ready, err := m.Wait(ctxT(t), sdtest.Has("READY", "1"))
	if err != nil {
		t.Fatalf("no READY=1: %v\n%s", err, s.log)
	}
	url := "https://" + s.addr + "/"

	tests := []struct {
		name string
		give string // the new configuration; %s is the listen address
	}{
		{name: "other files", give: `{"listen":%q,"greeting":"changed","tls":{"cert_file":"other-cert.pem","key_file":"other-key.pem"}}`},
		{name: "tls removed", give: `{"listen":%q,"greeting":"changed"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeFile(t, s.config, []byte(fmt.Sprintf(tt.give, s.addr)))
			s.signal(syscall.SIGHUP)
			reloading, err := m.Wait(ctxT(t), sdtest.After(ready.Seq, sdtest.Has("RELOADING", "1")))
			if err != nil {
				t.Fatalf("no RELOADING=1: %v", err)
			}
			ready, err = m.Wait(ctxT(t), sdtest.After(reloading.Seq, sdtest.Has("READY", "1")))
			if err != nil {
				t.Fatalf("no READY=1 after RELOADING=1: %v", err)
			}
			if _, err := m.Wait(ctxT(t), sdtest.After(reloading.Seq, func(msg sdtest.Message) bool {
				v, _ := msg.Get("STATUS")
				return strings.Contains(v, "reload failed") && strings.Contains(v, "tls")
			})); err != nil {
				t.Fatalf("STATUS does not say the tls change was refused: %v; %+v", err, m.Messages())
			}
			c := httpsClient(t, false, a, b)
			if _, cn := getTLS(t, c, url); cn != "pair-a" {
				t.Fatalf("after a refused tls change the server shows %q, want pair-a", cn)
			}
			// Nothing of the refused configuration applies.
			resp, err := c.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "hello\n" {
				t.Fatalf("after a refused reload GET / = %q, want the old greeting", body)
			}
		})
	}
}
