package status

import (
	"io"
	"log"
	"net/http"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// nopWriter is a reusable http.ResponseWriter for calling handlers
// directly, without a server.
type nopWriter struct {
	h    http.Header
	code int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(code int)        { w.code = code }

// quietLog discards net/http's server log.
var quietLog = log.New(io.Discard, "", 0)
