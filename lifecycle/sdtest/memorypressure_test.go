package sdtest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

func TestMemoryPressureThroughFIFO(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		opts := []sdtest.Option{sdtest.WithMemoryPressure()}
		if abstract {
			opts = append(opts, sdtest.WithAbstractSocket())
		}
		m := sdtest.NewManager(t, opts...)
		mp, err := m.Environment().MemoryPressure()
		if err != nil || mp.Path == "" {
			t.Fatalf("MemoryPressure() = %+v, %v; want an enabled watch", mp, err)
		}
		events := make(chan struct{}, 4)
		w, err := lifecycle.WatchMemoryPressure(context.Background(), mp, func() { events <- struct{}{} })
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			// The documented way to signal: a byte written to the FIFO.
			if err := os.WriteFile(m.Environment().MemoryPressureWatch, []byte{1}, 0); err != nil {
				t.Fatal(err)
			}
			select {
			case <-events:
			case <-time.After(10 * time.Second):
				t.Fatal("no event within 10s")
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNoMemoryPressureWithoutOption(t *testing.T) {
	m := sdtest.NewManager(t)
	if env := m.Environment(); env.MemoryPressureWatch != "" {
		t.Fatalf("MEMORY_PRESSURE_WATCH = %q without WithMemoryPressure", env.MemoryPressureWatch)
	}
}
