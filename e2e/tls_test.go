//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Where the tests put certificates in the container. The key stays
// root-only (0600) when it is handed in with LoadCredential=; the
// absolute-path variant needs it readable by the DynamicUser (0644, fine
// for a throw-away test key, never for a real one).
const (
	tlsDir      = "/etc/chi-server"
	tlsCertPath = tlsDir + "/tls.crt"
	tlsKeyPath  = tlsDir + "/tls.key"
	// credentialsDropIn is deploy/units/tls/credentials.conf, installed.
	credentialsDropIn = "tls-credentials.conf"
	// refreshDropIn is deploy/units/tls/refresh-on-reload.conf (systemd ≥ 260).
	refreshDropIn = "tls-refresh-on-reload.conf"
	// refreshOnReload is the first systemd with RefreshOnReload=.
	refreshOnReload = 260
)

// tlsFiles is the example's "tls" config section.
type tlsFiles struct {
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
}

// testCA is a throw-away certificate authority made by the test.
type testCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	pool   *x509.CertPool
	serial int64
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sdlife e2e test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, serial: 1}
}

// serverCert is one issued certificate and its key, PEM.
type serverCert struct {
	certPEM, keyPEM []byte
	serial          *big.Int
}

// issue makes a server certificate for 127.0.0.1 and localhost; name is
// its common name, so tests tell certificates apart.
func (ca *testCA) issue(t testing.TB, name string) serverCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return serverCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		serial:  tmpl.SerialNumber,
	}
}

// installCert writes the pair to tlsCertPath and tlsKeyPath, the key with
// keyMode.
func (c *container) installCert(t testing.TB, sc serverCert, keyMode os.FileMode) {
	t.Helper()
	c.writeFile(t, tlsCertPath, sc.certPEM, 0o644)
	c.writeFile(t, tlsKeyPath, sc.keyPEM, keyMode)
}

// installTLSDropIn copies a drop-in of deploy/units/tls into unit's
// drop-in directory as name, and reloads systemd.
func (c *container) installTLSDropIn(t testing.TB, unit, file, name string) {
	t.Helper()
	c.copyFile(t, filepath.Join(unitsDir, "tls", file), "/etc/systemd/system/"+unit+".d/"+name, 0o644)
	c.must(t, "systemctl", "daemon-reload")
}

// peerCert does one TLS handshake on a new connection and returns the
// certificate the server presented (verified against roots).
func peerCert(port int, roots *x509.CertPool) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), &tls.Config{RootCAs: roots})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func itoa(n int) string { return strconv.Itoa(n) }
