// Command plain is plainapp as a program: the binary whose dependencies
// the adoption test checks for go.uber.org packages.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle"

	"example.com/adoption/plainapp"
)

func main() {
	config := flag.String("config", "config.json", "configuration file")
	listen := flag.String("listen", "127.0.0.1:8080", "address to bind when no listener is passed")
	flag.Parse()
	cfg, err := plainapp.LoadConfig(*config)
	if err != nil {
		sdlife.ReportStartFailure(lifecycle.ReadEnvironment(), err)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	opts := sdlife.Options{Listen: httpadapter.ListenConfig{Address: *listen}}
	if err := plainapp.Run(context.Background(), opts, cfg, func(context.Context) error { return nil }); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
