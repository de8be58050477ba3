package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func (a *app) nodeCmd() *cobra.Command {
	return group("node", "Manage the servers that run sites",
		a.nodeListCmd(), a.nodeGetCmd(), a.nodeDrainCmd(), a.nodeDeleteCmd(), a.nodeJoinTokenCmd())
}

func (a *app) nodeService() (berthv1.NodeServiceClient, error) {
	conn, err := a.dial(true)
	if err != nil {
		return nil, err
	}
	return berthv1.NewNodeServiceClient(conn), nil
}

func (a *app) nodeListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List nodes",
		Args:  argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.nodeService()
			if err != nil {
				return err
			}
			nodes, _, err := listAll(true, func(pageToken string) ([]*berthv1.Node, string, error) {
				ctx, cancel := a.callCtx(cmd.Context())
				defer cancel()
				resp, err := svc.ListNodes(ctx, &berthv1.ListNodesRequest{PageToken: pageToken})
				return resp.GetNodes(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			return a.printer().show(&berthv1.ListNodesResponse{Nodes: nodes}, func(w io.Writer, now time.Time) error {
				return writeNodes(w, now, nodes...)
			})
		}),
	}
}

func (a *app) nodeGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a node",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.nodeService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.GetNode(ctx, &berthv1.GetNodeRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, now time.Time) error {
				return writeNodeDetail(w, now, resp.GetNode())
			})
		}),
	}
}

func (a *app) nodeDrainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "drain ID",
		Short: "Stop placing sites on a node and move its sites off",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.nodeService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.DrainNode(ctx, &berthv1.DrainNodeRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, now time.Time) error {
				return writeDrainResult(w, now, resp)
			})
		}),
	}
}

func (a *app) nodeDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Forget a node that is gone for good",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.nodeService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.DeleteNode(ctx, &berthv1.DeleteNodeRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				return writeDeleteNodeResult(w, args[0], resp)
			})
		}),
	}
}

func (a *app) nodeJoinTokenCmd() *cobra.Command {
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "join-token [--ttl 15m]",
		Short: "Make a one-time token with which a new node joins",
		Args:  argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			if ttl <= 0 {
				return usageErrorf("invalid --ttl %s: want more than 0 (at most 15m)", ttl)
			}
			svc, err := a.nodeService()
			if err != nil {
				return err
			}
			s, _ := a.settings()
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.CreateJoinToken(ctx, &berthv1.CreateJoinTokenRequest{Ttl: durationpb.New(ttl)})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				_, err := fmt.Fprintf(w, "Join token, valid once until %s (it is not shown again):\n  %s\n\nOn the new node, run:\n  berth-agent --server %s --join-token %s\n",
					timestamp(resp.GetExpireTime()), resp.GetToken(), s.server, resp.GetToken())
				return err
			})
		}),
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 15*time.Minute, "how long the token is valid (at most 15m)")
	return cmd
}

// writeDrainResult shows the drained node, the sites that moved and those
// that stay, with why.
func writeDrainResult(w io.Writer, now time.Time, resp *berthv1.DrainNodeResponse) error {
	if err := writeNodes(w, now, resp.GetNode()); err != nil {
		return err
	}
	id := resp.GetNode().GetId()
	if moved := resp.GetMoved(); len(moved) > 0 {
		fmt.Fprintf(w, "\nMoved %d %s off the node:\n", len(moved), plural(len(moved), "site", "sites"))
		rows := make([][]string, 0, len(moved))
		for _, m := range moved {
			rows = append(rows, []string{m.GetSiteId(), m.GetNodeId()})
		}
		if err := writeTable(w, []string{"SITE", "NOW ON"}, rows); err != nil {
			return err
		}
	}
	if left := resp.GetNotMoved(); len(left) > 0 {
		fmt.Fprintf(w, "\nCould not move %d %s; %s running on the node:\n", len(left), plural(len(left), "site", "sites"), plural(len(left), "it keeps", "they keep"))
		rows := make([][]string, 0, len(left))
		for _, nm := range left {
			rows = append(rows, []string{nm.GetSiteId(), nm.GetReason()})
		}
		if err := writeTable(w, []string{"SITE", "REASON"}, rows); err != nil {
			return err
		}
	}
	if len(resp.GetMoved()) == 0 && len(resp.GetNotMoved()) == 0 {
		_, err := fmt.Fprintln(w, "\nNo sites to move.")
		return err
	}
	_, err := fmt.Fprintf(w, "\nFollow the moves with `berth site list --node %s`; drain again to retry the sites that stayed.\n", id)
	return err
}

