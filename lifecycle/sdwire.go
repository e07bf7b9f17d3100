package lifecycle

import "github.com/sdlife/sdlife/internal/sdwire"

// The parts of a Notifier and a MemoryPressureWatcher that only sdlife and
// its adapters use reach them through package sdwire, not this package's
// API.
func init() {
	sdwire.NotifierOf = func(n any) sdwire.Notifier {
		nn, _ := n.(*Notifier) // anything else is treated as a nil Notifier
		return notifierView{nn}
	}
	sdwire.WatcherKind = func(w any) string {
		ww, _ := w.(*MemoryPressureWatcher)
		if ww == nil {
			return memoryPressureSource(0).String()
		}
		return ww.source.String()
	}
}

// notifierView is a Notifier as sdwire.Notifier; n may be nil.
type notifierView struct{ n *Notifier }

func (v notifierView) Enabled() bool                    { return v.n.enabled() }
func (v notifierView) Address() string                  { return v.n.address() }
func (v notifierView) OnReachability(f func(err error)) { v.n.onReachability(f) }
func (v notifierView) Reachable() bool                  { return v.n.reachable() }
