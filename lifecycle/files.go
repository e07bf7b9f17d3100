package lifecycle

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sdlife/sdlife/internal/sdwire"
)

// listenFDsStart is the first descriptor the manager passes (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// maxListenFDs bounds $LISTEN_FDS to something a process can plausibly
// hold, so a corrupt value is an error instead of a long loop.
const maxListenFDs = 1 << 16

// unknownFDName is what the manager's protocol says to assume for a
// descriptor it did not name.
const unknownFDName = "unknown"

// Files is the set of descriptors the manager passed to this process,
// through socket activation or back from the fd store, in $LISTEN_FDS
// order. Each is claimed once, by name; Close closes what nobody claimed,
// so no descriptor leaks. A Files is safe for concurrent use, and a nil
// *Files holds nothing.
type Files struct {
	mu      sync.Mutex
	entries []NamedFile // File is nil once claimed
}

// NamedFile is a descriptor with the name the manager knows it by.
type NamedFile struct {
	Name string
	File *os.File
}

// NewFiles returns a Files holding files, in order, which it now owns. It
// is for tests and for handing descriptors over inside one process;
// services get theirs from TakeFiles. NewFiles() is an empty set.
func NewFiles(files ...NamedFile) *Files {
	return &Files{entries: append([]NamedFile(nil), files...)}
}

// filesTaken guards the one-time act of taking the process's passed
// descriptors.
var filesTaken atomic.Bool

// TakeFiles takes ownership of the descriptors the manager passed to this
// process ($LISTEN_PID, $LISTEN_FDS, $LISTEN_FDNAMES). It marks them
// close-on-exec and removes the three variables from the process
// environment so that children do not inherit them.
//
// Without the variables, or when $LISTEN_PID names another process, the
// result is empty. Malformed variables, or a descriptor that is not open,
// are errors. A passed descriptor must be open and must not be
// close-on-exec (exec would have closed it, so such a descriptor was opened
// by this process, and $LISTEN_FDS overstates the count). On error the
// descriptors that were provably passed are closed, since nobody could
// claim them. Descriptors can be taken only once per process: a second call that
// finds them returns an error.
func TakeFiles(env Environment) (*Files, error) {
	if env.ListenPID != "" || env.ListenFDs != "" {
		unsetListenEnv()
	}
	n, names, err := parseListenEnv(env)
	if n == 0 {
		if err != nil {
			return nil, err
		}
		return &Files{}, nil
	}
	if !filesTaken.CompareAndSwap(false, true) {
		return nil, errFilesTaken
	}
	inherited, adoptErr := adoptFDs(listenFDsStart, n)
	if err == nil {
		err = adoptErr
	}
	if err != nil {
		// Close what was provably inherited: nobody could claim it. A
		// descriptor that failed the check is left alone, as it may
		// belong to this process (the count was wrong).
		closeFDRange(listenFDsStart, inherited)
		return nil, err
	}
	files := &Files{entries: make([]NamedFile, n)}
	for i := range files.entries {
		fd := listenFDsStart + i
		files.entries[i] = NamedFile{Name: names[i], File: os.NewFile(uintptr(fd), names[i])}
	}
	return files, nil
}

// parseListenEnv decides how many descriptors were passed to this process
// and what they are called. n is 0 when there are none for us. When the
// variables are addressed to us but malformed, n is still the count (if it
// could be read) so that the caller can close the descriptors.
func parseListenEnv(env Environment) (n int, names []string, err error) {
	if env.ListenPID == "" || env.ListenFDs == "" {
		return 0, nil, nil // half a handover is no handover, as in sd_listen_fds
	}
	pid, err := parsePID("LISTEN_PID", env.ListenPID)
	if err != nil {
		return 0, nil, err
	}
	if pid != env.PID {
		return 0, nil, nil
	}
	count, err := strconv.ParseUint(env.ListenFDs, 10, 31)
	if err != nil || count > maxListenFDs {
		return 0, nil, fmt.Errorf("lifecycle: LISTEN_FDS %q: want a count of at most %d", env.ListenFDs, maxListenFDs)
	}
	n = int(count)
	if n == 0 {
		return 0, nil, nil
	}
	names, err = parseFDNames(env.ListenFDNames, n)
	return n, names, err
}

