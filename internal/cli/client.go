package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func (a *app) clientCmd() *cobra.Command {
	return group("client", "Manage the agency's clients",
		a.clientCreateCmd(), a.clientListCmd(), a.clientGetCmd(), a.clientUpdateCmd(), a.clientDeleteCmd())
}

func (a *app) clientService() (berthv1.ClientServiceClient, error) {
	conn, err := a.dial(true)
	if err != nil {
		return nil, err
	}
	return berthv1.NewClientServiceClient(conn), nil
}

func (a *app) clientCreateCmd() *cobra.Command {
	var c berthv1.Client
	cmd := &cobra.Command{
		Use:     "create --name NAME --slug SLUG [--email EMAIL]",
		Short:   "Add a client",
		Example: `  berth client create --name "Acme Inc." --slug acme --email ops@acme.test`,
		Args:    argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.clientService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.CreateClient(ctx, &berthv1.CreateClientRequest{Client: &c})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, now time.Time) error {
				return writeClients(w, now, resp.GetClient())
			})
		}),
	}
	cmd.Flags().StringVar(&c.DisplayName, "name", "", "display name, shown in the dashboard and on reports")
	cmd.Flags().StringVar(&c.Slug, "slug", "", "short lowercase name used in URLs and resource names")
	cmd.Flags().StringVar(&c.ContactEmail, "email", "", "contact email for reports and alerts")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("slug")
	return cmd
}

func (a *app) clientListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List clients",
		Args:  argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.clientService()
			if err != nil {
				return err
			}
			clients, _, err := listAll(true, func(pageToken string) ([]*berthv1.Client, string, error) {
				ctx, cancel := a.callCtx(cmd.Context())
				defer cancel()
				resp, err := svc.ListClients(ctx, &berthv1.ListClientsRequest{PageToken: pageToken})
				return resp.GetClients(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			return a.printer().show(&berthv1.ListClientsResponse{Clients: clients}, func(w io.Writer, now time.Time) error {
				return writeClients(w, now, clients...)
			})
		}),
	}
}

func (a *app) clientGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a client",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.clientService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.GetClient(ctx, &berthv1.GetClientRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, now time.Time) error {
				if err := writeClients(w, now, resp.GetClient()); err != nil {
					return err
				}
				return writeStatusPage(w, resp.GetClient())
			})
		}),
	}
}

// writeStatusPage writes a client's status page settings after a blank line.
func writeStatusPage(w io.Writer, c *berthv1.Client) error {
	sp := c.GetStatusPage()
	state := "off"
	if sp.GetEnabled() {
		state = "on"
	}
	logo := "none"
	if n := len(sp.GetLogo()); n > 0 {
		logo = fmt.Sprintf("%d bytes", n)
	} else if sp.GetHasLogo() {
		logo = "yes"
	}
	fmt.Fprintln(w)
	return writeFields(w, [][2]string{
		{"Status page", state},
		{"Path", "/status/" + c.GetSlug()},
		{"Sites", strings.Join(sp.GetSiteIds(), ", ")},
		{"Accent color", sp.GetAccentColor()},
		{"Logo", logo},
	})
}

// clientUpdateFlags are the flags of `client update`; only the flags given
// go into the update mask.
type clientUpdateFlags struct {
	fs                *pflag.FlagSet
	name, slug, email string
	// The status page's settings; each changes only its own field.
	page, pageColor, pageLogo string
	pageSites                 []string
}

func newClientUpdateFlags(fs *pflag.FlagSet) *clientUpdateFlags {
	f := &clientUpdateFlags{fs: fs}
	fs.StringVar(&f.name, "name", "", "new display name")
	fs.StringVar(&f.slug, "slug", "", "new slug")
	fs.StringVar(&f.email, "email", "", "new contact email")
	fs.StringVar(&f.page, "status-page", "", `publish the public status page at /status/SLUG ("on") or not ("off")`)
	fs.StringSliceVar(&f.pageSites, "status-page-sites", nil, `site ids the status page shows, in order ("" for none)`)
	fs.StringVar(&f.pageColor, "status-page-color", "", `status page accent colour, "#rrggbb" ("" for the default)`)
	fs.StringVar(&f.pageLogo, "status-page-logo", "", `PNG or JPEG file of at most 64 KiB for the status page ("" removes the logo)`)
	return f
}

