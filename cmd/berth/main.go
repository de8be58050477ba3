// Command berth is the command-line client of the Berth control plane.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fixaroo/berth/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}
