//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// suite is one Debian release of the matrix: its rootfs (e2e/rootfs.sh SUITE)
// boots the systemd it ships.
type suite struct {
	name    string // Debian code name, also the rootfs directory
	systemd int    // major version of the systemd it ships
}

// suites is the test matrix, oldest first. Adding a systemd version is one
// line here; TestMain builds every rootfs listed, and each scenario runs on
// every suite whose systemd has what it needs (see forEachSuite).
var suites = []suite{
	{name: "bookworm", systemd: 252},
	{name: "trixie", systemd: 257},
	{name: "forky", systemd: 262},
}

// Minimum systemd versions of the features the scenarios depend on.
const (
	// notifyReload: Type=notify-reload, so chi-server.service and the
	// activated pair load (deploy/units/README.md).
	notifyReload = 253
	// fdStorePreserve: FileDescriptorStorePreserve= (252 keeps the store
	// across restarts and drops it on stop, without the setting).
	fdStorePreserve = 254
)

// forEachSuite runs f as a subtest named for the suite on every suite of the
// matrix whose systemd is at least minSystemd and below maxSystemd (0: no
// upper bound), one after another (the containers share the host's ports).
func forEachSuite(t *testing.T, minSystemd, maxSystemd int, f func(t *testing.T, s suite)) {
	t.Helper()
	ran := false
	for _, s := range suites {
		if s.systemd < minSystemd || (maxSystemd > 0 && s.systemd >= maxSystemd) {
			continue
		}
		ran = true
		t.Run(s.name, func(t *testing.T) { f(t, s) })
	}
	if !ran {
		t.Fatalf("no suite in the matrix has systemd in [%d, %d)", minSystemd, maxSystemd)
	}
}

// buildRootfses builds (once, cached) the rootfs of every suite with
// e2e/rootfs.sh, all at the same time, skipping suites whose rootfs is
// given by $SDLIFE_E2E_ROOTFS_<SUITE>.
func buildRootfses() error {
	start := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	for _, s := range suites {
		if os.Getenv(rootfsEnv(s.name)) != "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("./rootfs.sh", s.name)
			cmd.Env = append(os.Environ(), "SDLIFE_E2E_CACHE="+cacheDir)
			cmd.Stderr = os.Stderr
			if out, err := cmd.Output(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("rootfs.sh %s: %v %s", s.name, err, out))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	fmt.Fprintf(os.Stderr, "e2e: root filesystems ready in %v\n", time.Since(start).Round(time.Second))
	return nil
}

func rootfsEnv(suite string) string { return "SDLIFE_E2E_ROOTFS_" + strings.ToUpper(suite) }
