package httpserve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestReadinessHandler(t *testing.T) {
	tests := []struct {
		name     string
		give     []State // Set in order
		wantCode int
		wantBody string
	}{
		{"zero value is starting", nil, http.StatusServiceUnavailable, "starting\n"},
		{"ready", []State{StateReady}, http.StatusOK, "ready\n"},
		{"reloading", []State{StateReady, StateReloading}, http.StatusServiceUnavailable, "reloading\n"},
		{"ready after reload", []State{StateReady, StateReloading, StateReady}, http.StatusOK, "ready\n"},
		{"stopping", []State{StateReady, StateStopping}, http.StatusServiceUnavailable, "stopping\n"},
		{"stopping is final", []State{StateStopping, StateReady}, http.StatusServiceUnavailable, "stopping\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Readiness
			for _, s := range tt.give {
				r.Set(s)
			}
			rec := httptest.NewRecorder()
			r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.wantCode || string(body) != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", rec.Code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	if got := State(42).String(); got != "State(42)" {
		t.Fatalf("String() = %q", got)
	}
}
