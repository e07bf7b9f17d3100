//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// benchServer is one server under measurement.
type benchServer struct {
	name, unit string
	port       int
}

// TestBenchmark measures, for the example and for the naive baseline
// (e2e/naive), the steady request rate and the failed requests during 10
// restarts, with new connections and with keep-alive connections. The rate
// rounds alternate between the two servers (both run at once, on their own
// ports) so that noise on the shared 2 cores hits both alike. It records the
// numbers (see $SDLIFE_E2E_RESULTS) and asserts only that the load ran: the
// zero-loss assertions are TestRestartUnderLoad's.
func TestBenchmark(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		c := bootChiServer(t, su.name)
		c.copyFile(t, naiveBin, "/usr/local/bin/naive", 0o755)
		b, err := os.ReadFile("testdata/naive.service")
		if err != nil {
			t.Fatal(err)
		}
		c.writeFile(t, "/etc/systemd/system/naive.service", b, 0o644)
		c.writeFile(t, "/etc/systemd/system/naive.service.d/e2e-port.conf",
			[]byte(fmt.Sprintf("[Service]\nEnvironment=NAIVE_LISTEN=127.0.0.1:%d\n", naivePort())), 0o644)
		c.must(t, "systemctl", "daemon-reload")

		servers := []benchServer{
			{"chi-server (sdlife)", "chi-server.service", servicePort()},
			{"naive net/http", "naive.service", naivePort()},
		}
		for _, s := range servers {
			c.must(t, "systemctl", "start", s.unit)
			mustGet(t, s.port, "/", defaultConfig().Greeting)
		}

		const rounds, roundTime = 3, 3 * time.Second
		for _, keepAlive := range []bool{false, true} {
			mode := modeName(keepAlive)
			rates := map[string][]float64{}
			for r := 0; r < rounds; r++ {
				for _, s := range servers {
					l := startLoad(s.port, defaultConfig().Greeting, loadWorkers, keepAlive)
					time.Sleep(roundTime)
					l.finish()
					if l.ok.Load() == 0 || l.failed.Load() != 0 {
						t.Fatalf("%s, steady load: %v", s.name, l)
					}
					rates[s.name] = append(rates[s.name], l.rps())
				}
			}
			for _, s := range servers {
				rs := rates[s.name]
				sort.Float64s(rs)
				t.Logf("%s, %s: median %.0f req/s of %v", s.name, mode, rs[len(rs)/2], rs)
				recordResult("throughput", "systemd %d | %s | %s | %.0f req/s (median of %d x %v)",
					su.systemd, s.name, mode, rs[len(rs)/2], rounds, roundTime)
			}
		}
		for _, s := range servers {
			for _, keepAlive := range []bool{false, true} {
				t.Run(s.unit+"/"+modeName(keepAlive), func(t *testing.T) {
					r := restartUnderLoad(t, c, s.unit, s.port, defaultConfig().Greeting, keepAlive, nRestarts)
					recordResult("restarts", "systemd %d | %s | %s | %d of %d failed (%s) | %d client retries",
						su.systemd, s.name, modeName(keepAlive), r.failed.Load(), r.ok.Load()+r.failed.Load(), errKinds(r), r.retried.Load())
				})
			}
		}
	})
}

func modeName(keepAlive bool) string {
	if keepAlive {
		return "keep-alive"
	}
	return "new connection per request"
}

func errKinds(l *load) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return "none"
	}
	var kinds []string
	for k, n := range l.errs {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(kinds)
	return strings.Join(kinds, ", ")
}
