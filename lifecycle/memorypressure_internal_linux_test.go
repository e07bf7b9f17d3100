//go:build linux

package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A regular temporary file stands in for a PSI file (the file system check
// is replaced): it shows what is written, and when. Real POLLPRI needs a
// real PSI file; TestWatchMemoryPressureRealPSI arms one.
func TestWatchMemoryPressureWritesTriggerBeforeArming(t *testing.T) {
	tests := []struct {
		name    string
		trigger []byte
		want    string
	}{
		{name: "from MEMORY_PRESSURE_WRITE", trigger: []byte("full 100000 2000000\x00"), want: "full 100000 2000000\x00"},
		{name: "default when unset", trigger: nil, want: defaultMemoryPressureTrigger},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "memory.pressure")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			anyFS := func(int) error { return nil }
			w, err := watchMemoryPressure(context.Background(), MemoryPressure{Path: path, Trigger: tt.trigger}, func() {}, anyFS)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			// Read as soon as the watch is armed: the trigger is already there.
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("file holds %q once armed, want %q", got, tt.want)
			}
			if w.source != sourcePSI {
				t.Fatalf("source = %v, want psi", w.source)
			}
		})
	}
}
