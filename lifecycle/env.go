package lifecycle

import "os"

// Environment is a snapshot of the variables the service manager passes to
// a service. The zero value describes a process that does not run under a
// service manager; a non-empty NotifySocket means it runs under one.
//
// Read it once with [ReadEnvironment] and pass it on; tests construct it
// directly.
type Environment struct {
	NotifySocket  string // $NOTIFY_SOCKET: where notifications go.
	WatchdogUSec  string // $WATCHDOG_USEC: watchdog interval in microseconds.
	WatchdogPID   string // $WATCHDOG_PID: the process the watchdog is meant for.
	ListenPID     string // $LISTEN_PID: the process the passed descriptors are meant for.
	ListenFDs     string // $LISTEN_FDS: number of passed descriptors, starting at fd 3.
	ListenFDNames string // $LISTEN_FDNAMES: colon-separated names of the passed descriptors.
	FDStore       string // $FDSTORE: the fd store's size (systemd >= 254).

	// MemoryPressureWatch is $MEMORY_PRESSURE_WATCH: the file, FIFO or
	// socket to watch for memory pressure (MemoryPressureWatch=, systemd
	// >= 254). MemoryPressureWrite is $MEMORY_PRESSURE_WRITE: base64 data
	// to write to it after opening, usually the PSI trigger.
	MemoryPressureWatch string
	MemoryPressureWrite string

	// JournalStream is $JOURNAL_STREAM: "DEVICE:INODE" of the stream the
	// journal gave the service as stdout or stderr.
	JournalStream string

	// PID is the process's own ID, compared with LISTEN_PID and
	// WATCHDOG_PID. ReadEnvironment sets it to os.Getpid().
	PID int
}

// ReadEnvironment reads the service-manager variables of the current
// process. Call it once, early, and pass the result on.
func ReadEnvironment() Environment {
	return Environment{
		NotifySocket:  os.Getenv("NOTIFY_SOCKET"),
		WatchdogUSec:  os.Getenv("WATCHDOG_USEC"),
		WatchdogPID:   os.Getenv("WATCHDOG_PID"),
		ListenPID:     os.Getenv("LISTEN_PID"),
		ListenFDs:     os.Getenv("LISTEN_FDS"),
		ListenFDNames: os.Getenv("LISTEN_FDNAMES"),
		FDStore:       os.Getenv("FDSTORE"),

		MemoryPressureWatch: os.Getenv("MEMORY_PRESSURE_WATCH"),
		MemoryPressureWrite: os.Getenv("MEMORY_PRESSURE_WRITE"),
		JournalStream:       os.Getenv("JOURNAL_STREAM"),
		PID:                 os.Getpid(),
	}
}
