//go:build e2e

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"testing"
	"time"
)

// keptConn is an HTTPS client with one keep-alive connection; get fails
// unless the request went over that same connection.
type keptConn struct {
	tr     *http.Transport
	client *http.Client
	port   int
}

func newKeptConn(port int, roots *x509.CertPool) *keptConn {
	tr := https1.transport(roots)
	return &keptConn{tr: tr, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, port: port}
}

// get does GET / and returns the serial of the certificate the connection
// was set up with, and whether the connection was reused.
func (k *keptConn) get(t testing.TB, want string) (serial string, reused bool) {
	t.Helper()
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", "https://127.0.0.1:"+itoa(k.port)+"/", nil)
	resp, err := k.client.Do(req)
	if err != nil {
		t.Fatalf("GET over the kept connection: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || string(b) != want+"\n" {
		t.Fatalf("GET over the kept connection: %d %q %v", resp.StatusCode, b, err)
	}
	return serialOf(resp.TLS), reused
}

func serialOf(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return "none"
	}
	return cs.PeerCertificates[0].SerialNumber.String()
}

// mustPeerSerial does a new TLS handshake and returns the serial number of
// the server's certificate.
func mustPeerSerial(t testing.TB, roots *x509.CertPool) string {
	t.Helper()
	cert, err := peerCert(servicePort(), roots)
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	return cert.SerialNumber.String()
}

// TestCertRotation: `systemctl reload` after replacing the certificate
// makes new handshakes present the new one while a keep-alive connection
// set up before carries on; a broken key on reload keeps the certificate
// in force, STATUS names the error, the unit stays active.
//
// Two ways of handing the files in: absolute paths the DynamicUser can read
// (every systemd), and LoadCredential= (deploy/units/tls/credentials.conf)
// with RefreshOnReload=credentials (refresh-on-reload.conf, systemd ≥ 260),
// and, on every systemd, LoadCredential= alone: there a reload re-reads the
// copies made at start (the old certificate stays) and `systemctl restart`
// is what rotates it, as deploy/units/README.md says.
func TestCertRotation(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		ca := newTestCA(t)
		tests := []struct {
			name       string
			minSystemd int
			tls        tlsFiles
			keyMode    os.FileMode
			dropIns    map[string]string // file of deploy/units/tls -> installed name
			keyInError string            // how STATUS names the key file
			// reloadRotates: reload makes the new files live. Without, it is
			// restart that does.
			reloadRotates bool
		}{
			{
				name:          "absolute paths",
				tls:           tlsFiles{CertFile: tlsCertPath, KeyFile: tlsKeyPath},
				keyMode:       0o644, // readable by the DynamicUser: a test key only
				keyInError:    tlsKeyPath,
				reloadRotates: true,
			},
			{
				name:       "credentials refreshed on reload",
				minSystemd: refreshOnReload,
				tls:        tlsFiles{CertFile: "tls.crt", KeyFile: "tls.key"},
				keyMode:    0o600,
				dropIns: map[string]string{
					"credentials.conf":       credentialsDropIn,
					"refresh-on-reload.conf": refreshDropIn,
				},
				keyInError:    "/tls.key", // $CREDENTIALS_DIRECTORY/tls.key
				reloadRotates: true,
			},
			{
				name:    "credentials without refresh",
				tls:     tlsFiles{CertFile: "tls.crt", KeyFile: "tls.key"},
				keyMode: 0o600,
				dropIns: map[string]string{"credentials.conf": credentialsDropIn},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if su.systemd < tt.minSystemd {
					t.Skipf("needs systemd >= %d", tt.minSystemd)
				}
				for file, name := range tt.dropIns {
					c.installTLSDropIn(t, unit, file, name)
				}
				defer func() {
					c.run("systemctl", "stop", unit)
					for _, name := range tt.dropIns {
						c.run("rm", "-f", "/etc/systemd/system/"+unit+".d/"+name)
					}
					c.run("systemctl", "daemon-reload")
				}()
				first, second := ca.issue(t, "first"), ca.issue(t, "second")
				c.installCert(t, first, tt.keyMode)
				cfg := defaultConfig()
				cfg.TLS = &tt.tls
				c.writeConfig(t, cfg)
				c.must(t, "systemctl", "start", unit)
				pid := c.state(t, unit)["MainPID"]

				if got := mustPeerSerial(t, ca.pool); got != first.serial.String() {
					t.Fatalf("after start: serial %s, want %s", got, first.serial)
				}
				kept := newKeptConn(servicePort(), ca.pool)
				defer kept.tr.CloseIdleConnections()
				if serial, _ := kept.get(t, cfg.Greeting); serial != first.serial.String() {
					t.Fatalf("kept connection: serial %s, want %s", serial, first.serial)
				}

				c.installCert(t, second, tt.keyMode)
				c.must(t, "systemctl", "reload", unit)
				if !tt.reloadRotates {
					if got := mustPeerSerial(t, ca.pool); got != first.serial.String() {
						t.Errorf("reload without RefreshOnReload=: serial %s, want the copy made at start (%s)", got, first.serial)
					}
					c.must(t, "systemctl", "restart", unit)
					if got := mustPeerSerial(t, ca.pool); got != second.serial.String() {
						t.Errorf("after restart: serial %s, want the new %s", got, second.serial)
					}
					recordResult("certificate rotation", "systemd %d | %s | reload keeps the certificate copied at start; restart serves the new one", su.systemd, tt.name)
					return
				}
				if got := mustPeerSerial(t, ca.pool); got != second.serial.String() {
					t.Errorf("new handshake after reload: serial %s, want the new %s (old: %s)", got, second.serial, first.serial)
				}
				if serial, reused := kept.get(t, cfg.Greeting); !reused || serial != first.serial.String() {
					t.Errorf("connection from before the reload: reused %v, serial %s; want the same connection (serial %s)", reused, serial, first.serial)
				}

				c.writeFile(t, tlsKeyPath, []byte("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n"), tt.keyMode)
				out, err := c.run("systemctl", "reload", unit)
				t.Logf("reload with a broken key: err=%v %s", err, strings.TrimSpace(out))
				s := c.state(t, unit)
				t.Logf("StatusText after it: %q", s["StatusText"])
				if s["ActiveState"] != "active" || s["MainPID"] != pid {
					t.Errorf("after the broken key: want active, MainPID %s; got %v", pid, s)
				}
				if !strings.Contains(s["StatusText"], "reload failed") || !strings.Contains(s["StatusText"], tt.keyInError) {
					t.Errorf("StatusText %q: want \"reload failed\" and the key file (%s)", s["StatusText"], tt.keyInError)
				}
				if got := mustPeerSerial(t, ca.pool); got != second.serial.String() {
					t.Errorf("after the broken key: serial %s, want %s still", got, second.serial)
				}
				if _, reused := kept.get(t, cfg.Greeting); !reused {
					t.Errorf("the kept connection was replaced by the failed reload")
				}
				recordResult("certificate rotation", "systemd %d | %s | new handshake after reload: new certificate; kept connection: old certificate, reused; broken key: old kept, StatusText %q",
					su.systemd, tt.name, s["StatusText"])
			})
		}
	})
}
