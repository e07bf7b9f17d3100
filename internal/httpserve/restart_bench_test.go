package httpserve

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkRestartH2 restarts a server three times under load from
// HTTP/2 clients (see clientLoad: 8 clients back to back, 2 with 150ms
// requests), with this package's Server and with a plain http.Server
// stopped by its Shutdown, and reports failed requests and the stop
// (drain) time per restart. Compare with benchstat:
//
//	go test -run '^$' -bench RestartH2 -benchtime 5x -count 6 ./internal/httpserve/
func BenchmarkRestartH2(b *testing.B) {
	const restarts = 3
	for _, kind := range []struct {
		name string
		tls  bool
	}{{"h2c", false}, {"h2", true}} {
		for _, impl := range []struct {
			name  string
			naive bool
		}{{"Server", false}, {"NetHTTP", true}} {
			b.Run(kind.name+"/"+impl.name, func(b *testing.B) {
				var failed, ok int64
				var stops []time.Duration
				for b.Loop() {
					res, _, st := restartH2(b, restarts, kind.tls, impl.naive)
					failed += res.failed.Load()
					ok += res.ok.Load()
					stops = append(stops, st[:restarts]...) // without the final stop, which has no successor
				}
				var sum time.Duration
				for _, d := range stops {
					sum += d
				}
				n := float64(len(stops))
				b.ReportMetric(float64(failed)/n, "failed/restart")
				b.ReportMetric(float64(ok)/n, "ok/restart")
				b.ReportMetric(float64(sum.Microseconds())/1000/n, "drain-ms")
				b.ReportMetric(float64(slices.Max(stops).Microseconds())/1000, "max-drain-ms")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
