package lifecycle

// For this package's external tests.
var (
	ErrClosed     = errClosed
	ErrFilesTaken = errFilesTaken
)

// MaxStatusLen is the longest ASCII text Status accepts.
const MaxStatusLen = maxStatusLen

// WatcherDone is closed when w has stopped.
func WatcherDone(w *MemoryPressureWatcher) <-chan struct{} { return w.doneChan() }
