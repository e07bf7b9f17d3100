package httpserve_test

import (
	"bufio"
	"context"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"net"
	"net/http"
	"time"

	"github.com/sdlife/sdlife/internal/httpserve"
)

// A server-sent events handler ends its stream after a complete event
// when the drain begins, so the stream does not hold the drain and the
// client reconnects to the next process.
func ExampleDrainStarted() {
	events := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(w, "id: %d\ndata: tick\n\n", i)
			if err := rc.Flush(); err != nil {
				return // the client left
			}
			select {
			case <-httpadapter.DrainStarted(r.Context()):
				return // the event is complete: end the response here
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	})

	s, err := httpserve.NewServer(httpserve.ServerConfig{Handler: events})
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Start(l); err != nil {
		fmt.Println(err)
		return
	}
	resp, err := http.Get("http://" + l.Addr().String() + "/events")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	lines.Scan()
	fmt.Println(lines.Text()) // the first event is under way: stop the server

	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(context.Background()) }()
	for lines.Scan() {
		fmt.Printf("%q\n", lines.Text())
	}
	fmt.Println("stream ended:", lines.Err())
	fmt.Println("shutdown:", <-stopped)
	// Output:
	// id: 0
	// "data: tick"
	// ""
	// stream ended: <nil>
	// shutdown: <nil>
}
