//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// nginxPool is the upstream keep-alive pool of the nginx in front
// (`keepalive` in its upstream block).
const nginxPool = 32

// nginxPort is where the test's nginx listens: derived from the port
// base, after the ports the service and the naive server use, and apart
// from haproxy's (h2ProxyPort), so that a proxy another test left behind
// can never stand in for this one.
func nginxPort() int { return portBase + 11 }

// nginxProxy is an nginx process of the test's own: its own prefix,
// config, pid file and logs in a temporary directory, in the foreground
// (daemon off), one process (master_process off, so that it runs as root
// without switching to a worker user that could not write the temporary
// directory), stopped when the test ends.
type nginxProxy struct {
	dir      string
	errorLog string
	cmd      *exec.Cmd
	client   *http.Client
}

// startNginx runs nginx as a reverse proxy to 127.0.0.1:upstream with an
// upstream keep-alive pool of nginxPool, as a real deployment configures
// it: HTTP/1.1 to the upstream and no "Connection: close" passed on.
func startNginx(t *testing.T, upstream int) *nginxProxy {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Fatalf("nginx is not on PATH (e2e/run.sh installs it: apt-get install nginx-light or nginx): %v", err)
	}
	dir := t.TempDir()
	p := &nginxProxy{dir: dir, errorLog: filepath.Join(dir, "error.log")}
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path %[1]s/client;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	upstream backend {
		server 127.0.0.1:%[2]d;
		keepalive %[3]d;
	}
	server {
		listen 127.0.0.1:%[4]d;
		location / {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
`, dir, upstream, nginxPool, nginxPort())
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", confPath).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	p.cmd = exec.Command(bin, "-p", dir, "-c", confPath)
	p.cmd.Stdout, p.cmd.Stderr = os.Stderr, os.Stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("nginx: %v", err)
	}
	t.Cleanup(p.stop)
	p.client = &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 2 * nginxPool, MaxConnsPerHost: 2 * nginxPool},
		Timeout:   10 * time.Second,
	}
	if !waitFor(5*time.Second, func() bool { return len(listenInodes(nginxPort())) > 0 }) {
		t.Fatalf("nginx does not listen on 127.0.0.1:%d; error log:\n%s", nginxPort(), p.log())
	}
	// The socket must be nginx's own: a bind that failed shows in its log,
	// and nginx exits.
	if strings.Contains(p.log(), "bind()") {
		t.Fatalf("nginx could not bind 127.0.0.1:%d; error log:\n%s", nginxPort(), p.log())
	}
	return p
}

// stop ends nginx (SIGQUIT: graceful) and waits for it.
func (p *nginxProxy) stop() {
	p.client.CloseIdleConnections()
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func (p *nginxProxy) log() string {
	b, _ := os.ReadFile(p.errorLog)
	return string(b)
}

// upstreamErrors returns the lines of nginx's error log that report a
// failure talking to the upstream (a connection refused, reset or closed
// under a request: "... while ... upstream").
func (p *nginxProxy) upstreamErrors() []string {
	var errs []string
	for _, l := range strings.Split(p.log(), "\n") {
		if strings.Contains(l, "upstream") && (strings.Contains(l, "[error]") || strings.Contains(l, "[crit]") ||
			strings.Contains(l, "[alert]") || strings.Contains(l, "[warn]")) {
			errs = append(errs, l)
		}
	}
	return errs
}

// burst sends n requests through nginx, n at a time, each to path, and
// returns the failures (anything but a 200 with want as body). n above
// nginxPool concurrent requests make nginx open more upstream
// connections than its pool keeps: it keeps nginxPool of them idle.
func (p *nginxProxy) burst(n int, path, want string) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	url := fmt.Sprintf("http://127.0.0.1:%d%s", nginxPort(), path)
	for range n {
		wg.Go(func() {
			resp, err := p.client.Get(url)
			if err == nil {
				var body []byte
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && (resp.StatusCode != http.StatusOK || (want != "" && string(body) != want+"\n")) {
					err = fmt.Errorf("%d %q", resp.StatusCode, body)
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs
}

// sustain sends requests through nginx from workers workers, each one
// after the other, for d, and returns the failures and how many
// succeeded: traffic as a proxy in front of a busy service sees it, many
// requests on each upstream connection.
func (p *nginxProxy) sustain(d time.Duration, workers int, want string) (errs []error, ok int) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	url := fmt.Sprintf("http://127.0.0.1:%d/", nginxPort())
	end := time.Now().Add(d)
	for range workers {
		wg.Go(func() {
			for time.Now().Before(end) {
				resp, err := p.client.Get(url)
				if err == nil {
					var body []byte
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != http.StatusOK || string(body) != want+"\n") {
						err = fmt.Errorf("%d %q", resp.StatusCode, body)
					}
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					ok++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	return errs, ok
}

// TestNginxPoolHandover: the upstream keep-alive pool of a real nginx in
// front of the service, idle for 0.5 s, 3 s or 8 s (all below the
// example's IdleTimeout of 2 minutes), survives `systemctl restart` in the
// fd store like the suite's own pool (TestConnHandover): each drain hands
// over close to the pool, every request through nginx is answered 200, and
// nginx's error log has no upstream error. How long each restart took,
// beside restarts without a pool, is recorded, not asserted: a wall-clock
// bound fails on a loaded machine without saying anything about the
// hand-over.
func TestNginxPoolHandover(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		const unit = "chi-server.service"
		c := bootChiServer(t, su.name)
		version := strings.Fields(c.must(t, "systemctl", "--version"))[1]
		c.allowRapidRestarts(t, unit)
		c.must(t, "systemctl", "start", unit)
		greeting := defaultConfig().Greeting
		mustGet(t, servicePort(), "/", greeting)
		ngx := startNginx(t, servicePort())

		restart := func() (time.Duration, string) {
			t.Helper()
			pid := c.state(t, unit)["MainPID"]
			start := time.Now()
			c.must(t, "systemctl", "restart", unit)
			return time.Since(start), pid
		}

		// Without a pool: nginx has not talked to this process yet.
		var base []time.Duration
		for range 5 {
			d, _ := restart()
			base = append(base, d)
		}
		slices.Sort(base)
		baseMedian := base[len(base)/2]
		t.Logf("restart without a pool: %v", base)

		type run struct {
			idle   time.Duration
			took   time.Duration
			pid    string
			failed int
		}
		var runs []run
		for _, idle := range []time.Duration{500 * time.Millisecond, 3 * time.Second, 8 * time.Second} {
			// 2x the pool at once, on a slow path, so that nginx opens
			// more upstream connections than it keeps; then a round on
			// the pool alone.
			errs := ngx.burst(2*nginxPool, "/slow?ms=100", "")
			lerrs, n := ngx.sustain(2*time.Second, 2*nginxPool, greeting)
			t.Logf("idle %v: %d requests through nginx before the idle time", idle, n)
			errs = append(errs, lerrs...)
			time.Sleep(idle)
			took, pid := restart()
			errs = append(errs, ngx.burst(2*nginxPool, "/", greeting)...)
			if len(errs) > 0 {
				t.Errorf("idle %v: %d requests through nginx failed: %v", idle, len(errs), errs[:min(5, len(errs))])
			}
			runs = append(runs, run{idle: idle, took: took, pid: pid, failed: len(errs)})
		}

		es := c.journalJSON(t, unit)
		var pids []string
		for _, r := range runs {
			pids = append(pids, r.pid)
		}
		for i, d := range drainedLines(t, es, pids) {
			r := runs[i]
			handed, closed := atoi(d.field("HANDED_OVER")), atoi(d.field("IDLE_CLOSED"))
			t.Logf("idle %v: restart %v (without a pool %v), HANDED_OVER=%d IDLE_CLOSED=%d TOOK=%s",
				r.idle, r.took.Round(time.Millisecond), baseMedian.Round(time.Millisecond), handed, closed, d.field("TOOK"))
			recordResult("nginx", "systemd %s, nginx upstream keepalive %d idle %v: restart %v (without a pool: median %v), HANDED_OVER=%d IDLE_CLOSED=%d, drain took %s, requests through nginx failed %d",
				version, nginxPool, r.idle, r.took.Round(time.Millisecond), baseMedian.Round(time.Millisecond), handed, closed, d.field("TOOK"), r.failed)
			if handed < nginxPool-2 || closed > 2 {
				t.Errorf("idle %v: drain %s: HANDED_OVER=%d IDLE_CLOSED=%d, want the pool of %d handed over", r.idle, d, handed, closed, nginxPool)
			}
		}
		if errs := ngx.upstreamErrors(); len(errs) > 0 {
			t.Errorf("nginx logged %d upstream errors:\n%s", len(errs), strings.Join(errs[:min(10, len(errs))], "\n"))
		}
	})
}
