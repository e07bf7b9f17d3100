//go:build !linux

package lifecycle

import "context"

// MemoryPressureWatcher is an armed memory pressure watch; it needs Linux.
type MemoryPressureWatcher struct{ source memoryPressureSource }

func watchMemoryPressure(_ context.Context, mp MemoryPressure, _ func(), _ func(int) error) (*MemoryPressureWatcher, error) {
	if mp.Path == "" {
		return nil, nil
	}
	return nil, ErrUnsupported
}

func isPSIFilesystem(int) error { return ErrUnsupported }

// doneChan is nil: there is never a watch to stop.
func (*MemoryPressureWatcher) doneChan() <-chan struct{} { return nil }

// Err is always nil.
func (*MemoryPressureWatcher) Err() error { return nil }

// Close is a no-op.
func (*MemoryPressureWatcher) Close() error { return nil }
