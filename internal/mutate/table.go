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
		name: "counters: 4xx as 2xx on the slow path",
		edits: []edit{
			{"httpadapter/middleware.go", "\t\tclass = classOf(rw.code)\n", "\t\tclass = classOf(rw.code)\n\t\tif class == Class4xx {\n\t\t\tclass = Class2xx\n\t\t}\n"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "counters: 4xx as 2xx on overflow wrappers",
		edits: []edit{
			{"httpadapter/counters.go", "\tif slot < 0 {\n\t\tsh.done[class].Add(1)", "\tif slot < 0 {\n\t\tif class == Class4xx {\n\t\t\tclass = Class2xx\n\t\t}\n\t\tsh.done[class].Add(1)"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "counters: 4xx as 2xx in panicking handlers",
		edits: []edit{
			{"httpadapter/middleware.go", "\th.c.release(rw, class, !returned)", "\tif !returned && class == Class4xx {\n\t\tclass = Class2xx\n\t}\n\th.c.release(rw, class, !returned)"},
		},
		pkgs: []string{"./httpadapter/"},
	},
	{
		name: "counters: an allocation per request",
		edits: []edit{
			{"httpadapter/middleware.go", "\trw.w = w\n\treturned := false", "\trw.w = w\n\tr = r.WithContext(r.Context())\n\treturned := false"},
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
			{"httpadapter/conntrack.go", "if http.ConnState(r.state.Load()) != http.StateIdle || connProto(r.proto.Load()) == protoHTTP2 {", "if http.ConnState(r.state.Load()) != http.StateIdle {"},
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
}
