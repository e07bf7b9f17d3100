// Command naive is the baseline the e2e benchmark compares chi-server with:
// a plain net/http server as commonly written. It binds its own port on
// every start, reports READY=1 once bound (so `systemctl restart` waits for
// that, as for chi-server), and on SIGTERM calls http.Server.Shutdown.
// There is no fd store and no designed drain. -h2c adds HTTP/2 with prior
// knowledge to the plain listener; -tls-cert and -tls-key serve HTTPS (h2
// and HTTP/1.1 by ALPN, net/http's default), so every client kind of the
// e2e restart matrix has its baseline.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to bind")
	greeting := flag.String("greeting", "hello", "body of GET /")
	h2c := flag.Bool("h2c", false, "also serve HTTP/2 with prior knowledge on the plain listener")
	certFile := flag.String("tls-cert", "", "serve HTTPS with this PEM certificate (needs -tls-key)")
	keyFile := flag.String("tls-key", "", "PEM private key of -tls-cert")
	flag.Parse()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, *greeting)
	})}
	if *h2c {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	serve := func() error { return srv.Serve(ln) }
	if *certFile != "" {
		serve = func() error { return srv.ServeTLS(ln, *certFile, *keyFile) }
	}
	go func() {
		if err := serve(); err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	notify("READY=1")

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	notify("STOPPING=1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
}

// notify sends one datagram to $NOTIFY_SOCKET, if set.
func notify(msg string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		log.Print(err)
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		log.Print(err)
	}
}
