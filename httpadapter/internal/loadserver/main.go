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
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-chi/chi/v5"

	"github.com/sdlife/sdlife/httpadapter"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:29417", "address to listen on")
	counted := flag.Bool("counted", false, "wrap the router in Counters.Middleware")
	plain := flag.Bool("plain", false, "serve with a bare http.Server instead of httpadapter.Server")
	flag.Parse()

	r := chi.NewRouter()
	c := httpadapter.NewCounters()
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

	l, _, err := httpadapter.Listen(httpadapter.ListenConfig{Address: *addr})
	if err != nil {
		log.Fatal(err)
	}
	if *plain {
		srv := &http.Server{Handler: r, ReadHeaderTimeout: httpadapter.DefaultReadHeaderTimeout}
		go func() {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			_ = srv.Shutdown(context.Background())
		}()
		if err := srv.Serve(l); err != http.ErrServerClosed {
			log.Fatal(err)
		}
		return
	}
	s, err := httpadapter.NewServer(httpadapter.ServerConfig{Handler: r})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Start(l); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case <-s.Done():
	}
	if err := s.Shutdown(context.Background()); err != nil {
		log.Print(err)
	}
	snap := c.Snapshot()
	fmt.Fprintf(os.Stderr, "counted=%v total=%d 2xx=%d\n", *counted, snap.Total, snap.ByClass[httpadapter.Class2xx])
}
