//go:build linux

package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// MemoryPressureWatcher is an armed memory pressure watch. Stop it with
// Close; a nil watcher is a no-op.
type MemoryPressureWatcher struct {
	source memoryPressureSource
	fd     int    // the watched descriptor
	wake   [2]int // pipe: a byte on wake[1] ends the poll loop
	events int16  // POLLPRI or POLLIN

	closeOnce sync.Once
	stopOnce  sync.Once
	stopCtx   func() bool   // unregisters the context.AfterFunc
	done      chan struct{} // closed when the loop has returned
	err       error         // why the loop ended on its own; read after done
}

// isPSIFilesystem reports whether a regular file lives on procfs or
// cgroupfs, the only regular files whose POLLPRI means memory pressure.
func isPSIFilesystem(fd int) error {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return err
	}
	if sfs.Type != unix.PROC_SUPER_MAGIC && sfs.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("a regular file not on procfs or cgroupfs (filesystem magic %#x), so not a PSI file", uint64(sfs.Type))
	}
	return nil
}

func watchMemoryPressure(ctx context.Context, mp MemoryPressure, fn func(), psiFS func(int) error) (*MemoryPressureWatcher, error) {
	if mp.Path == "" {
		return nil, nil
	}
	if fn == nil {
		return nil, errors.New("lifecycle: memory pressure: nil callback")
	}
	w := &MemoryPressureWatcher{fd: -1, wake: [2]int{-1, -1}, done: make(chan struct{})}
	filter, err := w.arm(mp, psiFS)
	if err != nil {
		w.closeFDs()
		return nil, fmt.Errorf("lifecycle: memory pressure %s: %w", mp.Path, err)
	}
	if err := unix.Pipe2(w.wake[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		w.closeFDs()
		return nil, fmt.Errorf("lifecycle: memory pressure: wake pipe: %w", err)
	}
	go w.loop(fn, filter)
	w.stopCtx = context.AfterFunc(ctx, w.stop)
	return w, nil
}

// arm opens the watch, writes the trigger and, for a PSI file, reads the
// baseline for the spurious-event filter (before the trigger exists).
func (w *MemoryPressureWatcher) arm(mp MemoryPressure, psiFS func(int) error) (psiFilter, error) {
	pathFD, err := unix.Open(mp.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return psiFilter{}, err
	}
	defer unix.Close(pathFD)
	var st unix.Stat_t
	if err := unix.Fstat(pathFD, &st); err != nil {
		return psiFilter{}, err
	}
	trigger := mp.Trigger
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		w.source, w.events = sourceSocket, unix.POLLIN
		if w.fd, err = connectStream(mp.Path, pathFD); err != nil {
			return psiFilter{}, err
		}
	case unix.S_IFREG:
		w.source, w.events = sourcePSI, unix.POLLPRI
		if trigger == nil {
			trigger = []byte(defaultMemoryPressureTrigger)
		}
		if w.fd, err = reopen(pathFD, unix.O_RDWR); err != nil {
			return psiFilter{}, err
		}
		if err := psiFS(w.fd); err != nil {
			return psiFilter{}, err
		}
	case unix.S_IFIFO:
		// Read-write even without a trigger: holding a write end keeps the
		// FIFO from reporting POLLHUP forever once a writer has come and
		// gone, so any number of writers can signal in turn.
		w.source, w.events = sourceFIFO, unix.POLLIN
		if w.fd, err = reopen(pathFD, unix.O_RDWR); err != nil {
			return psiFilter{}, err
		}
	case unix.S_IFCHR:
		w.source, w.events = sourceCharDevice, unix.POLLIN
		mode := unix.O_RDONLY
		if trigger != nil {
			mode = unix.O_RDWR
		}
		if w.fd, err = reopen(pathFD, mode); err != nil {
			return psiFilter{}, err
		}
	case unix.S_IFDIR:
		return psiFilter{}, unix.EISDIR
	default:
		return psiFilter{}, fmt.Errorf("unsupported file type %#o", st.Mode&unix.S_IFMT)
	}

	var filter psiFilter
	if w.source == sourcePSI {
		var buf [256]byte
		n, err := unix.Pread(w.fd, buf[:], 0)
		if err != nil {
			return psiFilter{}, fmt.Errorf("read: %w", err)
		}
		filter = newPSIFilter(trigger, buf[:n])
	}
	if len(trigger) > 0 {
		if err := writeAll(w.fd, trigger); err != nil {
			return psiFilter{}, fmt.Errorf("write trigger: %w", err)
		}
	}
	if w.source == sourceFIFO && len(trigger) > 0 {
		// The trigger went into the FIFO we also read: take it back out so
		// it is not mistaken for an event.
		discard(w.fd, len(trigger))
	}
	return filter, nil
}

