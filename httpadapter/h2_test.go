package httpadapter

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// h2cTransport speaks HTTP/2 with prior knowledge only.
func h2cTransport() *http.Transport {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Transport{Protocols: &p}
}

// busyClients runs n clients sending requests back to back until stop is
// closed, and counts what they see.
type busyClients struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	lastErr    error
	wg         sync.WaitGroup
}

func (b *busyClients) run(n int, client *http.Client, url string, stop <-chan struct{}) {
	for range n {
		b.wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(url)
				if err == nil {
					var body []byte
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != http.StatusOK || string(body) != "ok") {
						err = fmt.Errorf("%s %q", resp.Status, body)
					}
				}
				if err != nil {
					b.failed.Add(1)
					b.mu.Lock()
					b.lastErr = err
					b.mu.Unlock()
					continue
				}
				b.ok.Add(1)
			}
		})
	}
}

// TestServerDrainsH2C: eight HTTP/2 (prior knowledge) clients in a busy
// loop, then Shutdown. Every request answered before the listener closed
// succeeds, and the drain takes far less than DrainTimeout.
func TestServerDrainsH2C(t *testing.T) {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: &p, ErrorLog: quietLog}
	s, addr := startServer(t, ServerConfig{Handler: okHandler(), Server: srv, Ready: ReadyByCaller, DrainTimeout: 10 * time.Second})

	tr := h2cTransport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var b busyClients
	stop := make(chan struct{})
	b.run(8, client, "http://"+addr+"/", stop)
	for b.ok.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	err := s.Shutdown(context.Background())
	took := time.Since(start)
	close(stop)
	b.wg.Wait()
	t.Logf("shutdown took %v; %d ok, %d failed (after the listener closed: refused), last error %v", took, b.ok.Load(), b.failed.Load(), b.lastErr)
	if err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	if took > 3*time.Second {
		t.Fatalf("Shutdown took %v: HTTP/2 connections held the drain", took)
	}
}

var _ = tls.VersionTLS12
