package httpserve

import (
	"net"
	"testing"
	"time"
)

func TestPendingInput(t *testing.T) {
	l := listenLocal(t)
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if pendingInput(server) {
		t.Fatal("pendingInput() = true before anything was sent")
	}
	if _, err := client.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !pendingInput(server) {
		if time.Now().After(deadline) {
			t.Fatal("pendingInput() = false with a request waiting")
		}
		time.Sleep(time.Millisecond)
	}
	if pendingInput(struct{ net.Conn }{server}) {
		t.Fatal("pendingInput() = true for a conn without a descriptor")
	}
}
