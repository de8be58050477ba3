package cli

import (
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func (a *app) auditCmd() *cobra.Command {
	return group("audit", "Read the audit log of mutations and denied calls", a.auditListCmd())
}

func (a *app) auditListCmd() *cobra.Command {
	var (
		req   berthv1.ListAuditEventsRequest
		since time.Duration
		limit int
	)
	cmd := &cobra.Command{
		Use:   "list [--method M] [--resource ID] [--client ID] [--failed] [--since 24h] [--limit N]",
		Short: "List audit events, newest first",
		Example: `  berth audit list --method CreateSite --since 168h
  berth audit list --failed --limit 20`,
		Args: argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			if limit <= 0 {
				return usageErrorf("invalid --limit %d: want 1 or more", limit)
			}
			if since < 0 {
				return usageErrorf("invalid --since %s: want 0 (no limit) or more", since)
			}
			if since > 0 {
				req.StartTime = timestamppb.New(a.now().Add(-since))
			}
			conn, err := a.dial(true)
			if err != nil {
				return err
			}
			svc := berthv1.NewAuditServiceClient(conn)
			var events []*berthv1.AuditEvent
			next := ""
			for {
				req.PageSize = int32(min(limit-len(events), 1000))
				req.PageToken = next
				ctx, cancel := a.callCtx(cmd.Context())
				resp, err := svc.ListAuditEvents(ctx, &req)
				cancel()
				if err != nil {
					return err
				}
				events = append(events, resp.GetEvents()...)
				if resp.GetNextPageToken() == next {
					next = ""
				} else {
					next = resp.GetNextPageToken()
				}
				if next == "" || len(events) >= limit {
					break
				}
			}
			if len(events) > limit {
				events = events[:limit]
			}
			return a.printer().show(&berthv1.ListAuditEventsResponse{Events: events, NextPageToken: next}, func(w io.Writer, now time.Time) error {
				return writeAuditEvents(w, now, events...)
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.Method, "method", "", "only this method, full name or suffix, e.g. CreateSite")
	f.StringVar(&req.ResourceId, "resource", "", "only events about this resource id")
	f.StringVar(&req.ClientId, "client", "", "only events about this client's resources")
	f.BoolVar(&req.FailedOnly, "failed", false, "only calls that did not succeed")
	f.DurationVar(&since, "since", 24*time.Hour, "only events newer than this; 0 for all")
	f.IntVar(&limit, "limit", 100, "at most this many events")
	return cmd
}

func writeAuditEvents(w io.Writer, now time.Time, events ...*berthv1.AuditEvent) error {
	rows := make([][]string, 0, len(events))
	for _, e := range events {
		method := strings.TrimPrefix(e.GetMethod(), "/berth.v1.")
		rows = append(rows, []string{
			age(e.GetTime(), now), e.GetActor(), method, e.GetResourceId(), e.GetClientId(), e.GetCode(), e.GetMessage(),
		})
	}
	return writeTable(w, []string{"AGE", "ACTOR", "METHOD", "RESOURCE", "CLIENT", "CODE", "MESSAGE"}, rows)
}
