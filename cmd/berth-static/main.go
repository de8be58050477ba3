// Command berth-static serves one static site: the release that
// <root>/current points to (see package staticserver). It runs as the only
// process of the berth/static image, unprivileged and on a read-only root
// file system, with the site mounted read-only at /srv.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/fixaroo/berth/agents/staticserver"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("berth-static", flag.ContinueOnError)
	root := fs.String("root", "/srv", "site directory; serves `dir`/current/...")
	listen := fs.String("listen", ":8080", "TCP `address` to listen on")
	if err := fs.Parse(os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "berth-static: unexpected arguments %q\n", fs.Args())
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	h := staticserver.New(staticserver.Options{Root: *root, Logger: logger})
	logger.Info("serving", "root", *root, "listen", *listen)
	if err := staticserver.Run(ctx, *listen, h); err != nil {
		fmt.Fprintln(os.Stderr, "berth-static:", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}