// writeDeleteNodeResult says what became of the deleted node's sites.
func writeDeleteNodeResult(w io.Writer, id string, resp *berthv1.DeleteNodeResponse) error {
	fmt.Fprintf(w, "Deleted node %s\n", id)
	if ids := resp.GetRequeuedSiteIds(); len(ids) > 0 {
		fmt.Fprintf(w, "%d static %s will be placed on other nodes: %s\n", len(ids), plural(len(ids), "site", "sites"), strings.Join(ids, ", "))
	}
	if ids := resp.GetFailedSiteIds(); len(ids) > 0 {
		fmt.Fprintf(w, "%d WordPress %s FAILED: %s data was on the node, and WordPress sites cannot move until backups exist; delete and recreate %s: %s\n",
			len(ids), plural(len(ids), "site is", "sites are"), plural(len(ids), "its", "their"), plural(len(ids), "it", "them"), strings.Join(ids, ", "))
	}
	if ids := resp.GetDeletedSiteIds(); len(ids) > 0 {
		fmt.Fprintf(w, "%d %s being deleted %s removed: %s\n", len(ids), plural(len(ids), "site", "sites"), plural(len(ids), "was", "were"), strings.Join(ids, ", "))
	}
	return nil
}

// plural returns one if n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func writeNodes(w io.Writer, now time.Time, nodes ...*berthv1.Node) error {
	rows := make([][]string, 0, len(nodes))
	for _, n := range nodes {
		rows = append(rows, []string{
			n.GetId(), n.GetName(), enumLabel(n.GetState()), fmt.Sprint(n.GetSiteCount()),
			fmt.Sprintf("%d/%d", n.GetAllocated().GetMemoryMib(), n.GetCapacity().GetMemoryMib()),
			fmt.Sprintf("%d/%d", n.GetAllocated().GetCpuMillicores(), n.GetCapacity().GetCpuMillicores()),
			age(n.GetLastHeartbeatTime(), now), age(n.GetCreateTime(), now),
		})
	}
	return writeTable(w, []string{"ID", "NAME", "STATE", "SITES", "MEMORY(MiB)", "CPU(m)", "HEARTBEAT", "AGE"}, rows)
}

func writeNodeDetail(w io.Writer, now time.Time, n *berthv1.Node) error {
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(n.GetLabels())) {
		labels = append(labels, k+"="+n.GetLabels()[k])
	}
	return writeFields(w, [][2]string{
		{"ID", n.GetId()},
		{"Name", n.GetName()},
		{"State", enumLabel(n.GetState())},
		{"Sites", fmt.Sprint(n.GetSiteCount())},
		{"Memory", fmt.Sprintf("%d of %d MiB allocated", n.GetAllocated().GetMemoryMib(), n.GetCapacity().GetMemoryMib())},
		{"CPU", fmt.Sprintf("%d of %d millicores allocated", n.GetAllocated().GetCpuMillicores(), n.GetCapacity().GetCpuMillicores())},
		{"Disk", fmt.Sprintf("%d of %d MiB allocated", n.GetAllocated().GetDiskMib(), n.GetCapacity().GetDiskMib())},
		{"Labels", strings.Join(labels, ", ")},
		{"Agent", n.GetAgentVersion()},
		{"Docker", n.GetDockerVersion()},
		{"Heartbeat", withAge(n.GetLastHeartbeatTime(), now)},
		{"Created", withAge(n.GetCreateTime(), now)},
	})
}
