package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

func TestNotifierSmoke(t *testing.T) {
	m := sdtest.NewManager(t)
	n := m.Notifier()
	if sent, err := n.Ready(); !sent || err != nil {
		t.Fatalf("Ready() = %v, %v", sent, err)
	}
	if _, err := n.Status("a\nb"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := n.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	got := m.Messages()
	if len(got) != 3 || got[0].Raw != "READY=1" || got[1].Raw != "STATUS=a b" || got[2].Raw != "BARRIER=1" {
		t.Fatalf("messages = %+v", got)
	}
}