// parseFDNames splits $LISTEN_FDNAMES; unset means every descriptor is
// "unknown".
func parseFDNames(s string, n int) ([]string, error) {
	names := make([]string, n)
	if s == "" {
		for i := range names {
			names[i] = unknownFDName
		}
		return names, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) != n {
		return nil, fmt.Errorf("lifecycle: LISTEN_FDNAMES has %d names for %d descriptors", len(parts), n)
	}
	for i, p := range parts {
		if !sdwire.ValidFDName(p) {
			return nil, fmt.Errorf("lifecycle: LISTEN_FDNAMES: invalid descriptor name %d %q: want 1-255 printable ASCII characters without ':'", i, p)
		}
		names[i] = p
	}
	return names, nil
}

// Names returns the names of the unclaimed descriptors, in order; a name
// appears once per descriptor that carries it.
func (f *Files) Names() []string {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for _, e := range f.entries {
		if e.File != nil {
			names = append(names, e.Name)
		}
	}
	return names
}

// File claims the first unclaimed descriptor named name and returns it as
// an *os.File, which the caller now owns: any kind of descriptor, such as
// a datagram socket for net.FilePacketConn. It returns ErrNotFound when
// there is none.
func (f *Files) File(name string) (*os.File, error) {
	return f.claim(name)
}

// Listener claims the first unclaimed descriptor named name and returns it
// as a net.Listener. It must be a listening stream socket (TCP or unix);
// otherwise the descriptor stays unclaimed and an error is returned.
func (f *Files) Listener(name string) (net.Listener, error) {
	var l net.Listener
	err := f.convert(name, func(file *os.File) (err error) {
		if err := checkListening(file); err != nil {
			return err
		}
		l, err = net.FileListener(file)
		return err
	})
	return l, err
}

// Listeners claims every unclaimed descriptor named name as a listener,
// for units with several ListenStream= lines under one name. It claims
// nothing if any of them is not a listening socket.
func (f *Files) Listeners(name string) ([]net.Listener, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var idx []int
	for i, e := range f.entries {
		if e.File != nil && e.Name == name {
			if err := checkListening(e.File); err != nil {
				return nil, fmt.Errorf("lifecycle: descriptor %q (#%d): %w", name, i, err)
			}
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	ls := make([]net.Listener, 0, len(idx))
	for _, i := range idx {
		l, err := net.FileListener(f.entries[i].File)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("lifecycle: descriptor %q: %w", name, err)
		}
		ls = append(ls, l)
	}
	for _, i := range idx {
		f.entries[i].File.Close() // the listener holds its own duplicate
		f.entries[i].File = nil
	}
	return ls, nil
}

// convert runs fn on the first unclaimed descriptor named name; when fn
// succeeds the descriptor is claimed and closed (fn made its own copy).
func (f *Files) convert(name string, fn func(*os.File) error) error {
	if f == nil {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, e := range f.entries {
		if e.File == nil || e.Name != name {
			continue
		}
		if err := fn(e.File); err != nil {
			return fmt.Errorf("lifecycle: descriptor %q: %w", name, err)
		}
		e.File.Close()
		f.entries[i].File = nil
		return nil
	}
	return fmt.Errorf("%w: %q", ErrNotFound, name)
}

func (f *Files) claim(name string) (*os.File, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, e := range f.entries {
		if e.File != nil && e.Name == name {
			f.entries[i].File = nil
			return e.File, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
}

// Close closes every descriptor nobody claimed. Claimed ones belong to
// their claimers and are not touched.
func (f *Files) Close() error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for i, e := range f.entries {
		if e.File != nil {
			errs = append(errs, e.File.Close())
			f.entries[i].File = nil
		}
	}
	return errors.Join(errs...)
}
