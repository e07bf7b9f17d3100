//go:build linux

package upgrade

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Replaced reports whether the file at path, the binary ExecStart= names,
// is another file than the one this process runs: whether a reload should
// be an upgrade. The comparison is by device and inode, of path after its
// symbolic links (a release switched by a symlink counts) against the
// running executable (/proc/self/exe, which still works when the running
// file was deleted or renamed over). Installing a new binary by rename, as
// install(1) and mv(1) do, gives it a new inode; copying over the running
// file in place is refused by the kernel (ETXTBSY).
//
// path must be absolute. A path that is missing, not a regular file or not
// executable by this process is an *Error, whatever the running binary
// is: a reload that finds it so should report the failed upgrade, not
// quietly reload the configuration.
func Replaced(path string) (bool, error) {
	st, err := checkBinary(path)
	if err != nil {
		return false, err
	}
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &self); err != nil {
		return false, &Error{Why: fmt.Sprintf("cannot find the running binary: stat /proc/self/exe: %v", err), Err: err}
	}
	return st.Dev != self.Dev || st.Ino != self.Ino, nil
}

// checkBinary checks that path names an executable regular file and
// returns its stat, so that a bad path is reported before anything is
// started, in an operator's words.
func checkBinary(path string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if !filepath.IsAbs(path) {
		return st, &Error{Why: fmt.Sprintf("binary path %q is not absolute", path)}
	}
	if err := unix.Stat(path, &st); err != nil {
		why := fmt.Sprintf("%s: %v", path, err)
		if errors.Is(err, unix.ENOENT) {
			why = path + ": no such file"
			err = fs.ErrNotExist
		}
		return st, &Error{Why: why, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return st, &Error{Why: fmt.Sprintf("%s: not a regular file (mode %v)", path, fs.FileMode(st.Mode&0o777)|typeBits(st.Mode))}
	}
	// faccessat2 with AT_EACCESS asks the kernel with the effective IDs,
	// as execve will; a noexec mount still shows up only at exec.
	if err := unix.Faccessat(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS); err != nil {
		return st, &Error{Why: fmt.Sprintf("%s: not executable (mode %v): %v", path, fs.FileMode(st.Mode&0o777), err), Err: fs.ErrPermission}
	}
	return st, nil
}

// typeBits maps a stat mode's file type to fs.FileMode's, for messages.
func typeBits(mode uint32) fs.FileMode {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return 0
}
