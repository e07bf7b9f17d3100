package main

// mutations is the fixed table: each entry breaks one promise the
// library makes, and the tests of its packages must notice. Old texts are
// exact (tabs included) and must occur once in their file, so that a
// change to the code makes the table fail loudly instead of testing
// nothing. Keep entries small and meaningful: each must break behaviour a
// user relies on, not just change the code.
var mutations = []mutation{
	// The service core (package sdlife): the state machine, reload
	// coalescing, health and watchdog.
	{
		name: "reload: SIGHUP buffered 64, no coalescing",
		edits: []edit{
			{"service.go", "hup:       make(chan os.Signal, 1),", "hup:       make(chan os.Signal, 64),"},
			{"reload.go", "\t\t\ts.drainRequests()\n\t\t\ts.reload()", "\t\t\ts.reload()"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "reload: no drainRequests (SIGHUP+Reload run two)",
		edits: []edit{
			{"reload.go", "\t\t\ts.drainRequests()\n\t\t\ts.reload()", "\t\t\ts.reload()"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "reload: error not in STATUS",
		edits: []edit{
			{"reload.go", `s.setNoteLocked(noteReload, "reload failed: "+err.Error())`, `s.setNoteLocked(noteReload, "")`},
		},
		pkgs: []string{"./"},
	},
	{
		name: "health: watchdog pings while unhealthy",
		edits: []edit{
			{"health.go", "\tw.healthySince = time.Time{}\n\tvar b strings.Builder", "\tw.healthySince = time.Time{}\n\t_, _ = s.notifier.Watchdog()\n\tvar b strings.Builder"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "state: READY=1 allowed after STOPPING=1",
		edits: []edit{
			{"state.go", "return s == StateStarting || s == StateReloading || s == StateUpgrading\n", "return s == StateStarting || s == StateReloading || s == StateUpgrading || s == StateStopping\n"},
		},
		pkgs: []string{"./", "./fxmodule/"},
	},
	{
		name: "state: SIGTERM while starting not stopping",
		edits: []edit{
			{"reload.go", "if State(s.state.Load()) == StateStarting {", "if false {"},
		},
		pkgs: []string{"./", "./fxmodule/"},
	},

	// fxmodule: READY after the last OnStart, STOPPING before the first
	// OnStop.
	{
		name: "fx: READY before the last OnStart",
		edits: []edit{
			{"fxmodule/tracker.go", "last := t.done == t.total &&", "last := t.done+1 == t.total &&"},
		},
		pkgs: []string{"./fxmodule/"},
	},
	{
		name: "fx: STOPPING after OnStop",
		edits: []edit{
			{"fxmodule/tracker.go", "\t\tt.stop(ctx)\n\t\treturn fn(ctx)", "\t\terr := fn(ctx)\n\t\tt.stop(ctx)\n\t\treturn err"},
		},
		pkgs: []string{"./fxmodule/"},
	},

	// lifecycle: the protocol.
	{
		name: "lifecycle: RELOADING=1 without MONOTONIC_USEC",
		edits: []edit{
			{"lifecycle/notifier.go", `"RELOADING=1\nMONOTONIC_USEC="...)` + "\n\tn.buf = strconv.AppendUint(n.buf, usec, 10)", `"RELOADING=1"...)` + "\n\t_ = usec"},
		},
		pkgs: []string{"./lifecycle/", "./"},
	},
	{
		name: "lifecycle: newline let into STATUS",
		edits: []edit{
			{"internal/sdwire/text.go", "if c < 0x20 || c == 0x7f {", "if (c < 0x20 && c != '\\n') || c == 0x7f {"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "lifecycle: FDStoreNoPoll without FDPOLL=0",
		edits: []edit{
			{"lifecycle/notifier.go", `n.fdStore(name, "\nFDPOLL=0", files)`, `n.fdStore(name, "", files)`},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "lifecycle: no LISTEN_PID check",
		edits: []edit{
			{"lifecycle/files.go", "if pid != env.PID {", "if false && pid != env.PID {"},
		},
		pkgs: []string{"./lifecycle/"},
	},

	// httpadapter: counters.
	{
		name: "counters: 4xx as 2xx",
		edits: []edit{
			{"internal/status/counters.go", "\tcase rw.code != 0: // codeHijacked is ClassOther\n\t\tclass = classOf(rw.code)\n", "\tcase rw.code != 0: // codeHijacked is ClassOther\n\t\tclass = classOf(rw.code)\n\t\tif class == Class4xx {\n\t\t\tclass = Class2xx\n\t\t}\n"},
		},
		pkgs: []string{"./internal/status/"},
	},
	{
		name: "counters: 4xx as 2xx in panicking handlers",
		edits: []edit{
			{"internal/status/counters.go", "\tif !returned {\n\t\tsh.panics.Add(1)\n\t}\n", "\tif !returned {\n\t\tsh.panics.Add(1)\n\t\tif class == Class4xx {\n\t\t\tclass = Class2xx\n\t\t}\n\t}\n"},
		},
		pkgs: []string{"./internal/status/"},
	},
	{
		name: "counters: an allocation per request",
		edits: []edit{
			{"internal/status/middleware.go", "\trw := h.c.begin(w)\n", "\trw := h.c.begin(w)\n\tr = r.WithContext(r.Context())\n"},
		},
		pkgs: []string{"./internal/status/"},
	},
	{
		name: "counters: wrapper not returned to the pool",
		edits: []edit{
			{"internal/status/counters.go", "\tc.pool.Put(rw)\n", ""},
		},
		pkgs: []string{"./internal/status/"},
	},

	// httpadapter: the fd store.
	{
		name: "listen: listener stored without FDPOLL=0",
		edits: []edit{
			{"internal/httpserve/listen.go", "cfg.Notifier.FDStoreNoPoll(cfg.Name, sc)", "cfg.Notifier.FDStore(cfg.Name, sc)"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},

	// httpadapter: the drain.
	{
		name: "drain: no Connection: close",
		edits: []edit{
			{"internal/httpserve/server.go", "\t\tw.Header().Set(\"Connection\", \"close\")\n", "\t\t_ = w\n"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "drain: no idle grace",
		edits: []edit{
			{"internal/httpserve/conntrack.go", "if now.Sub(time.Unix(0, since)) < grace {", "if now.Sub(time.Unix(0, since)) < 0 {"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "drain: no pending-input guard",
		edits: []edit{
			{"internal/httpserve/conntrack.go", "if pendingInput(c) {", "if false && pendingInput(c) {"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "drain: no wait for accepted connections",
		edits: []edit{
			{"internal/httpserve/conntrack.go", "return c.New + c.Active + c.Idle }", "return c.Active + c.Idle }"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "drain: HTTP/2 waited for like HTTP/1",
		edits: []edit{
			{"internal/httpserve/conntrack.go", "\t\tcase protoHTTP2:\n\t\t\tc.HTTP2++\n\t\t\treturn true\n", "\t\tcase protoHTTP2:\n\t\t\tc.HTTP2++\n"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "drain: idle HTTP/2 closed, not GOAWAY",
		edits: []edit{
			{"internal/httpserve/conntrack.go", "if !betweenRequests(r, pc) || connProto(r.proto.Load()) == protoHTTP2 {", "if !betweenRequests(r, pc) && http.ConnState(r.state.Load()) != http.StateIdle {"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "drain: h2c not told apart from HTTP/1",
		edits: []edit{
			{"internal/httpserve/conntrack.go", "if r.ProtoMajor != 2 || r.TLS != nil {", "if r.ProtoMajor != 2 || r.TLS == nil {"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},

	// The hand-over of idle connections, the configured address, and
	// the reactions to the newest manager.
	{
		name: "park: bytes overtaking the park do not abort it",
		edits: []edit{
			{"internal/httpserve/park.go", "\t\tif c.state.Load() == parkAsked {\n\t\t\tc.abort()\n\t\t}", "\t\t_ = parkAsked"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "park: the next request's deadline does not abort it",
		edits: []edit{
			{"internal/httpserve/park.go", "\t\tif c.failed == nil && c.state.CompareAndSwap(parkAsked, parkAborted) {\n\t\t\tclose(c.released)\n\t\t}", ""},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "handover: adopted connections left in the store",
		edits: []edit{
			{"internal/httpserve/handover.go", "if _, err := cfg.Notifier.FDStoreRemove(name); err != nil {", "if _, err := cfg.Notifier.Notify(\"X_KEEP=1\"); err != nil {"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "listen: a stored listener on another address kept",
		edits: []edit{
			{"internal/httpserve/listen.go", "\told := l.Addr()\n\tl.Close()\n", "\told := l.Addr()\n\treturn fmt.Errorf(\"kept %s\", old)\n"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "health: RESTART_RESET=1 on every healthy round",
		edits: []edit{
			{"health.go", "\t\t\tw.resetSent = true\n", ""},
		},
		pkgs: []string{"./"},
	},
	{
		name: "memory pressure: no rate limit",
		edits: []edit{
			{"memorypressure.go", "now.Sub(s.lastPressure) < s.opts.memoryPressureInterval()", "now.Sub(s.lastPressure) < 0"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "handover: adopted connections not parkable again",
		edits: []edit{
			{"internal/httpserve/park.go", "\t\treturn pc != nil && pc.adopted && pc.read.Load() == 0", "\t\treturn false"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "handover: store copies dropped before READY=1",
		edits: []edit{
			{"serve.go", "Release:      httpserve.ReleaseByCaller,", "Release:      httpserve.ReleaseAtOnce,"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "drain: gone-away HTTP/2 connections wait out net/http's GOAWAY timeout",
		edits: []edit{
			{"internal/httpserve/server.go", "\t\ts.conn.finishGoneAway()\n", ""},
		},
		pkgs: []string{"./internal/httpserve/"},
	},

	// issue 16: listener
	{
		name: "listener: an unbindable address drops the stored listener",
		edits: []edit{
			{"internal/httpserve/listen.go", "\t\treturn old, SourceFDStore, bindErr, nil\n", "\t\told.Close()\n\t\treturn nil, 0, nil, bindErr\n"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "listener: the listener handed back by the fd store stored again",
		edits: []edit{
			{"internal/httpserve/listen.go", "if src == SourceBound && c.FDStore.Enabled() {", "if src != SourceActivation && c.FDStore.Enabled() {"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "listener: a moved listener stored before the old one is removed",
		edits: []edit{
			{"internal/httpserve/listen.go", "\tif bindErr == nil {\n\t\tif err := cfg.drop(old, log); err != nil {", "\tif bindErr == nil {\n\t\t_ = cfg.store(l)\n\t\tif err := cfg.drop(old, log); err != nil {"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "listener: backlog left as net.Listen set it",
		edits: []edit{
			{"internal/httpserve/listen.go", "if err := setBacklog(l, n); err != nil {", "if err := error(nil); err != nil {"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "listener: backlog set on a socket unit's listener",
		edits: []edit{
			{"internal/httpserve/listen.go", "\tif src != SourceActivation {\n\t\tres.Backlog", "\tif true {\n\t\tres.Backlog"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "listener: address check binds the served port",
		edits: []edit{
			{"internal/httpserve/addresscheck.go", "if serving != nil && samePort(serving, c.Network, c.Address) {", "if false {"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "listener: a reload leaving the failed address alone clears STATUS",
		edits: []edit{
			{"phases.go", "\tif unbound == address {", "\tif false {"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "listener: a reload accepts an unbindable listen address",
		edits: []edit{
			{"examples/chi-server/handlers.go", "if next.Listen != cur.Listen && l.checkListen != nil {", "if false {"},
		},
		pkgs: []string{"./examples/chi-server/"},
	},
	// issue 16: drain
	{
		name: "drain: connections without a complete request header never closed",
		edits: []edit{
			{"internal/httpserve/server.go", "\t\theaderless += s.conn.closeHeaderless(now, start, s.cfg.HeaderGrace, s.cfg.IdleGrace)\n", ""},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "drain: partial-header connections closed at the drain's start, no HeaderGrace",
		edits: []edit{
			{"internal/httpserve/conntrack.go", "return since >= headerGrace || quiet >= headerGrace", "return since >= 0 || quiet >= headerGrace"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "drain: silent new connections closed at the drain's start, no IdleGrace",
		edits: []edit{
			{"internal/httpserve/conntrack.go", "\treturn since >= idleGrace\n", "\treturn true\n"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "drain: quiet partial-header connections wait for the whole HeaderGrace",
		edits: []edit{
			{"internal/httpserve/conntrack.go", "since >= headerGrace || quiet >= headerGrace", "since >= headerGrace || quiet < 0"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "drain: headerless connections closed with request bytes waiting",
		edits: []edit{
			{"internal/httpserve/conntrack.go", "\t\tcase pendingInput(c):", "\t\tcase false:"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "drain: a proxy pool's connection never parked after its background read took a byte",
		edits: []edit{
			{"internal/httpserve/park.go", "\t\tc.pipeline.Store(false)\n", ""},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "drain: parked while net/http holds the next request's first byte",
		edits: []edit{
			{"internal/httpserve/park.go", "\tc.read.Store(0)\n\tc.phase.Store(phaseIdle)", "\tc.read.Store(0)\n\tc.pipeline.Store(false)\n\tc.phase.Store(phaseIdle)"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},

	// issue 16: audit rows
	//
	// The protocol encoding (lifecycle).
	{
		name: "lifecycle: MONOTONIC_USEC in milliseconds",
		edits: []edit{
			{"lifecycle/transport_linux.go", "return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3, nil", "return uint64(ts.Sec)*1e3 + uint64(ts.Nsec)/1e6, nil"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "lifecycle: RELOADING=1 and MONOTONIC_USEC in two datagrams",
		edits: []edit{
			{"lifecycle/notifier.go", `n.buf = append(n.buf[:0], "RELOADING=1\nMONOTONIC_USEC="...)`, `if _, err := n.sendLocked([]byte("RELOADING=1"), nil); err != nil {` + "\n\t\treturn false, err\n\t}\n\t" + `n.buf = append(n.buf[:0], "MONOTONIC_USEC="...)`},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "lifecycle: invalid UTF-8 let into STATUS",
		edits: []edit{
			{"internal/sdwire/text.go", "if r == utf8.RuneError && size == 1 {", "if r == utf8.RuneError && size == 0 {"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "lifecycle: NUL byte let into a raw notification",
		edits: []edit{
			{"lifecycle/message.go", "if strings.IndexByte(l, 0) >= 0 {", "if false {"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "lifecycle: lower-case keys accepted",
		edits: []edit{
			{"lifecycle/message.go", "if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {", "if (c < 'A' || c > 'z') && (c < '0' || c > '9') && c != '_' {"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "lifecycle: newline let into a helper's value",
		edits: []edit{
			{"lifecycle/message.go", "if v[i] == '\\n' || v[i] == 0 {", "if v[i] == 0 {"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "lifecycle: FDNAME with a colon accepted",
		edits: []edit{
			{"internal/sdwire/sdwire.go", "if c < 0x20 || c > 0x7e || c == ':' {", "if c < 0x20 || c > 0x7e {"},
		},
		pkgs: []string{"./internal/sdwire/", "./lifecycle/"},
	},
	{
		name: "lifecycle: FDNAME longer than 255 accepted",
		edits: []edit{
			{"internal/sdwire/sdwire.go", "if name == \"\" || len(name) > maxFDNameLen {", "if name == \"\" {"},
		},
		pkgs: []string{"./internal/sdwire/"},
	},
	{
		name: "lifecycle: FDSTORE=1 without FDNAME",
		edits: []edit{
			{"lifecycle/notifier.go", "n.buf = append(n.buf[:0], \"FDSTORE=1\\nFDNAME=\"...)\n\tn.buf = append(n.buf, name...)", "n.buf = append(n.buf[:0], \"FDSTORE=1\"...)"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "lifecycle: EXTEND_TIMEOUT_USEC in milliseconds",
		edits: []edit{
			{"lifecycle/notifier.go", `n.sendUint("EXTEND_TIMEOUT_USEC=", uint64(d.Microseconds()))`, `n.sendUint("EXTEND_TIMEOUT_USEC=", uint64(d.Milliseconds()))`},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "lifecycle: EXIT_STATUS above 255 accepted",
		edits: []edit{
			{"lifecycle/notifier.go", "if code < 0 || code > 255 {", "if code < 0 {"},
		},
		pkgs: []string{"./lifecycle/"},
	},

	// Descriptors passed by the manager (lifecycle).
	{
		name: "files: passed descriptors left without CLOEXEC",
		edits: []edit{
			{"lifecycle/files_linux.go", "\t\tunix.CloseOnExec(fd)\n", "\t\t_ = fd\n"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "files: LISTEN_* left in the environment",
		edits: []edit{
			{"lifecycle/files_linux.go", "_ = os.Unsetenv(k)", "_ = k"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "files: a close-on-exec descriptor taken as passed",
		edits: []edit{
			{"lifecycle/files_linux.go", "if flags&unix.FD_CLOEXEC != 0 {", "if flags&unix.FD_CLOEXEC != 0 && false {"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "files: LISTEN_FDNAMES with too few names accepted",
		edits: []edit{
			{"lifecycle/files.go", "if len(parts) != n {", "if len(parts) > n {"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "files: unnamed descriptors not called unknown",
		edits: []edit{
			{"lifecycle/files.go", `const unknownFDName = "unknown"`, `const unknownFDName = ""`},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "files: a socket that does not listen claimed as a listener",
		edits: []edit{
			{"lifecycle/files_linux.go", "if accepting == 0 {", "if accepting < 0 {"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "watchdog: WATCHDOG_PID of another process ignored",
		edits: []edit{
			{"lifecycle/watchdog.go", "if pid != e.PID {", "if pid == 0 {"},
		},
		pkgs: []string{"./lifecycle/"},
	},
	{
		name: "watchdog: pinged at the full interval",
		edits: []edit{
			{"lifecycle/watchdog.go", "return w.Interval / 2 }", "return w.Interval }"},
		},
		pkgs: []string{"./lifecycle/", "./"},
	},

	// The state machine, health and watchdog (package sdlife).
	{
		name: "state: /readyz 200 while reloading",
		edits: []edit{
			{"state.go", "case StateReady, StateReloading, StateUpgrading:\n\t\treturn s.String()", "case StateReady, StateReloading, StateUpgrading:\n\t\treturn StateReady.String()"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "state: SIGTERM during a reload not a stop",
		edits: []edit{
			{"state.go", "return s == StateStarting || s == StateReady || s == StateReloading || s == StateUpgrading\n", "return s == StateStarting || s == StateReady || s == StateUpgrading\n"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "state: RELOADING=1 after STOPPING=1",
		edits: []edit{
			{"state.go", "case StateReloading, StateUpgrading:\n\t\treturn s == StateReady\n", "case StateReloading, StateUpgrading:\n\t\treturn s == StateReady || s == StateStopping\n"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "state: Serving not in STATUS before READY=1",
		edits: []edit{
			{"transition.go", "\t\ts.status.Flush() // \"Serving\", or a reload's outcome, is in place when systemctl returns\n", ""},
		},
		pkgs: []string{"./"},
	},
	{
		name: "health: WATCHDOG=1 without WatchdogSec",
		edits: []edit{
			{"health.go", "\t\tif s.watchdog.Interval > 0 {\n\t\t\tif _, err := s.notifier.Watchdog(); err != nil {", "\t\tif true {\n\t\t\tif _, err := s.notifier.Watchdog(); err != nil {"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "health: WATCHDOG=trigger on every failing round",
		edits: []edit{
			{"health.go", "s.opts.FatalCheck == FatalTrigger && !w.triggered {", "s.opts.FatalCheck == FatalTrigger {"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "health: unhealthy note kept once healthy again",
		edits: []edit{
			{"health.go", "\t\t\ts.setNote(noteHealth, \"\")\n", ""},
		},
		pkgs: []string{"./"},
	},
	{
		name: "health: a hung check run again for every probe",
		edits: []edit{
			{"internal/health/health.go", "\tif cr.flight != nil {\n\t\treturn cr.flight\n\t}", "\tif false {\n\t\treturn cr.flight\n\t}"},
		},
		pkgs: []string{"./internal/health/"},
	},
	{
		name: "health: /healthz 200 when a check fails",
		edits: []edit{
			{"internal/health/health_handler.go", "code = http.StatusServiceUnavailable", "code = http.StatusOK"},
		},
		pkgs: []string{"./internal/health/"},
	},

	// Certificates (httpadapter).
	{
		name: "certificate: a bad reload replaces the pair",
		edits: []edit{
			{"httpadapter/certificate.go", "\tpair, err := c.load()\n\tif err != nil {\n\t\treturn err\n\t}\n\tc.pair.Store(pair)\n\treturn nil", "\tpair, err := c.load()\n\tc.pair.Store(pair)\n\tif err != nil {\n\t\treturn err\n\t}\n\treturn nil"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "certificate: expired certificate accepted",
		edits: []edit{
			{"httpadapter/certificate.go", "case now.After(leaf.NotAfter):", "case false && now.After(leaf.NotAfter):"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "certificate: not yet valid certificate accepted",
		edits: []edit{
			{"httpadapter/certificate.go", "case now.Before(leaf.NotBefore):", "case false && now.Before(leaf.NotBefore):"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "certificate: a mismatched key's error names no file",
		edits: []edit{
			{"httpadapter/certificate.go", `fmt.Errorf("httpadapter: key %s for certificate %s: %w", c.keyFile, c.certFile, err)`, `fmt.Errorf("httpadapter: key for certificate: %w", err)`},
		},
		pkgs: []string{"./httpadapter/"},
	},

	// Counters and STATUS (httpadapter).
	{
		name: "counters: in flight never decreases",
		edits: []edit{
			{"internal/status/counters.go", "s.InFlight = int64(started - s.Total)", "s.InFlight = int64(started)"},
		},
		pkgs: []string{"./internal/status/"},
	},
	{
		name: "counters: a panic before the header counted 2xx",
		edits: []edit{
			{"internal/status/counters.go", "class = Class5xx // aborted before a status was sent", "class = Class2xx"},
		},
		pkgs: []string{"./internal/status/"},
	},
	{
		name: "status: no rate limit",
		edits: []edit{
			{"internal/status/status.go", "if wait := r.interval - now.Sub(r.lastSend); wait > 0 && r.lineLocked() != r.sent {", "if wait := r.interval - now.Sub(r.lastSend); false && wait > 0 {"},
		},
		pkgs: []string{"./internal/status/"},
	},
	{
		name: "status: an unchanged line sent again",
		edits: []edit{
			{"internal/status/status.go", "\tif text == r.sent {\n\t\treturn\n\t}\n", ""},
		},
		pkgs: []string{"./internal/status/"},
	},
	{
		name: "status: req/s counts every request since start",
		edits: []edit{
			{"internal/status/status.go", "r.rate = float64(total-r.lastTotal) / secs", "r.rate = float64(total) / secs"},
		},
		pkgs: []string{"./internal/status/"},
	},
	{
		name: "status: Stop does not send the final line",
		edits: []edit{
			{"internal/status/status.go", "\t\tcase <-r.stop:\n\t\t\tr.mu.Lock()\n\t\t\tr.sendLocked(time.Now(), true)\n", "\t\tcase <-r.stop:\n\t\t\tr.mu.Lock()\n"},
		},
		pkgs: []string{"./internal/status/"},
	},

	// More than one listener.
	{
		name: "listeners: extra listeners not served",
		edits: []edit{
			{"serve.go", "for _, l := range s.opts.Listeners {", "for _, l := range s.opts.Listeners[:0] {"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "listeners: only the first drained",
		edits: []edit{
			{"serve.go", "for i, sv := range all {\n\t\tif !sv.accepting.Load() {", "for i, sv := range all[:min(1, len(all))] {\n\t\tif !sv.accepting.Load() {"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "listeners: duplicate names accepted",
		edits: []edit{
			{"serve.go", "case seen[l.Name]:", "case false:"},
		},
		pkgs: []string{"./"},
	},

	{
		name: "listeners: one http.Server template shared by every listener",
		edits: []edit{
			{"internal/httpserve/server.go", "\t\tsrv = cloneServer(template)", "\t\tsrv = template"},
		},
		pkgs: []string{"./"},
	},

	// Upgrades (issue 18).
	{
		name: "upgrade: a replaced binary never noticed",
		edits: []edit{
			{"upgrade.go", "if err == nil && !replaced {", "if err == nil && (!replaced || replaced) {"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "upgrade: a failed upgrade not in STATUS",
		edits: []edit{
			{"upgrade.go", `s.setNoteLocked(noteReload, err.Error()) // "upgrade failed: <why>"`, `s.setNoteLocked(noteReload, "")`},
		},
		pkgs: []string{"./"},
	},
	{
		name: "upgrade: a failed upgrade leaves the reload open",
		edits: []edit{
			{"upgrade.go", "\ts.setNoteLocked(noteReload, err.Error()) // \"upgrade failed: <why>\"\n\ts.enterLocked(StateReady)", "\ts.setNoteLocked(noteReload, err.Error()) // \"upgrade failed: <why>\""},
		},
		pkgs: []string{"./"},
	},

	{
		name: "upgrade: parked idle connections not given back after a failure",
		edits: []edit{
			{"internal/httpserve/upgradeconns.go", "if ok && hl.inject(unwrapped) {", "if ok && hl.inject(nil) && false {"},
		},
		pkgs: []string{"./", "./internal/httpserve/"},
	},
	{
		name: "upgrade: an injected connection never wakes Accept",
		edits: []edit{
			{"internal/httpserve/handover.go", "l.conns = append(l.conns, conns...)\n\tl.wake = true\n\t_ = d.SetDeadline(time.Unix(1, 0))", "l.conns = append(l.conns, conns...)\n\tl.wake = true\n\t_ = d"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},

	{
		name: "upgrade: STOPPING=1 after the hand-over",
		edits: []edit{
			{"transition.go", "if s.handedOver {\n\t\t\tbreak", "if false {\n\t\t\tbreak"},
		},
		pkgs: []string{"./"},
	},

	{
		name: "upgrade: an unhealthy new binary adopted",
		edits: []edit{
			{"upgrade.go", "\tif rep.Healthy {\n\t\treturn nil", "\tif rep.Healthy || true {\n\t\treturn nil"},
		},
		pkgs: []string{"./"},
	},

	{
		name: "upgrade: a new binary's failure before New not reported",
		edits: []edit{
			{"failure.go", "if env.NotifySocket == \"\" {\n\t\t// Perhaps an upgrade's new process", "if false {\n\t\t// Perhaps an upgrade's new process"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "upgrade: accepting never paused",
		edits: []edit{
			{"internal/httpserve/handover.go", "\t\tif l.paused && !l.closed {\n\t\t\tresume := l.resume", "\t\tif false {\n\t\t\tresume := l.resume"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},

	// Readiness and memory pressure.
	{
		name: "readiness: /readyz 200 while stopping",
		edits: []edit{
			{"service.go", "if st != StateReady {\n\t\t\tw.WriteHeader(http.StatusServiceUnavailable)", "if st == StateStarting {\n\t\t\tw.WriteHeader(http.StatusServiceUnavailable)"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "memory pressure: releasers not run",
		edits: []edit{
			{"memorypressure.go", "releasers := append([]MemoryReleaser(nil), s.releasers...)", "releasers := append([]MemoryReleaser(nil), s.releasers[:0]...)"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "memory pressure: not in STATUS",
		edits: []edit{
			{"memorypressure.go", `s.setNoteFor(notePressure, "memory pressure", memoryPressureNote)`, `s.setNoteFor(notePressure, "", memoryPressureNote)`},
		},
		pkgs: []string{"./"},
	},

	// fxmodule: the group helpers.
	{
		name: "fx: health checks of the group not registered",
		edits: []edit{
			{"fxmodule/module.go", "s.AddHealthCheck(c)", "_ = c"},
		},
		pkgs: []string{"./fxmodule/"},
	},
	{
		name: "fx: reloaders of the group not registered",
		edits: []edit{
			{"fxmodule/module.go", "s.AddReloader(r)", "_ = r"},
		},
		pkgs: []string{"./fxmodule/"},
	},
	{
		name: "fx: memory releasers of the group not registered",
		edits: []edit{
			{"fxmodule/module.go", "s.AddMemoryReleaser(r)", "_ = r"},
		},
		pkgs: []string{"./fxmodule/"},
	},
	{
		name: "fx: Module in an fx.Module under Run tracks its module only",
		edits: []edit{
			{"fxmodule/tracker.go", "if t, ok := lc.(*trackedLifecycle); ok {", "if t, ok := lc.(*trackedLifecycle); ok && false {"},
		},
		pkgs: []string{"./fxmodule/"},
	},
	{
		name: "fx: AsHealthCheck of another result accepted",
		edits: []edit{
			{"fxmodule/module.go", "t.Out(0) != reflect.TypeFor[httpadapter.Check]() {", "t.Out(0) != reflect.TypeFor[httpadapter.Check]() && false {"},
		},
		pkgs: []string{"./fxmodule/"},
	},

	// sdtest: the fake manager's semantics.
	{
		name: "sdtest: FDSTOREREMOVE ignored",
		edits: []edit{
			{"lifecycle/sdtest/manager_linux.go", "\t\t\tif s.Name == name {\n\t\t\t\ts.File.Close()\n\t\t\t\tcontinue\n\t\t\t}", "\t\t\t_ = name"},
		},
		pkgs: []string{"./lifecycle/sdtest/"},
	},
	{
		name: "sdtest: Get returns the first assignment",
		edits: []edit{
			{"lifecycle/sdtest/message.go", "\t\t\tvalue, ok = v, true\n", "\t\t\tif !ok {\n\t\t\t\tvalue, ok = v, true\n\t\t\t}\n"},
		},
		pkgs: []string{"./lifecycle/sdtest/"},
	},
	{
		name: "sdtest: After matches messages from before seq",
		edits: []edit{
			{"lifecycle/sdtest/message.go", "m.Seq > seq && match(m)", "match(m)"},
		},
		pkgs: []string{"./lifecycle/sdtest/"},
	},
	{
		name: "sdtest: FDPOLL=0 not recorded",
		edits: []edit{
			{"lifecycle/sdtest/manager_linux.go", `poll := !msg.has("FDPOLL", "0")`, `poll := true`},
		},
		pkgs: []string{"./lifecycle/sdtest/"},
	},
	{
		name: "sdtest: Files hands descriptors back unnamed",
		edits: []edit{
			{"lifecycle/sdtest/manager_linux.go", "lifecycle.NamedFile{Name: s.Name, File: os.NewFile(uintptr(fd), s.Name)}", "lifecycle.NamedFile{Name: \"stored\", File: os.NewFile(uintptr(fd), s.Name)}"},
		},
		pkgs: []string{"./lifecycle/sdtest/"},
	},
	// issue 16: h2c and the hand-over
	{
		name: "hand-over: idle h2c connections parked like HTTP/1",
		edits: []edit{
			{"internal/httpserve/park.go", "if ok && betweenRequests(r, pc) && connProto(r.proto.Load()) == protoUnknown && pc.park() {", "if ok && betweenRequests(r, pc) && pc.park() {"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},

	// issue 16: fx and notify
	{
		name: "fx: drain after the application's OnStop hooks",
		edits: []edit{
			{"fxmodule/module.go", "\t_ = a.svc.Drain(ctx)\n}", "\ta.svc.Stopping()\n}"},
		},
		pkgs: []string{"./fxmodule/"},
	},
	{
		name: "fx: Run prints dig's wrapping",
		edits: []edit{
			{"fxmodule/run.go", "root := dig.RootCause(err)", "root := err"},
		},
		pkgs: []string{"./fxmodule/"},
	},
	{
		name: "fx: construction failure not told to the manager",
		edits: []edit{
			{"fxmodule/run.go", "\t\terr = buildError(err)\n\t\tinfo.startFailed(err)\n", "\t\terr = buildError(err)\n"},
		},
		pkgs: []string{"./fxmodule/"},
	},
	{
		name: "fx: stop timeout shorter than the drain accepted",
		edits: []edit{
			{"fxmodule/run.go", "d > 0 && app.StopTimeout() <= d", "d > 0 && app.StopTimeout() < 0"},
		},
		pkgs: []string{"./fxmodule/"},
	},
	{
		name: "fx: short stop timeout under fx.New not warned",
		edits: []edit{
			{"fxmodule/module.go", "if left := time.Until(dl); left <= a.drain {", "if left := time.Until(dl); false && left <= a.drain {"},
		},
		pkgs: []string{"./fxmodule/"},
	},
	{
		name: "fx: Run silent about a failed server",
		edits: []edit{
			{"fxmodule/run.go", "return code, info.serveErr()", "return code, nil"},
		},
		pkgs: []string{"./fxmodule/"},
	},
	{
		name: "notify: every failed send to an unreachable socket logged",
		edits: []edit{
			{"reachability.go", "\tif errors.Is(err, lifecycle.ErrUnreachable) {\n\t\treturn\n\t}\n\ts.log.Error(msg", "\tif errors.Is(err, lifecycle.ErrUnreachable) && false {\n\t\treturn\n\t}\n\ts.log.Error(msg"},
		},
		pkgs: []string{"./fxmodule/"},
	},
	{
		name: "notify: silence when reachable again",
		edits: []edit{
			{"lifecycle/notifier.go", "\t\tif n.onReach != nil {\n\t\t\tn.onReach(nil)\n\t\t}\n", ""},
		},
		pkgs: []string{"./lifecycle/", "./fxmodule/"},
	},
	{
		name: "status: unreachable manager logged by the reporter",
		edits: []edit{
			{"internal/status/status.go", "if !r.failing && !unreachable {", "if true {"},
		},
		pkgs: []string{"./internal/status/"},
	},
	{
		name: "status: backoff outlasts a manager that is back",
		edits: []edit{
			{"internal/status/status.go", "now.Before(r.retryAt) && !sdwire.NotifierOf(r.n).Reachable()", "now.Before(r.retryAt) && sdwire.NotifierOf != nil"},
		},
		pkgs: []string{"./internal/status/"},
	},
	// issue 19: two-step GOAWAY
	{
		name: "two-step GOAWAY: no announce when the drain begins",
		edits: []edit{
			{"internal/httpserve/server.go", "\ts.conn.announceGoaways(start) // HTTP/2: GOAWAY(2^31-1) and PING\n", ""},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "two-step GOAWAY: final GOAWAY without waiting for the PING's ACK",
		edits: []edit{
			{"internal/httpserve/goaway2.go", "\t\tc.announceAsked.Store(true)\n", "\t\tc.announceAsked.Store(true)\n\t\tc.handIn.Store(true)\n"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "two-step GOAWAY: a client that never acknowledges is not cut at the bound",
		edits: []edit{
			{"internal/httpserve/goaway2.go", "if w.overdue(now, bound) && w.cut() {", "if false && w.cut() {"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "two-step GOAWAY: a half-closed connection the client keeps open is not closed",
		edits: []edit{
			{"internal/httpserve/goaway2.go", "\t\t_ = c.Close() // net/http's HTTP/2 server sees its read fail and ends\n", ""},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "two-step GOAWAY: the announce written mid-frame",
		edits: []edit{
			{"internal/httpserve/goaway2.go", "func (c *h2Conn) canAnnounce() bool { return c.out.frames > 0 && c.out.atBoundary() }", "func (c *h2Conn) canAnnounce() bool { return true }"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
	{
		name: "two-step GOAWAY: a stream counts as answered before its last frame is written",
		edits: []edit{
			{"internal/httpserve/goaway2.go", "\t\t\tc.ending = id\n", "\t\t\tc.endStream(id)\n"},
		},
		pkgs: []string{"./internal/httpserve/"},
	},
}
