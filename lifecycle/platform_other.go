//go:build !linux

package lifecycle

import (
	"context"
	"os"
	"syscall"
)

// On platforms without the protocol, a Notifier can only be disabled (an
// unset $NOTIFY_SOCKET), so the transport is never used to send.
const platformSupported = false

type transport struct{}

func newTransport() transport                        { return transport{} }
func (*transport) close() error                      { return nil }
func (*transport) send(address, []byte, []int) error { return ErrUnsupported }

func (n *Notifier) barrier(context.Context) (bool, error) { return false, ErrUnsupported }

func monotonicUsec() (uint64, error) { return 0, ErrUnsupported }

func dupAll([]syscall.Conn) ([]int, error) { return nil, ErrUnsupported }
func closeAll([]int)                       {}

func unsetListenEnv()                {}
func adoptFDs(int, int) (int, error) { return 0, ErrUnsupported }
func closeFDRange(int, int)          {}
func checkListening(*os.File) error  { return ErrUnsupported }
