//go:build linux

package lifecycle_test

import (
	"context"
	"fmt"
	"net"

	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// A service announces readiness and its status, stores its listener for
// the next start and, before exiting, waits until the manager has seen it
// all. The fake manager from sdtest stands in for systemd.
func ExampleNotifier() {
	m := sdtest.NewManager(nil, sdtest.WithFDStore(1)) // in a test: sdtest.NewManager(t, ...)
	defer m.Close()
	env := m.Environment() // in a service: lifecycle.ReadEnvironment()

	n, err := lifecycle.NewNotifier(env)
	if err != nil {
		panic(err)
	}
	defer n.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()

	n.FDStoreNoPoll("http", l.(*net.TCPListener))
	n.Ready()
	n.Status("Serving: 0 requests")
	n.Stopping()
	n.Barrier(context.Background())

	for _, msg := range m.Messages() {
		fmt.Printf("%q (%d fds)\n", msg.Raw, msg.NumFDs)
	}
	// Output:
	// "FDSTORE=1\nFDNAME=http\nFDPOLL=0" (1 fds)
	// "READY=1" (0 fds)
	// "STATUS=Serving: 0 requests" (0 fds)
	// "STOPPING=1" (0 fds)
	// "BARRIER=1" (1 fds)
}
