// Command berthd is the Berth control plane.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fixaroo/berth/internal/controlplane"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg, err := controlplane.Load(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "berthd:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := controlplane.Run(ctx, cfg, cfg.NewLogger(os.Stderr), os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "berthd:", err)
		return 1
	}
	return 0
}
