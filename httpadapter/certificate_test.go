package httpadapter

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdlife/sdlife/internal/testcert"
)

func TestLoadCertificate(t *testing.T) {
	now := time.Now()
	good := testcert.Valid(t, "good")
	other := testcert.Valid(t, "other")
	expired := testcert.Make(t, "expired", now.Add(-2*time.Hour), now.Add(-time.Hour))
	future := testcert.Make(t, "future", now.Add(time.Hour), now.Add(2*time.Hour))
	tests := []struct {
		name      string
		cert, key []byte // nil: file missing
		wantFile  string // "cert", "key"
		wantErr   string
	}{
		{"valid", good.CertPEM, good.KeyPEM, "", ""},
		{"missing certificate", nil, good.KeyPEM, "cert", "no such file"},
		{"missing key", good.CertPEM, nil, "key", "no such file"},
		{"certificate not PEM", []byte("hello"), good.KeyPEM, "cert", "no PEM certificate"},
		{"certificate garbage", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), good.KeyPEM, "cert", "x509"},
		{"key not PEM", good.CertPEM, []byte("hello"), "key", "no PEM private key"},
		{"certificate as key", good.CertPEM, good.CertPEM, "key", "no PEM private key"},
		{"mismatched", good.CertPEM, other.KeyPEM, "key", "does not match"},
		{"expired", expired.CertPEM, expired.KeyPEM, "cert", "expired"},
		{"not yet valid", future.CertPEM, future.KeyPEM, "cert", "not valid before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			if tt.cert != nil {
				testcert.WriteFile(t, certFile, tt.cert)
			}
			if tt.key != nil {
				testcert.WriteFile(t, keyFile, tt.key)
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
	first, second := testcert.Valid(t, "first"), testcert.Valid(t, "second")
	certFile, keyFile := first.Write(t, dir)
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
	clientCfg := &tls.Config{RootCAs: testcert.Pool(first, second)}
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

	second.Write(t, dir)
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
	testcert.WriteFile(t, keyFile, first.KeyPEM)
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
