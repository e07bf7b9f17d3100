//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestBenchmark measures, for the example and for the naive baseline, the
// steady request rate and the failed requests during 10 restarts, with new
// connections and with keep-alive connections. It records the numbers (see
// $SDLIFE_E2E_RESULTS) and asserts only that the load ran; the zero-loss
// assertions live in TestRestartUnderLoad.
func TestBenchmark(t *testing.T) {
	c := bootChiServer(t, "trixie")
	c.copyFile(t, naiveBin, "/usr/local/bin/naive", 0o755)
	b, err := os.ReadFile("testdata/naive.service")
	if err != nil {
		t.Fatal(err)
	}
	c.writeFile(t, "/etc/systemd/system/naive.service", b, 0o644)
	c.writeFile(t, "/etc/systemd/system/naive.service.d/e2e-port.conf",
		[]byte(fmt.Sprintf("[Service]\nEnvironment=NAIVE_LISTEN=127.0.0.1:%d\n", naivePort())), 0o644)
	c.must(t, "systemctl", "daemon-reload")

	const steady = 5 * time.Second
	for _, srv := range []struct {
		name, unit string
		port       int
	}{
		{"chi-server (sdlife)", "chi-server.service", servicePort()},
		{"naive net/http", "naive.service", naivePort()},
	} {
		t.Run(srv.unit, func(t *testing.T) {
			c.must(t, "systemctl", "start", srv.unit)
			defer c.run("systemctl", "stop", srv.unit)
			mustGet(t, srv.port, "/", defaultConfig().Greeting)
			for _, keepAlive := range []bool{false, true} {
				mode := "new connection per request"
				if keepAlive {
					mode = "keep-alive"
				}
				l := startLoad(srv.port, defaultConfig().Greeting, loadWorkers, keepAlive)
				time.Sleep(steady)
				l.finish()
				t.Logf("%s steady: %v", srv.name, l)
				if l.ok.Load() == 0 {
					t.Fatalf("no request succeeded: %v", l)
				}
				recordResult("throughput", "%s | %s | %.0f req/s | %d failed",
					srv.name, mode, l.rps(), l.failed.Load())

				r := restartUnderLoad(t, c, srv.unit, srv.port, defaultConfig().Greeting, keepAlive, nRestarts)
				recordResult("restarts", "%s | %s | %d of %d failed (%s) | %d client retries",
					srv.name, mode, r.failed.Load(), r.ok.Load()+r.failed.Load(), errKinds(r), r.retried.Load())
			}
		})
	}
}

func errKinds(l *load) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return "none"
	}
	s := ""
	for k, n := range l.errs {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%d %s", n, k)
	}
	return s
}
