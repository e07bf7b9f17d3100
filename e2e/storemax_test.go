//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// fullPool fills the shipped unit's fd store: FileDescriptorStoreMax=513
// is the listener and 512 connections.
const fullPool = 512

// storeFullWarning is what PID 1 logs when a service sends more
// descriptors than FileDescriptorStoreMax= lets it keep.
const storeFullWarning = "Cannot store more fds than FileDescriptorStoreMax="

// TestHandoverStoreMax (issue 16, item 6): with the store full (the
// listener and 512 idle connections handed over), restarts do not make
// PID 1 warn "Cannot store more fds than FileDescriptorStoreMax=513,
// closing remaining.": the new process does not store the listener it
// was handed back again while the handed-over connections, released only
// after READY=1, still fill the store. Every connection is handed over
// and answered by the next process all the same.
func TestHandoverStoreMax(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		const unit = "chi-server.service"
		if max := c.show(t, unit, "FileDescriptorStoreMax")["FileDescriptorStoreMax"]; max != fmt.Sprint(fullPool+1) {
			t.Fatalf("FileDescriptorStoreMax=%s, want the shipped %d", max, fullPool+1)
		}
		greeting := defaultConfig().Greeting
		c.must(t, "systemctl", "start", unit)
		mustGet(t, servicePort(), "/", greeting)
		pool := openPool(t, servicePort(), fullPool, greeting)
		defer pool.close()

		const restarts = 3
		var pids []string
		for i := range restarts {
			c.must(t, "systemctl", "restart", unit)
			pids = append(pids, c.state(t, unit)["MainPID"])
			if errs := pool.round(greeting); len(errs) > 0 {
				t.Fatalf("after restart %d: %d of %d pool connections failed: %v", i+1, len(errs), fullPool, errs[:min(5, len(errs))])
			}
		}
		es := c.journalJSON(t, unit)
		for i, pid := range pids {
			a := withMessage(fromPID(es, pid), "httpadapter: took over connections")
			if len(a) != 1 || a[0].field("ADOPTED") != fmt.Sprint(fullPool) {
				t.Errorf("restart %d: process %s took over %v, want ADOPTED=%d", i+1, pid, a, fullPool)
			}
		}
		warnings := 0
		for _, line := range strings.Split(c.journal(t, unit), "\n") {
			if strings.Contains(line, storeFullWarning) {
				warnings++
				t.Errorf("PID 1: %s", line)
			}
		}
		s := c.state(t, unit)
		if s["NFileDescriptorStore"] != "1" {
			t.Errorf("NFileDescriptorStore=%s after the restarts, want the listener alone (the connections released)", s["NFileDescriptorStore"])
		}
		recordResult("store-max", "systemd %d | %d idle connections handed over, %d restarts | PID 1 %q lines: %d | NFileDescriptorStore after: %s",
			su.systemd, fullPool, restarts, storeFullWarning, warnings, s["NFileDescriptorStore"])
	})
}
