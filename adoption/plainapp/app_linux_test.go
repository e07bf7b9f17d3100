package plainapp_test

import (
	"os/exec"
	"strings"
	"testing"

	"example.com/adoption/internal/apptest"
	"example.com/adoption/plainapp"
)

func TestReadyAndStatusCounts(t *testing.T) { apptest.ReadyAndStatusCounts(t, plainapp.Run) }
func TestReloadGoodAndBad(t *testing.T)     { apptest.ReloadGoodAndBad(t, plainapp.Run) }
func TestWatchdogStopsWhenUnhealthy(t *testing.T) {
	apptest.WatchdogStopsWhenUnhealthy(t, plainapp.Run)
}
func TestStopDrainsWithoutLoss(t *testing.T) { apptest.StopDrainsWithoutLoss(t, plainapp.Run) }

// The plain application links no go.uber.org package: adopting sdlife
// costs it no fx, dig, zap or multierr.
func TestPlainBinaryLinksNoUber(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "example.com/adoption/cmd/plain").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	linksSdlife := false
	for _, d := range deps {
		if strings.HasPrefix(d, "go.uber.org/") {
			t.Errorf("the plain app links %s", d)
		}
		linksSdlife = linksSdlife || d == "github.com/sdlife/sdlife"
	}
	if !linksSdlife {
		t.Fatalf("github.com/sdlife/sdlife is not among the dependencies: the check sees nothing:\n%s", out)
	}
}
