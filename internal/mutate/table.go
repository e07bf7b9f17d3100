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
			{"state.go", "return s == StateStarting || s == StateReloading\n", "return s == StateStarting || s == StateReloading || s == StateStopping\n"},
		},
		pkgs: []string{"./", "./fxmodule/"},
	},
	{
		name: "state: SIGTERM while starting not stopping",
		edits: []edit{
			{"reload.go", "if s.state == StateStarting {", "if false {"},
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
			{"lifecycle/message.go", `if c == '\n' || c == '\r' || c == 0 {`, `if c == '\r' || c == 0 {`},
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
			{"httpadapter/counters.go", "\tcase rw.code != 0: // codeHijacked is ClassOther\n\t\tclass = classOf(rw.code)\n", "\tcase rw.code != 0: // codeHijacked is ClassOther\n\t\tclass = classOf(rw.code)\n\t\tif class == Class4xx {\n\t\t\tclass = Class2xx\n\t\t}\n"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "counters: 4xx as 2xx in panicking handlers",
		edits: []edit{
			{"httpadapter/counters.go", "\tif !returned {\n\t\tsh.panics.Add(1)\n\t}\n", "\tif !returned {\n\t\tsh.panics.Add(1)\n\t\tif class == Class4xx {\n\t\t\tclass = Class2xx\n\t\t}\n\t}\n"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "counters: an allocation per request",
		edits: []edit{
			{"httpadapter/middleware.go", "\trw := h.c.begin(w)\n", "\trw := h.c.begin(w)\n\tr = r.WithContext(r.Context())\n"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "counters: wrapper not returned to the pool",
		edits: []edit{
			{"httpadapter/counters.go", "\tc.pool.Put(rw)\n", ""},
		},
		pkgs: []string{"./httpadapter/"},
	},

	// httpadapter: the fd store.
	{
		name: "listen: listener stored without FDPOLL=0",
		edits: []edit{
			{"httpadapter/listen.go", "cfg.Notifier.FDStoreNoPoll(cfg.Name, sc)", "cfg.Notifier.FDStore(cfg.Name, sc)"},
		},
		pkgs: []string{"./httpadapter/"},
	},

	// httpadapter: the drain.
	{
		name: "drain: no Connection: close",
		edits: []edit{
			{"httpadapter/server.go", "\t\tw.Header().Set(\"Connection\", \"close\")\n", "\t\t_ = w\n"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "drain: no idle grace",
		edits: []edit{
			{"httpadapter/conntrack.go", "if now.Sub(time.Unix(0, since)) < grace {", "if now.Sub(time.Unix(0, since)) < 0 {"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "drain: no pending-input guard",
		edits: []edit{
			{"httpadapter/conntrack.go", "if pendingInput(c) {", "if false && pendingInput(c) {"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "drain: no wait for accepted connections",
		edits: []edit{
			{"httpadapter/conntrack.go", "return c.New + c.Active + c.Idle }", "return c.Active + c.Idle }"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "drain: HTTP/2 waited for like HTTP/1",
		edits: []edit{
			{"httpadapter/conntrack.go", "\t\tcase protoHTTP2:\n\t\t\tc.HTTP2++\n\t\t\treturn true\n", "\t\tcase protoHTTP2:\n\t\t\tc.HTTP2++\n"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "drain: idle HTTP/2 closed, not GOAWAY",
		edits: []edit{
			{"httpadapter/conntrack.go", "if !betweenRequests(r, pc) || connProto(r.proto.Load()) == protoHTTP2 {", "if !betweenRequests(r, pc) && http.ConnState(r.state.Load()) != http.StateIdle {"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "drain: h2c not told apart from HTTP/1",
		edits: []edit{
			{"httpadapter/conntrack.go", "if r.ProtoMajor != 2 || r.TLS != nil {", "if r.ProtoMajor != 2 || r.TLS == nil {"},
		},
		pkgs: []string{"./httpadapter/"},
	},

	// The hand-over of idle connections, the configured address, and
	// the reactions to the newest manager.
	{
		name: "park: bytes overtaking the park do not abort it",
		edits: []edit{
			{"httpadapter/park.go", "\t\tif c.state.Load() == parkAsked {\n\t\t\tc.abort()\n\t\t}", "\t\t_ = parkAsked"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "park: the next request's deadline does not abort it",
		edits: []edit{
			{"httpadapter/park.go", "\t\tif c.failed == nil && c.state.CompareAndSwap(parkAsked, parkAborted) {\n\t\t\tclose(c.released)\n\t\t}", ""},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "handover: adopted connections left in the store",
		edits: []edit{
			{"httpadapter/handover.go", "if _, err := cfg.Notifier.FDStoreRemove(name); err != nil {", "if _, err := cfg.Notifier.Notify(\"X_KEEP=1\"); err != nil {"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "listen: a stored listener on another address kept",
		edits: []edit{
			{"httpadapter/listen.go", "\told := l.Addr()\n\tl.Close()\n", "\told := l.Addr()\n\treturn fmt.Errorf(\"kept %s\", old)\n"},
		},
		pkgs: []string{"./httpadapter/"},
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
			{"httpadapter/park.go", "\t\treturn pc != nil && pc.adopted && pc.read.Load() == 0", "\t\treturn false"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "handover: store copies dropped before READY=1",
		edits: []edit{
			{"phases.go", "lc.Release = httpadapter.ReleaseByCaller", "lc.Release = httpadapter.ReleaseAtOnce"},
		},
		pkgs: []string{"./"},
	},
	{
		name: "drain: gone-away HTTP/2 connections wait out net/http's GOAWAY timeout",
		edits: []edit{
			{"httpadapter/server.go", "\t\ts.conn.finishGoneAway()\n", ""},
		},
		pkgs: []string{"./httpadapter/"},
	},
	// issue 19: two-step GOAWAY
	{
		name: "two-step GOAWAY: no announce when the drain begins",
		edits: []edit{
			{"httpadapter/server.go", "\ts.conn.announceGoaways(start) // HTTP/2: GOAWAY(2^31-1) and PING\n", ""},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "two-step GOAWAY: final GOAWAY without waiting for the PING's ACK",
		edits: []edit{
			{"httpadapter/goaway2.go", "\t\tc.announceAsked.Store(true)\n", "\t\tc.announceAsked.Store(true)\n\t\tc.handIn.Store(true)\n"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "two-step GOAWAY: a client that never acknowledges is not cut at the bound",
		edits: []edit{
			{"httpadapter/goaway2.go", "if w.overdue(now, bound) && w.cut() {", "if false && w.cut() {"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "two-step GOAWAY: a half-closed connection the client keeps open is not closed",
		edits: []edit{
			{"httpadapter/goaway2.go", "\t\t_ = c.Close() // net/http's HTTP/2 server sees its read fail and ends\n", ""},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "two-step GOAWAY: the announce written mid-frame",
		edits: []edit{
			{"httpadapter/goaway2.go", "func (c *h2Conn) canAnnounce() bool { return c.out.frames > 0 && c.out.atBoundary() }", "func (c *h2Conn) canAnnounce() bool { return true }"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "two-step GOAWAY: a stream counts as answered before its last frame is written",
		edits: []edit{
			{"httpadapter/goaway2.go", "\t\t\tc.ending = id\n", "\t\t\tc.endStream(id)\n"},
		},
		pkgs: []string{"./httpadapter/"},
	},
}
