package cli

import (
	"time"

	"github.com/spf13/cobra"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func (a *app) siteWaitCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait SITE",
		Short: "Wait until a site runs its current spec",
		Long: "Wait until the site is RUNNING at its current generation, showing progress.\n" +
			"Exits 1 if it FAILED, was deleted, or is still not running after --wait-timeout.",
		Args: argNames("SITE"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.siteService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			resp, err := svc.GetSite(ctx, &berthv1.GetSiteRequest{Id: args[0]})
			cancel()
			if err != nil {
				return err
			}
			return a.waitRunning(cmd.Context(), svc, resp.GetSite(), timeout)
		}),
	}
	cmd.Flags().DurationVar(&timeout, "wait-timeout", 10*time.Minute, "how long to wait")
	return cmd
}