// request builds the UpdateClientRequest for client id from the flags given.
func (f *clientUpdateFlags) request(id string) (*berthv1.UpdateClientRequest, error) {
	c := &berthv1.Client{Id: id}
	mask := &fieldmaskpb.FieldMask{}
	if f.fs.Changed("name") {
		c.DisplayName = f.name
		mask.Paths = append(mask.Paths, "display_name")
	}
	if f.fs.Changed("slug") {
		c.Slug = f.slug
		mask.Paths = append(mask.Paths, "slug")
	}
	if f.fs.Changed("email") {
		c.ContactEmail = f.email
		mask.Paths = append(mask.Paths, "contact_email")
	}
	sp := &berthv1.StatusPage{}
	if f.fs.Changed("status-page") {
		switch f.page {
		case "on":
			sp.Enabled = true
		case "off":
		default:
			return nil, usageErrorf("--status-page is %q: pass on or off", f.page)
		}
		mask.Paths = append(mask.Paths, "status_page.enabled")
	}
	if f.fs.Changed("status-page-sites") {
		for _, id := range f.pageSites {
			if id = strings.TrimSpace(id); id != "" {
				sp.SiteIds = append(sp.SiteIds, id)
			}
		}
		mask.Paths = append(mask.Paths, "status_page.site_ids")
	}
	if f.fs.Changed("status-page-color") {
		sp.AccentColor = f.pageColor
		mask.Paths = append(mask.Paths, "status_page.accent_color")
	}
	if f.fs.Changed("status-page-logo") {
		if f.pageLogo != "" {
			b, err := os.ReadFile(f.pageLogo)
			if err != nil {
				return nil, fmt.Errorf("read the status page logo: %w", err)
			}
			sp.Logo = b
		}
		mask.Paths = append(mask.Paths, "status_page.logo")
	}
	if slices.ContainsFunc(mask.Paths, func(p string) bool { return strings.HasPrefix(p, "status_page.") }) {
		c.StatusPage = sp
	}
	if len(mask.Paths) == 0 {
		return nil, usageErrorf("nothing to update: pass --name, --slug, --email or a --status-page flag")
	}
	return &berthv1.UpdateClientRequest{Client: c, UpdateMask: mask}, nil
}

func (a *app) clientUpdateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use: "update ID [--name NAME] [--slug SLUG] [--email EMAIL] [--status-page on|off] " +
			"[--status-page-sites ID,ID] [--status-page-color #rrggbb] [--status-page-logo FILE]",
		Short: "Change a client's name, slug, contact email or status page",
		Example: `  berth client update cl_01j9... --status-page on --status-page-sites site_01a...,site_01b... \
      --status-page-color '#1f6feb' --status-page-logo logo.png`,
		Args: argNames("ID"),
	}
	f := newClientUpdateFlags(cmd.Flags())
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		req, err := f.request(args[0])
		if err != nil {
			return err
		}
		svc, err := a.clientService()
		if err != nil {
			return err
		}
		ctx, cancel := a.callCtx(cmd.Context())
		defer cancel()
		resp, err := svc.UpdateClient(ctx, req)
		if err != nil {
			return err
		}
		return a.printer().show(resp, func(w io.Writer, now time.Time) error {
			return writeClients(w, now, resp.GetClient())
		})
	})
	return cmd
}

func (a *app) clientDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a client that has no sites, with its users and tokens",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.clientService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.DeleteClient(ctx, &berthv1.DeleteClientRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				_, err := fmt.Fprintf(w, "Deleted client %s\n", args[0])
				return err
			})
		}),
	}
}

func writeClients(w io.Writer, now time.Time, clients ...*berthv1.Client) error {
	rows := make([][]string, 0, len(clients))
	for _, c := range clients {
		rows = append(rows, []string{c.GetId(), c.GetDisplayName(), c.GetSlug(), c.GetContactEmail(), age(c.GetCreateTime(), now)})
	}
	return writeTable(w, []string{"ID", "NAME", "SLUG", "EMAIL", "AGE"}, rows)
}
