// Command berth-agent is Berth's node agent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fixaroo/berth/agents/agent"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg, err := agent.LoadConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "berth-agent:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := agent.Run(ctx, cfg, cfg.NewLogger(os.Stderr)); err != nil {
		fmt.Fprintln(os.Stderr, "berth-agent:", err)
		return 1
	}
	return 0
}
