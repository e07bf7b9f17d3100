package upgrade

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// envChild switches the test binary into one of the new processes of
// child_linux_test.go, which the tests start through Start.
const envChild = "UPGRADE_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(envChild); mode != "" {
		os.Exit(runChild(mode))
	}
	goleak.VerifyTestMain(m)
}
