// Command loadserver serves a small chi router on loopback, with or
// without the request-counting middleware, for measuring the
// middleware's cost under a load generator (see BENCHMARKS.md).
//
//	go build -o /tmp/loadserver ./httpadapter/internal/loadserver
//	/tmp/loadserver -addr 127.0.0.1:29417 -counted
//	wrk -t1 -c50 -d10s http://127.0.0.1:29417/hello
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/sdlife/sdlife/internal/status"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-chi/chi/v5"

	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/httpserve"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadserver:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:29417", "address to listen on")
	counted := flag.Bool("counted", false, "wrap the router in Counters.Middleware")
	plain := flag.Bool("plain", false, "serve with a bare http.Server instead of httpserve.Server")
	flag.Parse()

	r := chi.NewRouter()
	c := status.NewCounters()
	if *counted {
		r.Use(c.Middleware)
	}
	r.Get("/hello", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello\n")
	})
	r.Get("/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, chi.URLParam(r, "id"))
	})

	l, _, err := httpserve.Listen(httpserve.ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: *addr}})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *plain {
		srv := &http.Server{Handler: r, ReadHeaderTimeout: httpserve.DefaultReadHeaderTimeout}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		select {
		case <-ctx.Done():
			if err := srv.Shutdown(context.Background()); err != nil {
				return err
			}
			<-served
			return nil
		case err := <-served:
			return err
		}
	}
	s, err := httpserve.NewServer(httpserve.ServerConfig{Handler: r})
	if err != nil {
		l.Close()
		return err
	}
	if err := s.Start(l); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.Done():
	}
	if err := s.Shutdown(context.Background()); err != nil {
		return err
	}
	snap := c.Snapshot()
	fmt.Fprintf(os.Stderr, "counted=%v total=%d 2xx=%d\n", *counted, snap.Total, snap.ByClass[status.Class2xx])
	return nil
}
