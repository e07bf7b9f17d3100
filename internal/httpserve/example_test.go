package httpserve_test

import (
	"context"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"net/http"

	"github.com/sdlife/sdlife/internal/httpserve"
)

func ExampleListen() {
	// Under systemd: env := lifecycle.ReadEnvironment(), files from
	// lifecycle.TakeFiles(env), the Notifier from lifecycle.NewNotifier(env)
	// and FDStore from env.FDStoreLimit().
	l, src, err := httpserve.Listen(httpserve.ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	fmt.Println("listener from:", src)
	// Output: listener from: bound
}

func ExampleServer() {
	l, _, err := httpserve.Listen(httpserve.ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := httpserve.NewServer(httpserve.ServerConfig{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello") }),
		// Notifier: the service's, for EXTEND_TIMEOUT_USEC.
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Start(l); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("serving on", s.Addr().Network())
	// On SIGTERM:
	if err := s.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	<-s.Done()
	fmt.Println("drained, err:", s.Err())
	// Output:
	// serving on tcp
	// drained, err: <nil>
}