// reopen opens the file pathFD refers to with mode, through /proc so the
// file opened is the one whose type was checked.
func reopen(pathFD, mode int) (int, error) {
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pathFD), mode|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return -1, fmt.Errorf("open: %w", err)
	}
	return fd, nil
}

// connectStream connects a unix stream socket to path; a path too long for
// sun_path is reached through the O_PATH descriptor in /proc, as
// libsystemd does.
func connectStream(path string, pathFD int) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if len(path) >= maxUnixPath {
		path = "/proc/self/fd/" + strconv.Itoa(pathFD)
	}
	// A blocking connect: on a unix socket it completes or fails at once,
	// except when the listener's backlog is full, where it waits for room.
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("socket: %w", err)
	}
	return fd, nil
}

// writeAll writes b, waiting for room when the descriptor is full.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			if _, err := unix.Poll(fds, -1); err != nil && err != unix.EINTR {
				return err
			}
			continue
		case err != nil:
			return err
		case n == 0:
			return unix.EIO
		}
		b = b[n:]
	}
	return nil
}

// discard reads and drops up to n queued bytes without blocking.
func discard(fd, n int) {
	var buf [512]byte
	for n > 0 {
		m, err := unix.Read(fd, buf[:min(n, len(buf))])
		if err == unix.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			return
		}
		n -= m
	}
}

// loop polls the watch and the wake pipe until woken or the watch fails.
func (w *MemoryPressureWatcher) loop(fn func(), filter psiFilter) {
	defer close(w.done)
	fds := []unix.PollFd{
		{Fd: int32(w.fd), Events: w.events},
		{Fd: int32(w.wake[0]), Events: unix.POLLIN},
	}
	var buf [4096]byte // PIPE_BUF: one read empties what a writer sent at once
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			w.err = fmt.Errorf("lifecycle: memory pressure: poll: %w", err)
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		re := fds[0].Revents
		if re&w.events == 0 {
			if re&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
				w.err = fmt.Errorf("lifecycle: memory pressure: %s watch failed (poll events %#x)", w.source, re)
				return
			}
			continue
		}
		if w.source == sourcePSI {
			n, err := unix.Pread(w.fd, buf[:], 0)
			if err != nil {
				n = 0
			}
			if !filter.accept(buf[:n]) {
				continue
			}
		} else {
			n, err := unix.Read(w.fd, buf[:])
			if err == nil && n == 0 {
				w.err = fmt.Errorf("lifecycle: memory pressure: %s watch closed by its peer", w.source)
				return
			}
			if err != nil && err != unix.EAGAIN && err != unix.EINTR {
				w.err = fmt.Errorf("lifecycle: memory pressure: read: %w", err)
				return
			}
		}
		fn()
	}
}

// stop wakes the loop; it is safe to call more than once.
func (w *MemoryPressureWatcher) stop() {
	w.stopOnce.Do(func() {
		_, _ = unix.Write(w.wake[1], []byte{0})
	})
}

// doneChan is closed when the watch has stopped: after Close, after the
// context passed to WatchMemoryPressure is done, or when the watch failed.
func (w *MemoryPressureWatcher) doneChan() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.done
}

// Err reports why the watch stopped on its own (the socket peer went away,
// the cgroup was removed); it is nil while the watch runs and when it was
// stopped by Close or its context. After such a failure fn is not called
// again; Close still releases the descriptors.
func (w *MemoryPressureWatcher) Err() error {
	if w == nil {
		return nil
	}
	select {
	case <-w.done:
		return w.err
	default:
		return nil
	}
}

// Close stops the watch, waits for the goroutine calling fn to return and
// releases the descriptors. Do not call it from fn.
func (w *MemoryPressureWatcher) Close() error {
	if w == nil {
		return nil
	}
	w.closeOnce.Do(func() {
		w.stopCtx()
		w.stop()
		<-w.done
		w.closeFDs()
	})
	return nil
}

func (w *MemoryPressureWatcher) closeFDs() {
	for _, fd := range []int{w.fd, w.wake[0], w.wake[1]} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}
