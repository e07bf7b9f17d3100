package httpadapter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Certificate is a TLS certificate and its private key, read from two PEM
// files, that can be read again while the server runs (Reload). It
// serves handshakes through its GetCertificate: new handshakes use the pair
// loaded last, established connections carry on with theirs.
type Certificate struct {
	certFile, keyFile string
	now               func() time.Time
	pair              atomic.Pointer[tls.Certificate]
}

// The reloader interface of package fxmodule.
var _ interface{ Reload(context.Context) error } = (*Certificate)(nil)

// LoadCertificate reads the certificate chain in certFile and its private
// key in keyFile (both PEM) and checks them: both files readable, the
// first certificate parses, the key matches it, and it is valid now. An
// error names the file at fault.
func LoadCertificate(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile, now: time.Now}
	pair, err := c.load()
	if err != nil {
		return nil, err
	}
	c.pair.Store(pair)
	return c, nil
}

// Reload reads both files again. On any error (see LoadCertificate) it
// keeps the pair it has and returns the error; new handshakes use the new
// pair only once it passed every check. A nil Certificate does nothing.
func (c *Certificate) Reload(ctx context.Context) error {
	if c == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("httpadapter: reloading certificate: %w", err)
	}
	pair, err := c.load()
	if err != nil {
		return err
	}
	c.pair.Store(pair)
	return nil
}

// getCertificate returns the pair loaded last, for tls.Config's field of
// that name.
func (c *Certificate) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c == nil {
		return nil, errors.New("httpadapter: no certificate")
	}
	return c.pair.Load(), nil
}

// Leaf returns the certificate loaded last (the first of its chain), or
// nil for a nil Certificate.
func (c *Certificate) Leaf() *x509.Certificate {
	if c == nil {
		return nil
	}
	return c.pair.Load().Leaf
}

// TLSConfig returns a server configuration that serves c, for
// ServerConfig.TLS: TLS 1.2 or later, Go's default cipher suites.
func (c *Certificate) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: c.getCertificate, MinVersion: tls.VersionTLS12}
}

func (c *Certificate) load() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(c.certFile)
	if err != nil {
		return nil, fmt.Errorf("httpadapter: reading certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("httpadapter: reading key: %w", err)
	}
	leaf, err := firstCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("httpadapter: certificate %s: %w", c.certFile, err)
	}
	if !hasPrivateKey(keyPEM) {
		return nil, fmt.Errorf("httpadapter: key %s: no PEM private key", c.keyFile)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The certificate parsed: what is left is the key or the pair.
		return nil, fmt.Errorf("httpadapter: key %s for certificate %s: %w", c.keyFile, c.certFile, err)
	}
	now := c.now()
	switch {
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("httpadapter: certificate %s is not valid before %s", c.certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("httpadapter: certificate %s expired at %s", c.certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	pair.Leaf = leaf
	return &pair, nil
}

// firstCertificate parses the first CERTIFICATE block of a PEM file.
func firstCertificate(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM certificate")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

func hasPrivateKey(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if b.Type == "PRIVATE KEY" || strings.HasSuffix(b.Type, " PRIVATE KEY") {
			return true
		}
	}
}
