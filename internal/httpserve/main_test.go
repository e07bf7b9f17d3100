package httpserve

import (
	"io"
	"log"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// quietLog discards net/http's server log (recovered panics, by design in
// some tests).
var quietLog = log.New(io.Discard, "", 0)
