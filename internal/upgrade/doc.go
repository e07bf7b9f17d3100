// Package upgrade is the mechanism of an upgrade without a stall: the
// running process (the old one) starts the binary at the path ExecStart=
// names beside itself, hands it the listener and the idle connections,
// waits until it is ready, and only then makes it the unit's main
// process, in the notification that completes the reload. A new binary
// that cannot serve never goes live: it is stopped, and the old process
// says why.
//
// # The old process
//
//	if replaced, err := upgrade.Replaced(os.Args[0]); err != nil { // STATUS=err.Error()
//	} else if replaced {
//		child, err := upgrade.Start(ctx, upgrade.Config{Path: os.Args[0], Args: os.Args[1:],
//			Manager: env, Files: files, OnExtend: extend})
//		if err != nil { /* keep serving; STATUS=err.Error(); READY=1 */ }
//		if err := child.HandOver(notifier); err != nil { ... }
//		// no longer the main process: drain, send nothing, exit
//	}
//
// Start runs the binary through /bin/sh -c 'export LISTEN_PID=$$
// [WATCHDOG_PID=$$]; exec "$0" "$@"', so that the variables equal the new
// process's own PID, which os/exec cannot know before the exec: any
// implementation of socket activation in the new binary accepts them.
// The descriptors are duplicated with F_DUPFD_CLOEXEC through SyscallConn
// (never (*os.File).Fd, which would switch the shared listener to
// blocking mode) and passed with syscall.StartProcess. The last one,
// named ChannelName, is one end of a SOCK_SEQPACKET socketpair: the
// private channel. The manager's $NOTIFY_SOCKET goes to the new process
// under another name, so that a binary that knows nothing of upgrades
// cannot reach the manager (under NotifyAccess=all its READY=1 or
// STOPPING=1 would act on the unit); such a binary times out and is
// stopped.
//
// The new process's exit is noticed as the end of the channel and its
// status read with waitid(WNOWAIT) before it is reaped, so that no
// signal can reach a process that reused its PID. A new process that is
// handed the service is not reaped: when the old one exits, PID 1
// inherits it and sees its exit. The hand-over is one datagram from the
// old (main) process: MAINPID=, MAINPIDFD=1 with a pidfd (systemd 257
// and later; older versions ignore it and close the descriptor), READY=1
// (which ends the Type=notify-reload reload: PID 1 applies MAINPID=
// first) and WATCHDOG=1 (a full interval for the new process's first
// ping). PID 1 reads its socket in order, so the new process's own
// messages, sent after it hears of the adoption, come after it.
//
// # The new process
//
//	env := lifecycle.ReadEnvironment()
//	files, err := lifecycle.TakeFiles(env)
//	j, err := upgrade.Join(env, files) // nil, nil: not an upgrade
//	if j != nil {
//		env = j.Environment() // build the Notifier from this
//		defer j.Close()
//	}
//	// start as usual, send READY=1, then, before serving anything:
//	if err := j.Wait(ctx); err != nil { exit non-zero }
//
// Join runs a relay: the process's Notifier sends to an abstract datagram
// socket of its own, and the relay forwards what this process (checked
// by SO_PASSCRED) sent: to the old process until READY=1, to the
// manager after the adoption. Between the two it keeps only the last
// STATUS=, replayed on adoption, because a unix socket closed with unread
// data resets its peer before the data still queued. Barriers before the
// adoption are answered by the relay; descriptors sent before it
// (FDSTORE=1) are closed. When the old process goes away before the
// adoption, Wait returns ErrAbandoned; nobody will adopt the process, and
// when the old process was the main process PID 1 is stopping the unit
// anyway.
//
// # Correctness notes for the integration
//
//   - The old process sends nothing to the manager after HandOver: no
//     STOPPING=1 (under NotifyAccess=all it would stop the new main
//     process), no STATUS=, no watchdog pings, no FDSTORE=; close its
//     Notifier. It drains and exits; it must not reap the new process.
//   - The new process serves nothing before Wait returns nil: not the
//     listener (a connection it accepts and then dies with is lost) and
//     not the idle connections (the old process has parked them and still
//     holds them; if the upgrade fails it serves them again). The old
//     process keeps accepting until HandOver, the new one accepts from
//     Wait on: no connection waits longer than the hand-over's few
//     system calls.
//   - The fd store is the unit's: the listener the old process stored is
//     the socket handed over, and PID 1 ignores a descriptor it already
//     stores, so the new process may store it again after the adoption
//     but need not. Idle connections are handed directly and never
//     stored; the new process's removal of their names (FDSTOREREMOVE)
//     goes to the old process before the adoption and is dropped, which
//     is right: they are not in the store.
//   - The watchdog: the old process pings until HandOver, whose
//     WATCHDOG=1 restarts the interval; the new process's pings reach
//     the manager from the adoption on (WATCHDOG_PID is its PID).
//   - Errors forwarded by the relay after the adoption (the manager's
//     socket unreachable) are not seen by the Notifier that sent to the
//     relay: its OnReachability reports the relay. A Notifier that could
//     be pointed at the channel and then at the manager (a hook in
//     lifecycle) would remove the relay; it is the natural next step.
//   - systemctl stop after an upgrade: PID 1 marks a main PID it did not
//     fork as alien (service_set_main_pidref: "not our child") and, at
//     stop, signals it but does not wait for it when nothing else of the
//     cgroup was signalled: with KillMode=mixed, or control-group with
//     the old process gone, it goes from SIGTERM to SIGKILL at once,
//     which is what the stand-in measured. Being inherited by PID 1 after
//     the old process exits does not clear the mark. The remedy is an
//     ExecStop= that signals $MAINPID and waits for it to exit (PID 1
//     waits for ExecStop= up to TimeoutStopSec=): the binary itself, e.g.
//     "ExecStop=/usr/local/bin/chi-server -stop-main $MAINPID", with a
//     pidfd (pidfd_open, pidfd_send_signal SIGTERM, poll), needs no shell
//     and works with or without an upgrade (then $MAINPID is PID 1's own
//     child). To prove in e2e, on 257 and 262: a /slow request in flight
//     across systemctl stop after an upgrade completes (200) and the
//     journal shows no SIGKILL; the same for restart; and a SIGKILL of the
//     new main process after the old one exited makes PID 1 apply
//     Restart= (it must notice the exit of its inherited child).
package upgrade
