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

// shippedUnits are the files of deploy/units with the oldest systemd that
// loads each (deploy/units/README.md).
var shippedUnits = []struct {
	name       string
	minSystemd int
}{
	{"chi-server.service", notifyReload},
	{"chi-server-activated.socket", notifyReload},
	{"chi-server-activated.service", notifyReload},
	{"chi-server-compat.service", 0},
}

// TestUnits checks every unit of deploy/units with the analyzer of every
// systemd of the matrix that the unit is written for.
func TestUnits(t *testing.T) {
	forEachSuite(t, 0, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		version := strings.Fields(c.must(t, "systemctl", "--version"))[1]
		if major, _, _ := strings.Cut(version, "."); major != strconv.Itoa(su.systemd) {
			t.Errorf("%s ships systemd %s, the matrix says %d", su.name, version, su.systemd)
		}
		for _, u := range shippedUnits {
			if su.systemd < u.minSystemd {
				continue
			}
			out, err := c.run("systemd-analyze", "verify", "/etc/systemd/system/"+u.name)
			if err != nil || strings.Contains(out, "chi-server") {
				t.Errorf("systemd-analyze verify %s (systemd %s): %v\n%s", u.name, version, err, out)
			}
			if !strings.HasSuffix(u.name, ".service") {
				continue
			}
			out, err = c.run("systemd-analyze", "security", "--no-pager", u.name)
			m := exposureRe.FindStringSubmatch(out)
			if m == nil {
				t.Errorf("systemd-analyze security %s: %v, no overall exposure in:\n%s", u.name, err, out)
				continue
			}
			score, _ := strconv.ParseFloat(m[1], 64)
			t.Logf("systemd %s: systemd-analyze security %s: %s %s", version, u.name, m[1], m[2])
			recordResult("security", "systemd %s, %s: exposure %s %s", version, u.name, m[1], m[2])
			if score > maxExposure {
				t.Errorf("%s: exposure %.1f > %.1f", u.name, score, maxExposure)
			}
		}
		t.Run("tls", func(t *testing.T) { checkTLSDropIns(t, c, su, version) })
	})
}

// maxTLSExposure is the exposure accepted with the TLS drop-ins: handing in
// a key must not weaken the sandbox.
const maxTLSExposure = 1.0

// checkTLSDropIns verifies the drop-ins of deploy/units/tls on the unit the
// version runs: credentials.conf everywhere (LoadCredential= is 247), with
// `verify` clean and the exposure at most maxTLSExposure;
// refresh-on-reload.conf clean from systemd 260 and, before, reported as
// unknown by `verify` (and ignored), as its comment says.
func checkTLSDropIns(t *testing.T, c *container, su suite, version string) {
	unit := "chi-server.service"
	if su.systemd < notifyReload {
		unit = "chi-server-compat.service"
	}
	verify := func() string {
		out, err := c.run("systemd-analyze", "verify", "/etc/systemd/system/"+unit)
		if err != nil {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
		return out
	}
	c.installTLSDropIn(t, unit, "credentials.conf", credentialsDropIn)
	if out := verify(); strings.Contains(out, "chi-server") {
		t.Errorf("systemd-analyze verify %s with %s (systemd %s):\n%s", unit, credentialsDropIn, version, out)
	}
	out, err := c.run("systemd-analyze", "security", "--no-pager", unit)
	if m := exposureRe.FindStringSubmatch(out); m == nil {
		t.Errorf("systemd-analyze security %s: %v, no overall exposure in:\n%s", unit, err, out)
	} else {
		score, _ := strconv.ParseFloat(m[1], 64)
		t.Logf("systemd %s: %s with %s: exposure %s %s", version, unit, credentialsDropIn, m[1], m[2])
		recordResult("security", "systemd %s, %s + tls/credentials.conf: exposure %s %s", version, unit, m[1], m[2])
		if score > maxTLSExposure {
			t.Errorf("%s with %s: exposure %.1f > %.1f", unit, credentialsDropIn, score, maxTLSExposure)
		}
	}
	if paths := c.show(t, unit, "DropInPaths")["DropInPaths"]; !strings.Contains(paths, credentialsDropIn) {
		t.Errorf("DropInPaths=%q: the drop-in was not applied", paths)
	}

	c.installTLSDropIn(t, unit, "refresh-on-reload.conf", refreshDropIn)
	out = verify()
	unknown := strings.Contains(out, "RefreshOnReload")
	switch {
	case su.systemd >= refreshOnReload && strings.Contains(out, "chi-server"):
		t.Errorf("systemd-analyze verify %s with %s (systemd %s):\n%s", unit, refreshDropIn, version, out)
	case su.systemd < refreshOnReload && !unknown:
		t.Errorf("systemd %s accepts RefreshOnReload= silently, though it is documented from %d:\n%s", version, refreshOnReload, out)
	case su.systemd < refreshOnReload:
		t.Logf("systemd %s, as expected: %s", version, strings.TrimSpace(out))
	}
	c.must(t, "rm", "-r", "/etc/systemd/system/"+unit+".d/"+credentialsDropIn, "/etc/systemd/system/"+unit+".d/"+refreshDropIn)
	c.must(t, "systemctl", "daemon-reload")
}
