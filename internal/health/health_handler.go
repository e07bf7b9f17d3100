package health

import (
	"encoding/json"
	"github.com/sdlife/sdlife/internal/sdwire"
	"net/http"
	"strings"
	"time"
)

// Handler runs the checks for every request and answers 200 when all pass
// and 503 otherwise. The body is plain text, one line per check, or JSON
// when the request's Accept header asks for application/json:
//
//	{"healthy":false,"checks":[{"name":"db","healthy":false,"error":"...","duration_ms":2000.1}]}
//
// The request's context ends the wait (a probe that gives up stops
// waiting), not the checks.
func (h *Health) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		report := h.Run(r.Context())
		hdr := w.Header()
		hdr.Set("Cache-Control", "no-store")
		code := http.StatusOK
		if !report.Healthy {
			code = http.StatusServiceUnavailable
		}
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			hdr.Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(report.jsonView())
			return
		}
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(report.text()))
	})
}

// text renders the report as "ok" or "unhealthy" followed by one line per
// check.
func (hr HealthReport) text() string {
	var b strings.Builder
	if hr.Healthy {
		b.WriteString("ok\n")
	} else {
		b.WriteString("unhealthy\n")
	}
	for _, r := range hr.Results {
		b.WriteString(sdwire.OneLine(r.Name, maxLineLen))
		b.WriteString(": ")
		if r.Err != nil {
			b.WriteString(sdwire.OneLine(r.Err.Error(), maxLineLen))
		} else {
			b.WriteString("ok")
		}
		b.WriteString(" (")
		b.WriteString(r.Duration.Round(100 * time.Microsecond).String()) // 0.1ms is precise enough
		b.WriteString(")\n")
	}
	return b.String()
}

type jsonReport struct {
	Healthy bool        `json:"healthy"`
	Checks  []jsonCheck `json:"checks"`
}

type jsonCheck struct {
	Name       string  `json:"name"`
	Healthy    bool    `json:"healthy"`
	Error      string  `json:"error,omitempty"`
	Fatal      bool    `json:"fatal,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

func (hr HealthReport) jsonView() jsonReport {
	out := jsonReport{Healthy: hr.Healthy, Checks: make([]jsonCheck, len(hr.Results))}
	for i, r := range hr.Results {
		c := jsonCheck{Name: r.Name, Healthy: r.Err == nil, Fatal: r.Fatal, DurationMS: float64(r.Duration.Microseconds()) / 1000}
		if r.Err != nil {
			c.Error = r.Err.Error()
		}
		out.Checks[i] = c
	}
	return out
}

// maxLineLen bounds a check's name and error in the probe's body.
const maxLineLen = 256
