//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowlorisConns is how many connections the slowloris client keeps open.
const slowlorisConns = 200

// slowlorisTrickle is how often it sends one more header line on each:
// slowloris.py's default is 15 s; the example's ReadHeaderTimeout (10 s)
// closes each connection before that, and it reconnects.
const slowlorisTrickle = 5 * time.Second

// slowloris keeps n connections open to a port, each with a request
// header it never finishes: it sends a partial header, then one more
// header line every trickle, and opens a new connection when the server
// closes one. It sends no request a server could answer.
type slowloris struct {
	addr    string
	trickle time.Duration
	open    atomic.Int64 // connections with a partial header sent
	closed  atomic.Int64 // connections the server closed
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func startSlowloris(port, n int, trickle time.Duration) *slowloris {
	s := &slowloris{
		addr:    fmt.Sprintf("127.0.0.1:%d", port),
		trickle: trickle,
	}
	s.ctx, s.cancel = context.WithTimeout(context.Background(), maxLoadDuration)
	for range n {
		s.wg.Go(s.worker)
	}
	return s
}

func (s *slowloris) stopped() bool { return s.ctx.Err() != nil }

func (s *slowloris) worker() {
	for !s.stopped() {
		c, err := net.DialTimeout("tcp", s.addr, 2*time.Second)
		if err != nil {
			time.Sleep(10 * time.Millisecond) // refused: no spinning
			continue
		}
		s.hold(c)
	}
}

// hold sends the partial header on c and trickles until the server
// closes c or the client stops.
func (s *slowloris) hold(c net.Conn) {
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: slowloris\r\nX-A: "); err != nil {
		return
	}
	s.open.Add(1)
	defer s.open.Add(-1)
	// The stop ends the blocked read.
	defer context.AfterFunc(s.ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })()
	var b [64]byte
	for {
		_ = c.SetReadDeadline(time.Now().Add(s.trickle))
		n, err := c.Read(b[:])
		switch {
		case s.stopped():
			return
		case n > 0:
			return // a response: not what a slowloris gets
		case isTimeout(err):
			if _, err := io.WriteString(c, "a\r\nX-A: "); err != nil {
				s.closed.Add(1)
				return
			}
		default: // EOF or reset: the server closed it
			s.closed.Add(1)
			return
		}
	}
}

// waitOpen waits until all n connections are open again.
func (s *slowloris) waitOpen(t *testing.T, n int) {
	t.Helper()
	if !waitFor(10*time.Second, func() bool { return s.open.Load() >= int64(n) }) {
		t.Fatalf("slowloris: only %d of %d connections open", s.open.Load(), n)
	}
}

func (s *slowloris) finish() {
	s.cancel()
	s.wg.Wait()
}

