package main

import (
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// TestReloadRefusesUnusableListen (issue 16, item 1): a reload whose
// listen address could not be bound at the next restart is refused like
// any invalid configuration: nothing of it applies, STATUS says why, and
// the service keeps serving. A usable new address is accepted for the
// next restart.
func TestReloadRefusesUnusableListen(t *testing.T) {
	s, m, ready := underManager(t, map[string]string{"greeting": "one"}, sdtest.WithFDStore(4))
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	reload := func(t *testing.T, listen string) sdtest.Message {
		t.Helper()
		writeConfig(t, s.config, map[string]string{"listen": listen, "greeting": "two"})
		s.signal(syscall.SIGHUP)
		reloading, err := m.Wait(ctxT(t), sdtest.After(ready.Seq, sdtest.Has("RELOADING", "1")))
		if err != nil {
			t.Fatal(err)
		}
		if ready, err = m.Wait(ctxT(t), sdtest.After(reloading.Seq, sdtest.Has("READY", "1"))); err != nil {
			t.Fatal(err)
		}
		return reloading
	}
	tests := []struct {
		name string
		give string
		want string // in STATUS
	}{
		{"does not resolve", "999.1.1.1:80", "999.1.1.1"},
		{"port taken by another process", other.Addr().String(), "address already in use"},
		{"no interface has it", "192.0.2.1:8080", "cannot assign requested address"},
		{"unknown named port", "127.0.0.1:http-nope", "unknown port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reloading := reload(t, tt.give)
			if _, err := m.Wait(ctxT(t), sdtest.After(reloading.Seq, func(msg sdtest.Message) bool {
				v, _ := msg.Get("STATUS")
				return strings.Contains(v, "reload failed") && strings.Contains(v, tt.want)
			})); err != nil {
				t.Fatalf("STATUS does not say the reload failed with %q: %v; %+v", tt.want, err, m.Messages())
			}
			if _, body := s.get("/"); body != "one\n" {
				t.Fatalf("after a refused reload GET / = %q, want the old greeting", body)
			}
		})
	}

	t.Run("usable address", func(t *testing.T) {
		next := freeAddr(t)
		reloading := reload(t, next)
		if _, err := m.Wait(ctxT(t), sdtest.After(reloading.Seq, sdtest.StatusContains("listen address "+next+" applies at the next restart"))); err != nil {
			t.Fatalf("STATUS does not announce %s: %v; %+v", next, err, m.Messages())
		}
		if _, body := s.get("/"); body != "two\n" {
			t.Fatalf("after the reload GET / = %q, want the new greeting", body)
		}
		if c, err := net.Dial("tcp", next); err == nil {
			c.Close()
			t.Errorf("%s accepts after the check; nothing may listen there before the restart", next)
		}
	})
}
