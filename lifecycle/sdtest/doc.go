// Package sdtest provides a fake service manager for tests, in the manner
// of net/http/httptest.
//
// A [Manager] is a real unixgram socket that receives notifications the way
// systemd's PID 1 does: it records every message with its descriptors and
// the sender's credentials, keeps descriptors sent with FDSTORE=1 in a fake
// fd store (and hands them back as a [lifecycle.Files], as a restart
// would), answers barriers by closing the barrier descriptor after the
// messages before it were recorded, and closes every other descriptor.
// Its [Manager.Environment] is what the code under test should be given
// instead of [lifecycle.ReadEnvironment].
//
// To check an ordering, such as "READY=1 was sent only after my listener
// accepted connections", use [WithOnMessage]: the callback runs in the
// receiving goroutine before the next message is read, so it observes the
// program at the moment the message arrived, and a Wait that returns a
// message returns after the callback ran for it.
//
// An upgrade can be driven under a Manager too: the Service's hand-over
// arrives as one message from the old process with MAINPID=<new process>
// and READY=1 (and MAINPIDFD=1 with a pidfd), after which the new
// process's messages arrive from its own PID. The Manager records them; it
// does not check NotifyAccess=.
//
// Outside a test (an example, a fixture), NewManager(nil) gives a Manager
// the caller closes.
//
// The fake needs Linux; elsewhere NewManager skips the test.
package sdtest