// TestSlowlorisRestart: 200 connections that never finish their request
// header (slowloris), held open across restarts (reopened after each
// drain closed them), do not slow `systemctl restart` down. Under one
// fresh-connection load, 10 pairs of restarts in one container: one
// without slowloris, then one with the 200 connections open. With them,
// the median restart is within 1.5 times the median without and the
// slowest within 1.5 times the slowest without (pairs, so that both
// series see the same machine load); 0 failed requests; every drain with
// them closed all of them (HEADERLESS_CLOSED in its log line). Before the
// drain closed them, each such restart took about 5 s.
func TestSlowlorisRestart(t *testing.T) {
	forEachSuite(t, notifyReload, 0, func(t *testing.T, su suite) {
		const unit = "chi-server.service"
		c := bootChiServer(t, su.name)
		version := strings.Fields(c.must(t, "systemctl", "--version"))[1]
		c.allowRapidRestarts(t, unit)
		c.must(t, "systemctl", "start", unit)
		mustGet(t, servicePort(), "/", defaultConfig().Greeting)

		normal := poolRun{name: "no slowloris"}
		withSL := poolRun{name: fmt.Sprintf("%d slowloris connections", slowlorisConns)}
		l := startLoad(servicePort(), defaultConfig().Greeting, loadWorkers, false)
		defer l.finish()
		time.Sleep(500 * time.Millisecond)
		pid := c.state(t, unit)["MainPID"]
		restart := func(r *poolRun) {
			t.Helper()
			start := time.Now()
			out, err := c.run("systemctl", "restart", unit)
			r.times = append(r.times, time.Since(start))
			if err != nil {
				t.Fatalf("%s: restart: %v\n%s", r.name, err, out)
			}
			now := c.state(t, unit)["MainPID"]
			if now == pid || now == "0" {
				t.Fatalf("%s: MainPID %s is not a new process (was %s)", r.name, now, pid)
			}
			r.oldPID, r.newPID = append(r.oldPID, pid), append(r.newPID, now)
			pid = now
			time.Sleep(250 * time.Millisecond)
		}
		closed := int64(0)
		for range nRestarts {
			restart(&normal)
			sl := startSlowloris(servicePort(), slowlorisConns, slowlorisTrickle)
			sl.waitOpen(t, slowlorisConns)
			restart(&withSL)
			sl.waitOpen(t, slowlorisConns) // reopened: open across the restart
			sl.finish()
			closed += sl.closed.Load()
		}
		time.Sleep(500 * time.Millisecond)
		normal.load = l.finish()
		withSL.load = normal.load
		t.Logf("%s; %s", normal, withSL)
		t.Logf("slowloris: %d connections closed by the server over %d restarts", closed, nRestarts)
		if l.ok.Load() < 500 {
			t.Errorf("only %d successful requests: the load did not really run", l.ok.Load())
		}

		es := c.journalJSON(t, unit)
		var cut []int
		for i, d := range drainedLines(t, es, withSL.oldPID) {
			n := atoi(d.field("HEADERLESS_CLOSED"))
			cut = append(cut, n)
			if n < slowlorisConns {
				t.Errorf("restart %d: drain %s: HEADERLESS_CLOSED=%d, want the %d slowloris connections", i+1, d, n, slowlorisConns)
			}
		}
		t.Logf("with slowloris: %s", restartTimeline(es, withSL))
		t.Logf("without: %s", restartTimeline(es, normal))

		maxLat, p999 := l.latency()
		for _, r := range []poolRun{normal, withSL} {
			recordResult("slowloris", "systemd %s, %s: %d restarts, median %v, max %v, min %v",
				version, r.name, len(r.times), r.median().Round(time.Millisecond), slices.Max(r.times).Round(time.Millisecond),
				slices.Min(r.times).Round(time.Millisecond))
		}
		recordResult("slowloris", "systemd %s: load across both: %d ok, %d failed, client max %v, p99.9 %v; HEADERLESS_CLOSED per drain %v",
			version, l.ok.Load(), l.failed.Load(), maxLat.Round(time.Millisecond), p999.Round(time.Millisecond), cut)

		if l.failed.Load() != 0 {
			t.Errorf("%d failed requests: %v", l.failed.Load(), l)
		}
		if m, limit := withSL.median(), normal.median()*3/2; m > limit {
			t.Errorf("median restart with slowloris %v, without %v: more than 1.5 times", m, normal.median())
		}
		// Each restart, not only the median, must be free of the hold the
		// slowloris connections caused (5 s each before the header grace).
		// Against the slowest normal restart with a margin, not 1.5 times
		// it: restarts take about 0.1 s here, and on 2 busy cores one of
		// ten swings by 60 ms either way (CI measured 193 ms with
		// slowloris against 128 ms without, medians 124 and 120 ms).
		if m, limit := slices.Max(withSL.times), slices.Max(normal.times)*3/2+slowlorisSlack; m > limit {
			t.Errorf("slowest restart with slowloris %v, without %v: more than 1.5 times plus %v", m, slices.Max(normal.times), slowlorisSlack)
		}
	})
}

// slowlorisSlack is the scheduling noise a single restart may add on
// this machine (see TestSlowlorisRestart's last check).
const slowlorisSlack = 150 * time.Millisecond
