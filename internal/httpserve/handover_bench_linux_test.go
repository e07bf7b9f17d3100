package httpserve

import (
	"bufio"
	"context"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// BenchmarkRestartIdlePool restarts a server in process, as `systemctl
// restart` does, with N idle keep-alive connections open: the old Server
// is shut down, then the next one takes the listener (and, with the
// hand-over, the connections) from the fake manager's fd store. Each pool
// connection then sends one more request; one that the old Server closed
// is dialled again, as a client or proxy pool does.
//
// Reported per restart: drain-ms (the old Server's Shutdown), adopt-ms
// (the next Server's Listen and Start, adopting included), round-ms (the
// whole pool answered again by the next Server, 20 requests at a time),
// redials (pool connections that had to be dialled again), handed (taken
// over). "off" is a Server without ConnStore: the drain as before the
// hand-over (idle connections closed after the idle grace).
//
//	go test -run '^$' -bench RestartIdlePool -benchtime 3x -count 5 ./internal/httpserve/
func BenchmarkRestartIdlePool(b *testing.B) {
	for _, n := range []int{0, 200, 2000} {
		for _, mode := range []struct {
			name  string
			store bool
		}{{"off", false}, {"handover", true}} {
			b.Run(fmt.Sprintf("idle=%d/%s", n, mode.name), func(b *testing.B) {
				var drain, adopt, round time.Duration
				redials, handed, runs := 0, 0, 0
				for b.Loop() {
					r := restartIdlePool(b, n, mode.store)
					drain += r.drain
					adopt += r.adopt
					round += r.round
					redials += r.redials
					handed += r.handed
					runs++
				}
				ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(runs) }
				b.ReportMetric(ms(drain), "drain-ms")
				b.ReportMetric(ms(adopt), "adopt-ms")
				b.ReportMetric(ms(round), "round-ms")
				b.ReportMetric(float64(redials)/float64(runs), "redials")
				b.ReportMetric(float64(handed)/float64(runs), "handed")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

type idlePoolRestart struct {
	drain, adopt, round time.Duration
	redials, handed     int
}

// benchPoolConn is one connection of the client's pool.
type benchPoolConn struct {
	c  net.Conn
	br *bufio.Reader
}

// do sends one GET and reads the answer; on a connection the server
// closed it dials again once, and says so.
func (p *benchPoolConn) do(addr, want string) (redialed bool, err error) {
	for attempt := 0; ; attempt++ {
		if p.c == nil {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return redialed, err
			}
			p.c, p.br, redialed = c, bufio.NewReader(c), attempt > 0 || redialed
		}
		_ = p.c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = io.WriteString(p.c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(p.br, nil)
		}
		if err != nil {
			p.c.Close()
			p.c = nil
			if attempt == 0 {
				redialed = true
				continue
			}
			return redialed, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != want {
			return redialed, fmt.Errorf("body %q: %v", body, err)
		}
		if resp.Close {
			p.c.Close()
			p.c = nil
		}
		return redialed, nil
	}
}

// poolRound sends one request on every connection, 20 at a time, and
// returns the redials.
func poolRound(tb testing.TB, pool []*benchPoolConn, addr, want string) int {
	var (
		mu      sync.Mutex
		redials int
		errs    []error
		wg      sync.WaitGroup
	)
	next := make(chan *benchPoolConn)
	for range 20 {
		wg.Go(func() {
			for p := range next {
				r, err := p.do(addr, want)
				mu.Lock()
				if r {
					redials++
				}
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	for _, p := range pool {
		next <- p
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		tb.Fatalf("%d pool requests failed: %v", len(errs), errs[0])
	}
	return redials
}

func restartIdlePool(b *testing.B, n int, withStore bool) idlePoolRestart {
	b.StopTimer()
	defer b.StartTimer()
	m := sdtest.NewManager(b, sdtest.WithFDStore(n+100))
	limit, err := m.Environment().FDStoreLimit()
	if err != nil {
		b.Fatal(err)
	}
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: limit}
	old, res := startGeneration(b, "old", cfg, withStore)
	defer old.Shutdown(context.Background())
	addr := res.Listener.Addr().String()
	cfg.Address = addr

	pool := make([]*benchPoolConn, n)
	for i := range pool {
		pool[i] = &benchPoolConn{}
	}
	defer func() {
		for _, p := range pool {
			if p.c != nil {
				p.c.Close()
			}
		}
	}()
	poolRound(b, pool, addr, "old")
	for deadline := time.Now().Add(10 * time.Second); old.conn.counts(time.Now()).Idle < n; {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d connections idle", old.conn.counts(time.Now()).Idle, n)
		}
		time.Sleep(time.Millisecond)
	}

	var r idlePoolRestart
	start := time.Now()
	if err := old.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	r.drain = time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.Notifier().Barrier(ctx); err != nil {
		b.Fatal(err)
	}

	files := m.Files()
	defer files.Close()
	cfg.Files = files
	start = time.Now()
	next, res2 := startGeneration(b, "new", cfg, withStore)
	r.adopt = time.Since(start)
	defer next.Shutdown(context.Background())
	r.handed = res2.Adopted
	start = time.Now()
	r.redials = poolRound(b, pool, addr, "new")
	r.round = time.Since(start)
	return r
}
