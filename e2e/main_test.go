//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// Settings, all overridable by environment (e2e/run.sh sets most of them).
var (
	// cacheDir holds the debootstrapped rootfs per suite (e2e/rootfs.sh).
	cacheDir = envOr("SDLIFE_E2E_CACHE", "/var/cache/sdlife-e2e")
	// stateDir receives one pid file per running container, so that
	// e2e/run.sh can kill leftovers if this process itself is killed.
	stateDir = envOr("SDLIFE_E2E_STATE", "")
	// portBase: the service listens on portBase, the socket unit on
	// portBase+1, the naive server on portBase+2 (all on 127.0.0.1).
	portBase = envInt("SDLIFE_E2E_PORT_BASE", 18080)
	// resultsFile, if set, receives the benchmark table (markdown).
	resultsFile = envOr("SDLIFE_E2E_RESULTS", "")
	// fdStoreLog matches the journal line in which the example says that it
	// took its listener from the fd store rather than binding it: as text
	// (`source="fd store"`) or, logging journal-native, as the field
	// SOURCE=fd store (matched in `journalctl -o verbose`, see journalVerbose).
	fdStoreLog = envOr("SDLIFE_E2E_FDSTORE_LOG", `(?mi)^.*source="?fd store.*$`)

	// activationLog: the same for a listener from a socket unit.
	activationLog = envOr("SDLIFE_E2E_ACTIVATION_LOG", `(?mi)^.*source="?socket activation.*$`)

	chiServerBin string // examples/chi-server, or $SDLIFE_E2E_CHI_SERVER
	naiveBin     string // e2e/naive
)

func servicePort() int { return portBase }
func socketPort() int  { return portBase + 1 }
func naivePort() int   { return portBase + 2 }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(k string, def int) int {
	if v := os.Getenv(k); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			panic(fmt.Sprintf("%s=%q: %v", k, v, err))
		}
		return n
	}
	return def
}

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: needs root (systemd-nspawn); run: sudo e2e/run.sh")
		os.Exit(1)
	}
	tmp, err := os.MkdirTemp("", "sdlife-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	if stateDir == "" {
		stateDir = filepath.Join(tmp, "state")
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}

	if err := buildRootfses(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	chiServerBin = os.Getenv("SDLIFE_E2E_CHI_SERVER")
	if chiServerBin == "" {
		chiServerBin = filepath.Join(tmp, "chi-server")
		if err := goBuild(chiServerBin, "../examples/chi-server"); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building examples/chi-server:", err)
			os.Exit(1)
		}
	}
	naiveBin = filepath.Join(tmp, "naive")
	if err := goBuild(naiveBin, "./naive"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building e2e/naive:", err)
		os.Exit(1)
	}

	// An interrupted run must not leave containers behind: power them off
	// before dying. (t.Cleanup does not run when the process is signalled.)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: %v: powering off containers\n", s)
		poweroffAll()
		os.Exit(130)
	}()

	code := m.Run()
	poweroffAll() // normally a no-op: every test powers off its own
	os.RemoveAll(tmp)
	os.Exit(code)
}

// goBuild builds a static binary, so it runs in any rootfs.
func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}
