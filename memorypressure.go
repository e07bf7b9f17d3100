package sdlife

import (
	"context"
	"errors"
	"runtime/debug"
	"time"

	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

// MemoryReleaser is a part of the application that can give memory back
// when the system runs short (drop a cache, shrink a pool). The Service
// calls every MemoryReleaser when the manager reports memory pressure
// (MemoryPressureWatch=, systemd >= 254), after it returned the Go heap's
// free memory to the kernel.
type MemoryReleaser interface {
	ReleaseMemory(ctx context.Context) error
}

// ReleaseMemoryFunc makes a function a MemoryReleaser.
type ReleaseMemoryFunc func(ctx context.Context) error

// ReleaseMemory calls f.
func (f ReleaseMemoryFunc) ReleaseMemory(ctx context.Context) error { return f(ctx) }

var _ MemoryReleaser = ReleaseMemoryFunc(nil)

// Defaults for the memory pressure reaction.
const (
	// defaultMemoryPressureInterval is Options.MemoryPressureInterval's
	// default.
	defaultMemoryPressureInterval = 5 * time.Second
	// memoryPressureNote is how long STATUS= says "memory pressure" after
	// the last reaction.
	memoryPressureNote = 10 * time.Second
)

// AddMemoryReleaser registers r to run on memory pressure, after the
// releasers added before it.
func (s *Service) AddMemoryReleaser(r MemoryReleaser) {
	if r == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releasers = append(s.releasers, r)
}

// watchMemoryPressure arms the manager's memory pressure watch, when it
// gave one. A watch that cannot be armed (a bad path, a file the service
// may not write, a socket that refuses) is logged; the service runs on
// without it.
func (s *Service) watchMemoryPressure() {
	mp, err := s.env.MemoryPressure()
	if err == nil && mp.Path == "" {
		return
	}
	if err == nil {
		s.pressure, err = lifecycle.WatchMemoryPressure(s.runCtx, mp, s.onMemoryPressure)
	}
	if err != nil {
		s.log.Warn("sdlife: memory pressure watch not armed; running without it", "err", err)
		return
	}
	s.log.Info("sdlife: memory pressure watch armed", "path", mp.Path, "kind", sdwire.WatcherKind(s.pressure))
}

// onMemoryPressure is the reaction to one event, on the watcher's
// goroutine: at most once per Options.MemoryPressureInterval, the Go
// heap's free memory goes back to the kernel, the MemoryReleasers run,
// and STATUS= says "memory pressure" until memoryPressureNote after the
// last reaction.
func (s *Service) onMemoryPressure() {
	now := time.Now()
	s.mu.Lock()
	if !s.lastPressure.IsZero() && now.Sub(s.lastPressure) < s.opts.memoryPressureInterval() {
		s.mu.Unlock()
		s.log.Debug("sdlife: memory pressure again; rate-limited")
		return
	}
	s.lastPressure = now
	releasers := append([]MemoryReleaser(nil), s.releasers...)
	s.mu.Unlock()
	s.setNoteFor(notePressure, "memory pressure", memoryPressureNote)
	s.status.Flush()

	s.log.Warn("sdlife: memory pressure: releasing memory", "releasers", len(releasers))
	debug.FreeOSMemory()
	var errs []error
	for _, r := range releasers {
		if err := r.ReleaseMemory(s.runCtx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		s.log.Error("sdlife: releasing memory", "err", err)
	}
}

// stopMemoryPressure stops the watch.
func (s *Service) stopMemoryPressure() error {
	s.mu.Lock()
	w := s.pressure
	s.mu.Unlock()
	return w.Close()
}
