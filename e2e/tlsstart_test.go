//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestStartBadCertificate: a missing certificate or a key that does not
// match it fails `systemctl start` within seconds; STATUS (StatusText) and
// the journal name the file at fault.
func TestStartBadCertificate(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		ca := newTestCA(t)
		good, other := ca.issue(t, "good"), ca.issue(t, "other")
		tests := []struct {
			name     string
			tls      tlsFiles
			setup    func(t *testing.T)
			wantFile string
		}{
			{
				name:     "missing certificate",
				tls:      tlsFiles{CertFile: tlsDir + "/missing.crt", KeyFile: tlsKeyPath},
				setup:    func(t *testing.T) { c.installCert(t, good, 0o644) },
				wantFile: tlsDir + "/missing.crt",
			},
			{
				name: "mismatched key",
				tls:  tlsFiles{CertFile: tlsCertPath, KeyFile: tlsKeyPath},
				setup: func(t *testing.T) {
					c.writeFile(t, tlsCertPath, good.certPEM, 0o644)
					c.writeFile(t, tlsKeyPath, other.keyPEM, 0o644)
				},
				wantFile: tlsKeyPath,
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.setup(t)
				cfg := defaultConfig()
				cfg.TLS = &tt.tls
				c.writeConfig(t, cfg)
				start := time.Now()
				out, err := c.run("systemctl", "start", unit)
				took := time.Since(start)
				if err == nil {
					t.Fatalf("systemctl start succeeded: %s\n%v", out, c.state(t, unit))
				}
				s := c.state(t, unit)
				// Restart=on-failure retries; stop it so the journal is complete.
				c.run("systemctl", "stop", unit)
				t.Logf("systemctl start failed after %v: %v; state %v", took.Round(time.Millisecond), err, s)
				if took > 10*time.Second {
					t.Errorf("start took %v to fail", took)
				}
				if !strings.Contains(s["StatusText"], tt.wantFile) {
					t.Errorf("StatusText %q does not name %s", s["StatusText"], tt.wantFile)
				}
				j := c.journal(t, unit)
				var line string
				for _, l := range strings.Split(j, "\n") {
					if strings.Contains(l, "chi-server:") && strings.Contains(l, tt.wantFile) {
						line = l
						break
					}
				}
				if line == "" {
					t.Errorf("journal has no error line naming %s:\n%s", tt.wantFile, tail([]byte(j), 3000))
				}
				t.Logf("journal: %s", line)
				recordResult("bad certificate at start", "systemd %d | %s | start failed after %v | StatusText %q",
					su.systemd, tt.name, took.Round(time.Millisecond), s["StatusText"])
				c.run("systemctl", "reset-failed", unit)
			})
		}
	})
}
