package httpserve

import (
	"crypto/x509"
	"os"
	"path/filepath"
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
