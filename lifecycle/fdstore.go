package lifecycle

import (
	"fmt"
	"strconv"
)

// FDStoreLimit describes the manager's file descriptor store for this
// service, from $FDSTORE (systemd >= 254).
type FDStoreLimit struct {
	// Known is false when the manager did not say: systemd before 254, or
	// no manager at all. The store may still be enabled then.
	Known bool
	// Max is FileDescriptorStoreMax=; 0 means the store is disabled and
	// the manager closes whatever is sent to it.
	Max int
}

// Enabled reports whether the manager said that the store accepts
// descriptors.
func (l FDStoreLimit) Enabled() bool { return l.Known && l.Max > 0 }

// FDStoreLimit parses $FDSTORE. The manager exports it only when the store
// is enabled, so an unset variable means "unknown", not "disabled".
func (e Environment) FDStoreLimit() (FDStoreLimit, error) {
	if e.FDStore == "" {
		return FDStoreLimit{}, nil
	}
	n, err := strconv.ParseUint(e.FDStore, 10, 31)
	if err != nil {
		return FDStoreLimit{}, fmt.Errorf("lifecycle: FDSTORE %q: %w", e.FDStore, err)
	}
	return FDStoreLimit{Known: true, Max: int(n)}, nil
}
