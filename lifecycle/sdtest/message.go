package sdtest

import (
	"strings"
	"time"
)

// Message is one notification as the manager received it.
type Message struct {
	Seq  int       // 1-based order of arrival
	Time time.Time // when it was read
	Raw  string    // the datagram's text

	// NumFDs is how many descriptors came with the message. Descriptors
	// sent to the fd store are kept (see Manager.Stored); all others are
	// closed once the message is recorded, as PID 1 does.
	NumFDs int

	// StoreFull is set on an FDSTORE=1 message that found the fake fd
	// store full (FileDescriptorStoreMax= reached, or no WithFDStore): its
	// remaining descriptors were closed, and PID 1 would have logged
	// "Cannot store more fds than FileDescriptorStoreMax=..., closing
	// remaining.".
	StoreFull bool

	// The sender's credentials, as the kernel attached them (SO_PASSCRED).
	PID, UID, GID int
}

// Get returns the value of the last assignment to key in the message.
func (m Message) Get(key string) (value string, ok bool) {
	for _, line := range strings.Split(m.Raw, "\n") {
		if k, v, found := strings.Cut(line, "="); found && k == key {
			value, ok = v, true
		}
	}
	return value, ok
}

// has reports whether the message assigns key=value; an empty value
// matches any value.
func (m Message) has(key, value string) bool {
	v, ok := m.Get(key)
	return ok && (value == "" || v == value)
}

// Has matches messages that assign key=value, for Manager.Wait; an empty
// value matches any value. Has("READY", "1")(msg) checks one message.
func Has(key, value string) func(Message) bool {
	return func(m Message) bool { return m.has(key, value) }
}

// After restricts match to messages that arrived after the one numbered
// seq (a Message.Seq), to wait for the next READY=1 rather than the first:
// After(len(m.Messages()), match) waits for one sent from now on.
func After(seq int, match func(Message) bool) func(Message) bool {
	return func(m Message) bool { return m.Seq > seq && match(m) }
}

// StatusContains matches messages whose STATUS= contains sub, such as
// StatusContains("reload failed") or StatusContains("3 requests").
func StatusContains(sub string) func(Message) bool {
	return func(m Message) bool {
		v, ok := m.Get("STATUS")
		return ok && strings.Contains(v, sub)
	}
}
