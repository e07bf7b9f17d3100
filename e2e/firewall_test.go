//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestIPFirewall: the unit's IPAddressDeny=any is really enforced (BPF),
// and IPAddressAllow=localhost lets local clients in. Without the allow
// line, even 127.0.0.1 gets no answer.
func TestIPFirewall(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		c.must(t, "systemctl", "start", unit)
		mustGet(t, servicePort(), "/", defaultConfig().Greeting)

		c.writeFile(t, "/etc/systemd/system/"+unit+".d/e2e-deny-all.conf", []byte("[Service]\nIPAddressAllow=\n"), 0o644)
		c.must(t, "systemctl", "daemon-reload")
		c.must(t, "systemctl", "stop", unit) // a restart would keep the socket, with its old cgroup
		c.must(t, "systemctl", "start", unit)
		if deny := c.show(t, unit, "IPAddressDeny", "IPAddressAllow"); deny["IPAddressAllow"] != "" || !strings.Contains(deny["IPAddressDeny"], "0.0.0.0/0") {
			t.Fatalf("drop-in not in effect: %v", deny)
		}
		saved := oneShot.Timeout
		oneShot.Timeout = 2 * time.Second
		defer func() { oneShot.Timeout = saved }()
		if code, body, err := get(servicePort(), "/"); err == nil {
			out, _ := c.run("sh", "-c", "journalctl -b --no-pager | grep -i firewall")
			t.Fatalf("with IPAddressDeny=any and no allow, 127.0.0.1 still got %d %q: the firewall is not enforced here\n%s", code, body, out)
		}
	})
}
