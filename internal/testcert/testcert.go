// Package testcert makes self-signed certificates for tests: a key pair
// for 127.0.0.1 in PEM, valid between two times, its own CA.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Pair is a certificate and its private key, in PEM, and the parsed
// certificate.
type Pair struct {
	CertPEM, KeyPEM []byte
	Leaf            *x509.Certificate
}

// New makes a self-signed certificate for 127.0.0.1 with common name
// name (so that tests tell certificates apart), valid from notBefore to
// notAfter.
func New(name string, notBefore, notAfter time.Time) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return Pair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Pair{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return Pair{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Pair{}, err
	}
	return Pair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		Leaf:    leaf,
	}, nil
}

// Make is New for a test: it fails tb on error.
func Make(tb testing.TB, name string, notBefore, notAfter time.Time) Pair {
	tb.Helper()
	p, err := New(name, notBefore, notAfter)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// Valid is Make for a certificate valid from an hour ago to an hour from
// now.
func Valid(tb testing.TB, name string) Pair {
	tb.Helper()
	now := time.Now()
	return Make(tb, name, now.Add(-time.Hour), now.Add(time.Hour))
}

// Write writes the pair into dir as cert.pem and key.pem.
func (p Pair) Write(tb testing.TB, dir string) (certFile, keyFile string) {
	tb.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	WriteFile(tb, certFile, p.CertPEM)
	WriteFile(tb, keyFile, p.KeyPEM)
	return certFile, keyFile
}

// WriteFile writes and renames, as a deployment would: a reader never sees
// half a file.
func WriteFile(tb testing.TB, name string, data []byte) {
	tb.Helper()
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		tb.Fatal(err)
	}
}

// Pool trusts the given certificates.
func Pool(pairs ...Pair) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range pairs {
		p.AddCert(c.Leaf)
	}
	return p
}
