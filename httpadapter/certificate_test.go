package httpadapter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdlife/sdlife/internal/testcert"
)

// testCert is a self-signed certificate for 127.0.0.1 and its key, in PEM.
type testCert struct {
	certPEM, keyPEM []byte
	leaf            *x509.Certificate
}

func newTestCert(t testing.TB, name string, notBefore, notAfter time.Time) testCert {
	t.Helper()
	p, err := testcert.New(name, notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{certPEM: p.CertPEM, keyPEM: p.KeyPEM, leaf: p.Leaf}
}

func validTestCert(t testing.TB, name string) testCert {
	now := time.Now()
	return newTestCert(t, name, now.Add(-time.Hour), now.Add(time.Hour))
}

// write writes the pair into dir as cert.pem and key.pem.
func (c testCert) write(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, c.certPEM)
	writeFile(t, keyFile, c.keyPEM)
	return certFile, keyFile
}

func writeFile(t testing.TB, name string, data []byte) {
	t.Helper()
	// Write and rename, as a deployment would: a reader never sees half a file.
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}

// pool trusts the given certificates.
func pool(certs ...testCert) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c.leaf)
	}
	return p
}

func TestLoadCertificate(t *testing.T) {
	now := time.Now()
	good := validTestCert(t, "good")
	other := validTestCert(t, "other")
	expired := newTestCert(t, "expired", now.Add(-2*time.Hour), now.Add(-time.Hour))
	future := newTestCert(t, "future", now.Add(time.Hour), now.Add(2*time.Hour))
	tests := []struct {
		name      string
		cert, key []byte // nil: file missing
		wantFile  string // "cert", "key"
		wantErr   string
	}{
		{"valid", good.certPEM, good.keyPEM, "", ""},
		{"missing certificate", nil, good.keyPEM, "cert", "no such file"},
		{"missing key", good.certPEM, nil, "key", "no such file"},
		{"certificate not PEM", []byte("hello"), good.keyPEM, "cert", "no PEM certificate"},
		{"certificate garbage", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), good.keyPEM, "cert", "x509"},
		{"key not PEM", good.certPEM, []byte("hello"), "key", "no PEM private key"},
		{"certificate as key", good.certPEM, good.certPEM, "key", "no PEM private key"},
		{"mismatched", good.certPEM, other.keyPEM, "key", "does not match"},
		{"expired", expired.certPEM, expired.keyPEM, "cert", "expired"},
		{"not yet valid", future.certPEM, future.keyPEM, "cert", "not valid before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			if tt.cert != nil {
				writeFile(t, certFile, tt.cert)
			}
			if tt.key != nil {
				writeFile(t, keyFile, tt.key)
			}
			c, err := LoadCertificate(certFile, keyFile)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadCertificate() = %v", err)
				}
				if c.Leaf().Subject.CommonName != "good" {
					t.Errorf("Leaf() = %v", c.Leaf().Subject)
				}
				return
			}
			if err == nil {
				t.Fatal("LoadCertificate() succeeded")
			}
			msg := err.Error()
			file := map[string]string{"cert": certFile, "key": keyFile}[tt.wantFile]
			if !strings.HasPrefix(msg, "httpadapter: ") || strings.Count(msg, "httpadapter") != 1 ||
				!strings.Contains(msg, file) || !strings.Contains(msg, tt.wantErr) {
				t.Fatalf("LoadCertificate() = %q, want one httpadapter prefix, the file %s and %q", msg, file, tt.wantErr)
			}
		})
	}
}

func TestCertificateNil(t *testing.T) {
	var c *Certificate
	if err := c.Reload(context.Background()); err != nil {
		t.Errorf("Reload() on nil = %v", err)
	}
	if _, err := c.getCertificate(nil); err == nil {
		t.Error("getCertificate() on nil succeeded")
	}
	if c.Leaf() != nil {
		t.Error("Leaf() on nil is not nil")
	}
}

// TestCertificateReload: new handshakes see the new certificate, an
// established connection carries on, and a bad pair is refused with the
// old one kept.
func TestCertificateReload(t *testing.T) {
	dir := t.TempDir()
	first, second := validTestCert(t, "first"), validTestCert(t, "second")
	certFile, keyFile := first.write(t, dir)
	cert, err := LoadCertificate(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go func() { _ = srv.Serve(tls.NewListener(l, cert.TLSConfig())) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := l.Addr().String()
	clientCfg := &tls.Config{RootCAs: pool(first, second)}
	handshake := func() (*tls.Conn, string) {
		t.Helper()
		c, err := tls.Dial("tcp", addr, clientCfg)
		if err != nil {
			t.Fatal(err)
		}
		return c, c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	established, got := handshake()
	defer established.Close()
	if got != "first" {
		t.Fatalf("certificate %q, want first", got)
	}

	second.write(t, dir)
	if err := cert.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, got := handshake()
	c.Close()
	if got != "second" {
		t.Fatalf("after Reload: certificate %q, want second", got)
	}
	// The connection made before the reload still serves.
	ec := &http.Client{Transport: &http.Transport{DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
		return established, nil
	}}}
	resp, err := ec.Get("https://" + addr + "/")
	if err != nil {
		t.Fatalf("established connection after Reload: %v", err)
	}
	resp.Body.Close()

	// A mismatched pair is refused; the second one keeps serving.
	writeFile(t, keyFile, first.keyPEM)
	if err := cert.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), keyFile) {
		t.Fatalf("Reload() with a mismatched key = %v", err)
	}
	c, got = handshake()
	c.Close()
	if got != "second" {
		t.Fatalf("after a failed Reload: certificate %q, want second", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := cert.Reload(ctx); err == nil {
		t.Error("Reload() with a canceled context succeeded")
	}
}
