//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"sync"
)

var resultsMu sync.Mutex

// recordResult appends one line under a section to $SDLIFE_E2E_RESULTS, the
// raw material of e2e/RESULTS.md. Without that variable it does nothing.
func recordResult(section, format string, args ...any) {
	if resultsFile == "" {
		return
	}
	resultsMu.Lock()
	defer resultsMu.Unlock()
	f, err := os.OpenFile(resultsFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: results:", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "[%s] %s\n", section, fmt.Sprintf(format, args...))
}
