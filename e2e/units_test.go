//go:build e2e

package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the highest `systemd-analyze security` exposure accepted
// for a service unit of deploy/units ("OK" ends at 2.5 on systemd's scale).
const maxExposure = 2.5

var exposureRe = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\S+)`)

// TestUnits checks deploy/units with the analyzer of the systemd version
// each unit is written for: notify-reload units on trixie (257), the compat
// unit on bookworm (252).
func TestUnits(t *testing.T) {
	for _, tc := range []struct {
		suite    string
		verify   []string
		services []string
	}{
		{"trixie",
			[]string{"chi-server.service", "chi-server-activated.socket", "chi-server-activated.service", "chi-server-compat.service"},
			[]string{"chi-server.service", "chi-server-activated.service", "chi-server-compat.service"}},
		{"bookworm",
			[]string{"chi-server-compat.service"},
			[]string{"chi-server-compat.service"}},
	} {
		t.Run(tc.suite, func(t *testing.T) {
			c := bootChiServer(t, tc.suite)
			version := strings.Fields(c.must(t, "systemctl", "--version"))
			for _, u := range tc.verify {
				out, err := c.run("systemd-analyze", "verify", "/etc/systemd/system/"+u)
				if err != nil || strings.Contains(out, "chi-server") {
					t.Errorf("systemd-analyze verify %s (systemd %s): %v\n%s", u, version[1], err, out)
				}
			}
			for _, u := range tc.services {
				out, err := c.run("systemd-analyze", "security", "--no-pager", u)
				m := exposureRe.FindStringSubmatch(out)
				if m == nil {
					t.Errorf("systemd-analyze security %s: %v, no overall exposure in:\n%s", u, err, out)
					continue
				}
				score, _ := strconv.ParseFloat(m[1], 64)
				t.Logf("systemd %s: systemd-analyze security %s: %s %s", version[1], u, m[1], m[2])
				recordResult("security", "systemd %s, %s: exposure %s %s", version[1], u, m[1], m[2])
				if score > maxExposure {
					t.Errorf("%s: exposure %.1f > %.1f", u, score, maxExposure)
				}
			}
		})
	}
}
