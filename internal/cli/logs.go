package cli

import (
	"bufio"
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// maxTailLines is the most lines GetSiteLogs starts with.
const maxTailLines = 10_000

func (a *app) siteLogsCmd() *cobra.Command {
	var follow bool
	var tail int32
	cmd := &cobra.Command{
		Use:   "logs SITE [--follow] [--tail N]",
		Short: "Print the output of a site's container",
		Long: `Print what a site's container writes (stdout and stderr, merged line by
line), fetched through berthd from the node the site runs on: the last --tail
lines, then with --follow new lines as they are written, until Ctrl-C.
With -o json each batch of lines is printed as a JSON object.
With --follow the call is not bounded by --timeout.`,
		Args: argNames("SITE"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			if tail < 1 || tail > maxTailLines {
				return usageErrorf("invalid --tail %d: want 1 to %d", tail, maxTailLines)
			}
			conn, err := a.dial(true)
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			if follow {
				cancel()
				ctx, cancel = context.WithCancel(cmd.Context())
			}
			defer cancel()
			stream, err := berthv1.NewLogServiceClient(conn).GetSiteLogs(ctx, &berthv1.GetSiteLogsRequest{
				SiteId: args[0], Follow: follow, TailLines: tail,
			})
			if err != nil {
				return err
			}
			err = a.printLogs(stream)
			if err != nil && cmd.Context().Err() != nil {
				return nil // stopped by the user
			}
			return err
		}),
	}
	fs := cmd.Flags()
	fs.BoolVarP(&follow, "follow", "f", false, "keep printing new lines until Ctrl-C")
	fs.Int32Var(&tail, "tail", 100, "how many of the latest lines to start with (at most 10000)")
	return cmd
}

// printLogs prints the lines of stream to stdout until it ends.
func (a *app) printLogs(stream berthv1.LogService_GetSiteLogsClient) error {
	asJSON := a.printer().json
	w := bufio.NewWriter(a.stdio.Out)
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return w.Flush()
		} else if err != nil {
			w.Flush()
			return err
		}
		if asJSON {
			err = writeJSON(w, msg)
		} else {
			for _, line := range msg.GetLines() {
				w.WriteString(line)
				w.WriteByte('\n')
			}
		}
		if err == nil {
			// Flush every batch: with --follow a batch may be all there is for a while.
			err = w.Flush()
		}
		if err != nil {
			return err
		}
	}
}
