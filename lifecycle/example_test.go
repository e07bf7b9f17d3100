package lifecycle_test

import (
	"fmt"

	"github.com/sdlife/sdlife/lifecycle"
)

// Without a service manager every call is a cheap no-op that says so.
func ExampleNotifier_unsupervised() {
	n, err := lifecycle.NewNotifier(lifecycle.Environment{}) // $NOTIFY_SOCKET unset
	if err != nil {
		panic(err)
	}
	sent, err := n.Ready()
	fmt.Println(sent, err)
	// Output: false <nil>
}
