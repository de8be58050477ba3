package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func (a *app) siteCmd() *cobra.Command {
	return group("site", "Manage websites",
		a.siteCreateCmd(), a.siteListCmd(), a.siteGetCmd(), a.siteUpdateCmd(), a.siteDeleteCmd(), a.siteWatchCmd(),
		a.siteCredentialsCmd(), a.siteDeployCmd(), a.siteReleasesCmd(), a.siteRollbackCmd(), a.siteReleaseCmd(),
		a.siteLogsCmd(), a.siteWaitCmd())
}

func (a *app) siteService() (berthv1.SiteServiceClient, error) {
	conn, err := a.dial(true)
	if err != nil {
		return nil, err
	}
	return berthv1.NewSiteServiceClient(conn), nil
}

// siteCreateFlags are the flags of `site create`.
type siteCreateFlags struct {
	fs                           *pflag.FlagSet
	clientID, name, kind, domain string
	aliases                      []string
	memory, cpu                  int32
	title, adminEmail            string
	hsts, redirectAliases        bool
	check                        uptimeCheckFlags
	noWait                       bool
	waitTimeout                  time.Duration
}

func newSiteCreateFlags(fs *pflag.FlagSet) *siteCreateFlags {
	f := &siteCreateFlags{fs: fs}
	fs.StringVar(&f.clientID, "client", "", "id of the client that owns the site")
	fs.StringVar(&f.name, "name", "", "site name, unique per client: lowercase letters, digits and hyphens")
	fs.StringVar(&f.kind, "kind", "", "what runs the site: wordpress or static")
	fs.StringVar(&f.domain, "domain", "", "primary domain, e.g. www.example.com")
	fs.StringSliceVar(&f.aliases, "alias", nil, "alias domain that also serves the site (repeatable)")
	fs.Int32Var(&f.memory, "memory", 256, "memory limit in MiB")
	fs.Int32Var(&f.cpu, "cpu", 500, "CPU limit in millicores (1000 = one core)")
	fs.StringVar(&f.title, "title", "", "WordPress site title")
	fs.StringVar(&f.adminEmail, "admin-email", "", "WordPress administrator's email")
	fs.BoolVar(&f.hsts, "hsts", false, "send Strict-Transport-Security (one year) with the site's HTTPS answers")
	fs.BoolVar(&f.redirectAliases, "redirect-aliases", false, "answer alias domains with a redirect to the primary domain")
	f.check.register(fs)
	fs.BoolVar(&f.noWait, "no-wait", false, "print the new site and return without waiting for it to run")
	fs.DurationVar(&f.waitTimeout, "wait-timeout", 10*time.Minute, "how long to wait for the site to run")
	return f
}

// site builds the site to create from the flags.
func (f *siteCreateFlags) site() (*berthv1.Site, error) {
	kind, err := parseEnum(berthv1.SiteKind(0).Descriptor(), "kind", f.kind)
	if err != nil {
		return nil, err
	}
	s := &berthv1.Site{
		ClientId:        f.clientID,
		Name:            f.name,
		Kind:            berthv1.SiteKind(kind),
		PrimaryDomain:   f.domain,
		AliasDomains:    f.aliases,
		Resources:       &berthv1.Resources{MemoryMib: f.memory, CpuMillicores: f.cpu},
		Hsts:            f.hsts,
		RedirectAliases: f.redirectAliases,
		UptimeCheck:     f.check.proto(),
	}
	if s.Kind == berthv1.SiteKind_SITE_KIND_WORDPRESS {
		s.Wordpress = &berthv1.WordPressSpec{Title: f.title, AdminEmail: f.adminEmail}
	} else if f.title != "" || f.adminEmail != "" {
		return nil, usageErrorf("--title and --admin-email are only for --kind wordpress")
	}
	if f.waitTimeout <= 0 && !f.noWait {
		return nil, usageErrorf("invalid --wait-timeout %s: want more than 0, or pass --no-wait", f.waitTimeout)
	}
	return s, nil
}

func (a *app) siteCreateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create --client ID --name NAME --kind wordpress|static --domain DOMAIN [flags]",
		Short: "Create a site and wait until it runs",
		Long: `Create a site, then follow it until it is RUNNING, printing a line at every
change of its state or conditions. Exits 1 if it FAILED or is still not running
after --wait-timeout (the site is kept; follow it with ` + "`berth site watch ID`" + `).`,
		Example: `  berth site create --client cl_123 --name blog --kind wordpress --domain blog.acme.test \
    --title "Acme Blog" --admin-email ops@acme.test
  berth site create --client cl_123 --name docs --kind static --domain docs.acme.test --no-wait`,
		Args: argNames(),
	}
	f := newSiteCreateFlags(cmd.Flags())
	for _, name := range []string{"client", "name", "kind", "domain"} {
		_ = cmd.MarkFlagRequired(name)
	}
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions([]string{"wordpress", "static"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		site, err := f.site()
		if err != nil {
			return err
		}
		svc, err := a.siteService()
		if err != nil {
			return err
		}
		ctx, cancel := a.callCtx(cmd.Context())
		defer cancel()
		resp, err := svc.CreateSite(ctx, &berthv1.CreateSiteRequest{Site: site})
		if err != nil {
			return err
		}
		p := a.printer()
		if f.noWait {
			return p.show(resp, func(w io.Writer, now time.Time) error {
				return writeSites(w, now, resp.GetSite())
			})
		}
		return a.waitRunning(cmd.Context(), svc, resp.GetSite(), f.waitTimeout)
	})
	return cmd
}

// waitRunning follows a new site until it is RUNNING (nil), FAILED, deleted,
// or still not running after timeout (errors). Progress lines go to stdout,
// or to stderr with -o json, where stdout gets only the final site.
func (a *app) waitRunning(ctx context.Context, svc berthv1.SiteServiceClient, site *berthv1.Site, timeout time.Duration) error {
	p := a.printer()
	progress := a.stdio.Out
	if p.json {
		progress = a.stdio.Err
	}
	id := site.GetId()
	fmt.Fprintf(progress, "Waiting for site %s (%s) to run (Ctrl-C stops waiting, the site stays)\n", id, site.GetName())
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := site
	err := a.watchSite(waitCtx, svc, id, func(s *berthv1.Site) (bool, error) {
		last = s
		return s.GetState() == berthv1.SiteState_SITE_STATE_RUNNING || s.GetState() == berthv1.SiteState_SITE_STATE_FAILED, nil
	}, progress)
	state := enumLabel(last.GetState())
	switch {
	case errors.Is(err, errSiteDeleted):
		return fmt.Errorf("site %s was deleted while waiting for it to run", id)
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("interrupted: site %s is %s; follow with `berth site watch %s`", id, state, id)
	case err != nil && (waitCtx.Err() != nil || status.Code(err) == codes.DeadlineExceeded):
		// The server may end the stream at the deadline a moment before
		// waitCtx itself expires.
		return fmt.Errorf("site %s still %s after %s; follow with `berth site watch %s`", id, state, shortDuration(timeout), id)
	case err != nil:
		return err
	case last.GetState() == berthv1.SiteState_SITE_STATE_FAILED:
		return fmt.Errorf("site %s FAILED: %s", id, failureReason(last))
	}
	return p.show(&berthv1.CreateSiteResponse{Site: last}, func(w io.Writer, _ time.Time) error {
		_, err := fmt.Fprintf(w, "Site %s is RUNNING on %s: https://%s/\n", id, last.GetNodeId(), last.GetPrimaryDomain())
		return err
	})
}

// errSiteDeleted ends a watch whose site was deleted.
var errSiteDeleted = errors.New("site deleted")

// watchSite streams site id and calls each for every version received,
// printing its progress line to progress whenever that line changes (when
// progress is not nil). It returns nil when each returns true or an error,
// errSiteDeleted when the site is deleted during the watch, and ctx's error
// when ctx ends. A stream that breaks after it has delivered the site is
// reopened; a failure to open it is returned.
func (a *app) watchSite(ctx context.Context, svc berthv1.SiteServiceClient, id string, each func(*berthv1.Site) (bool, error), progress io.Writer) error {
	var lastLine string
	received := false
	for {
		stream, err := svc.WatchSite(ctx, &berthv1.WatchSiteRequest{Id: id})
		if err != nil {
			return err
		}
		delivered := false
		for {
			resp, err := stream.Recv()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				code := status.Code(err)
				if code == codes.NotFound && received {
					return errSiteDeleted
				}
				if (code == codes.Unavailable || err == io.EOF) && delivered {
					if progress != nil {
						fmt.Fprintf(progress, "%s: connection lost (%s); reconnecting\n", id, status.Convert(err).Message())
					}
					break
				}
				if err == io.EOF {
					return fmt.Errorf("watch %s: the server ended the stream", id)
				}
				return err
			}
			received, delivered = true, true
			if line := siteProgress(resp.GetSite()); progress != nil && line != lastLine {
				fmt.Fprintln(progress, line)
				lastLine = line
			}
			done, err := each(resp.GetSite())
			if done || err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// siteProgress is one line about where a site is, e.g.
// "site_x: PENDING — Scheduled=False NoReadyNode: no ready node".
func siteProgress(s *berthv1.Site) string {
	line := s.GetId() + ": " + cell(enumLabel(s.GetState()))
	if s.GetNodeId() != "" {
		line += " on " + s.GetNodeId()
	}
	if c := conditionsSummary(s.GetConditions()); c != "" {
		line += " — " + c
	}
	return line
}

// conditionsSummary lists the conditions that are not True with their reason
// and message or, when all are True, just their names.
func conditionsSummary(conds []*berthv1.Condition) string {
	var bad, all []string
	for _, c := range conds {
		all = append(all, c.GetType()+"="+c.GetStatus())
		if c.GetStatus() != "True" {
			bad = append(bad, conditionText(c))
		}
	}
	if len(bad) > 0 {
		return strings.Join(bad, "; ")
	}
	return strings.Join(all, " ")
}

func conditionText(c *berthv1.Condition) string {
	s := c.GetType() + "=" + c.GetStatus()
	switch {
	case c.GetReason() != "" && c.GetMessage() != "":
		s += " " + c.GetReason() + ": " + c.GetMessage()
	case c.GetReason() != "":
		s += " " + c.GetReason()
	case c.GetMessage() != "":
		s += " " + c.GetMessage()
	}
	return s
}

// failureReason names the condition that explains a FAILED site.
func failureReason(s *berthv1.Site) string {
	for _, c := range s.GetConditions() {
		if c.GetStatus() == "False" && c.GetMessage() != "" {
			return conditionText(c)
		}
	}
	for _, c := range s.GetConditions() {
		if c.GetStatus() != "True" {
			return conditionText(c)
		}
	}
	return "no condition says why; see `berth site get " + s.GetId() + "`"
}

func (a *app) siteListCmd() *cobra.Command {
	var (
		clientID, nodeID, state string
		all                     bool
	)
	cmd := &cobra.Command{
		Use:   "list [--client ID] [--node ID] [--state STATE] [--all]",
		Short: "List sites",
		Args:  argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			req := &berthv1.ListSitesRequest{ClientId: clientID, NodeId: nodeID}
			if state != "" {
				n, err := parseEnum(berthv1.SiteState(0).Descriptor(), "state", state)
				if err != nil {
					return err
				}
				req.State = berthv1.SiteState(n)
			}
			svc, err := a.siteService()
			if err != nil {
				return err
			}
			sites, next, err := listAll(all, func(pageToken string) ([]*berthv1.Site, string, error) {
				ctx, cancel := a.callCtx(cmd.Context())
				defer cancel()
				req.PageToken = pageToken
				resp, err := svc.ListSites(ctx, req)
				return resp.GetSites(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			err = a.printer().show(&berthv1.ListSitesResponse{Sites: sites, NextPageToken: next}, func(w io.Writer, now time.Time) error {
				return writeSites(w, now, sites...)
			})
			if err == nil && next != "" {
				fmt.Fprintf(a.stdio.Err, "There are more than %d sites: pass --all to list them all.\n", len(sites))
			}
			return err
		}),
	}
	cmd.Flags().StringVar(&clientID, "client", "", "only this client's sites")
	cmd.Flags().StringVar(&nodeID, "node", "", "only sites placed on this node")
	cmd.Flags().StringVar(&state, "state", "", "only sites in this state: pending, provisioning, running, failed or deleting")
	cmd.Flags().BoolVar(&all, "all", false, "list every page, not only the first")
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(
		[]string{"pending", "provisioning", "running", "failed", "deleting"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (a *app) siteGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a site with its conditions",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.siteService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.GetSite(ctx, &berthv1.GetSiteRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, now time.Time) error {
				return writeSiteDetail(w, now, resp.GetSite())
			})
		}),
	}
}

// siteUpdateFlags are the flags of `site update`; only the flags given go
// into the update mask.
type siteUpdateFlags struct {
	fs                *pflag.FlagSet
	domain            string
	aliases           []string
	clearAliases      bool
	memory, cpu       int32
	title, adminEmail string
	hsts, redirect    bool
	check             uptimeCheckFlags
}

func newSiteUpdateFlags(fs *pflag.FlagSet) *siteUpdateFlags {
	f := &siteUpdateFlags{fs: fs}
	fs.StringVar(&f.domain, "domain", "", "new primary domain")
	fs.StringSliceVar(&f.aliases, "alias", nil, "alias domain (repeatable); replaces all alias domains")
	fs.BoolVar(&f.clearAliases, "clear-aliases", false, "remove all alias domains")
	fs.Int32Var(&f.memory, "memory", 0, "new memory limit in MiB")
	fs.Int32Var(&f.cpu, "cpu", 0, "new CPU limit in millicores")
	fs.StringVar(&f.title, "title", "", "new WordPress site title")
	fs.StringVar(&f.adminEmail, "admin-email", "", "new WordPress administrator's email")
	fs.BoolVar(&f.hsts, "hsts", false, "send Strict-Transport-Security (--hsts=false to stop)")
	fs.BoolVar(&f.redirect, "redirect-aliases", false, "redirect alias domains to the primary domain (--redirect-aliases=false to stop)")
	f.check.register(fs)
	return f
}

// request builds the UpdateSiteRequest for site id from the flags given.
func (f *siteUpdateFlags) request(id string) (*berthv1.UpdateSiteRequest, error) {
	s := &berthv1.Site{Id: id}
	var paths []string
	if f.fs.Changed("domain") {
		s.PrimaryDomain = f.domain
		paths = append(paths, "primary_domain")
	}
	switch {
	case f.fs.Changed("alias") && f.clearAliases:
		return nil, usageErrorf("pass either --alias or --clear-aliases, not both")
	case f.fs.Changed("alias"):
		s.AliasDomains = f.aliases
		paths = append(paths, "alias_domains")
	case f.clearAliases:
		paths = append(paths, "alias_domains")
	}
	if f.fs.Changed("memory") || f.fs.Changed("cpu") {
		s.Resources = &berthv1.Resources{}
	}
	if f.fs.Changed("memory") {
		s.Resources.MemoryMib = f.memory
		paths = append(paths, "resources.memory_mib")
	}
	if f.fs.Changed("cpu") {
		s.Resources.CpuMillicores = f.cpu
		paths = append(paths, "resources.cpu_millicores")
	}
	if f.fs.Changed("title") || f.fs.Changed("admin-email") {
		s.Wordpress = &berthv1.WordPressSpec{}
	}
	if f.fs.Changed("title") {
		s.Wordpress.Title = f.title
		paths = append(paths, "wordpress.title")
	}
	if f.fs.Changed("admin-email") {
		s.Wordpress.AdminEmail = f.adminEmail
		paths = append(paths, "wordpress.admin_email")
	}
	if f.fs.Changed("hsts") {
		s.Hsts = f.hsts
		paths = append(paths, "hsts")
	}
	if f.fs.Changed("redirect-aliases") {
		s.RedirectAliases = f.redirect
		paths = append(paths, "redirect_aliases")
	}
	if f.fs.Changed("check-interval") || f.fs.Changed("check-status") || f.fs.Changed("check-keyword") {
		// uptime_check is replaced whole: give every setting to keep.
		s.UptimeCheck = f.check.proto()
		paths = append(paths, "uptime_check")
	}
	if len(paths) == 0 {
		return nil, usageErrorf("nothing to update: pass --domain, --alias, --clear-aliases, --memory, --cpu, --title, --admin-email, --hsts, --redirect-aliases or --check-*")
	}
	return &berthv1.UpdateSiteRequest{Site: s, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}}, nil
}

func (a *app) siteUpdateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update ID [--domain D] [--alias A ... | --clear-aliases] [--memory MIB] [--cpu MILLICORES] [--title T] [--admin-email E]",
		Short: "Change a site's spec; only the flags given change",
		Args:  argNames("ID"),
	}
	f := newSiteUpdateFlags(cmd.Flags())
	cmd.MarkFlagsMutuallyExclusive("alias", "clear-aliases")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		req, err := f.request(args[0])
		if err != nil {
			return err
		}
		svc, err := a.siteService()
		if err != nil {
			return err
		}
		ctx, cancel := a.callCtx(cmd.Context())
		defer cancel()
		resp, err := svc.UpdateSite(ctx, req)
		if err != nil {
			return err
		}
		err = a.printer().show(resp, func(w io.Writer, now time.Time) error {
			return writeSites(w, now, resp.GetSite())
		})
		if err == nil && !a.printer().json {
			fmt.Fprintf(a.stdio.Err, "Follow the change with `berth site watch %s`.\n", args[0])
		}
		return err
	})
	return cmd
}

func (a *app) siteDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a site",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.siteService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.DeleteSite(ctx, &berthv1.DeleteSiteRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				var err error
				if s := resp.GetSite(); s != nil {
					_, err = fmt.Fprintf(w, "Site %s is %s: it is removed once %s has removed it; follow with `berth site watch %s`\n",
						args[0], enumLabel(s.GetState()), cell(s.GetNodeId()), args[0])
				} else {
					_, err = fmt.Fprintf(w, "Deleted site %s\n", args[0])
				}
				return err
			})
		}),
	}
}

func (a *app) siteCredentialsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "credentials ID",
		Short: "Show a WordPress site's generated admin login (only once)",
		Long: `Show the user, password and login URL of a WordPress site's administrator,
as generated when the site was created. The password is shown only once: the
next call fails. Store it in a password manager now.`,
		Args: argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.siteService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.GetSiteCredentials(ctx, &berthv1.GetSiteCredentialsRequest{Id: args[0]})
			if err != nil {
				return err
			}
			// The warning goes to stderr too, so that it is seen with -o json.
			fmt.Fprintln(a.stdio.Err, credentialsWarning)
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				return writeFields(w, [][2]string{
					{"User", resp.GetAdminUser()},
					{"Password", resp.GetAdminPassword()},
					{"Login URL", resp.GetLoginUrl()},
				})
			})
		}),
	}
}

// credentialsWarning is printed with a site's admin password.
const credentialsWarning = "This password is not shown again: store it in a password manager now. " +
	"If it is lost, reset it from the WordPress login page (Lost your password?)."

func (a *app) siteWatchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "watch ID",
		Short: "Print every change of a site until it is deleted or Ctrl-C",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.siteService()
			if err != nil {
				return err
			}
			p := a.printer()
			var progress io.Writer = a.stdio.Out
			if p.json {
				progress = nil
			}
			ctx := cmd.Context()
			err = a.watchSite(ctx, svc, args[0], func(s *berthv1.Site) (bool, error) {
				if p.json {
					return false, writeJSON(a.stdio.Out, &berthv1.WatchSiteResponse{Site: s})
				}
				return false, nil
			}, progress)
			switch {
			case errors.Is(err, errSiteDeleted):
				fmt.Fprintf(a.stdio.Err, "%s: site deleted\n", args[0])
				return nil
			case err != nil && ctx.Err() != nil:
				return nil // stopped by the user
			}
			return err
		}),
	}
}

func writeSites(w io.Writer, now time.Time, sites ...*berthv1.Site) error {
	rows := make([][]string, 0, len(sites))
	for _, s := range sites {
		domain := s.GetPrimaryDomain()
		if n := len(s.GetAliasDomains()); n > 0 {
			domain += fmt.Sprintf(" +%d", n)
		}
		rows = append(rows, []string{
			s.GetId(), s.GetName(), s.GetClientId(), enumLabel(s.GetKind()), enumLabel(s.GetState()),
			domain, s.GetNodeId(), age(s.GetCreateTime(), now),
		})
	}
	return writeTable(w, []string{"ID", "NAME", "CLIENT", "KIND", "STATE", "DOMAIN", "NODE", "AGE"}, rows)
}

func writeSiteDetail(w io.Writer, now time.Time, s *berthv1.Site) error {
	fields := [][2]string{
		{"ID", s.GetId()},
		{"Name", s.GetName()},
		{"Client", s.GetClientId()},
		{"Kind", enumLabel(s.GetKind())},
		{"State", enumLabel(s.GetState())},
		{"Domain", s.GetPrimaryDomain()},
		{"Aliases", strings.Join(s.GetAliasDomains(), ", ")},
		{"Node", s.GetNodeId()},
		{"Memory", fmt.Sprintf("%d MiB", s.GetResources().GetMemoryMib())},
		{"CPU", fmt.Sprintf("%dm", s.GetResources().GetCpuMillicores())},
		{"HSTS", yesNo(s.GetHsts())},
		{"Redirect aliases", yesNo(s.GetRedirectAliases())},
	}
	if c := s.GetUptimeCheck(); c != nil {
		interval, status := "the fleet's interval", c.GetExpectedStatus()
		if c.GetIntervalSeconds() > 0 {
			interval = (time.Duration(c.GetIntervalSeconds()) * time.Second).String()
		}
		if status == 0 {
			status = 200
		}
		text := fmt.Sprintf("every %s, expects %d", interval, status)
		if c.GetKeyword() != "" {
			text += fmt.Sprintf(", keyword %q", c.GetKeyword())
		}
		fields = append(fields, [2]string{"Uptime check", text})
	}
	if wp := s.GetWordpress(); wp != nil {
		fields = append(fields, [2]string{"Title", wp.GetTitle()}, [2]string{"Admin email", wp.GetAdminEmail()})
	}
	fields = append(fields,
		[2]string{"Generation", fmt.Sprintf("%d (observed %d)", s.GetGeneration(), s.GetObservedGeneration())},
		[2]string{"Created", withAge(s.GetCreateTime(), now)},
		[2]string{"Updated", withAge(s.GetUpdateTime(), now)},
	)
	if err := writeFields(w, fields); err != nil {
		return err
	}
	if certs := s.GetCertificates(); len(certs) > 0 {
		fmt.Fprintln(w, "\nCertificates:")
		rows := make([][]string, 0, len(certs))
		for _, c := range certs {
			rows = append(rows, []string{c.GetDomain(), orDash(c.GetIssuer()), orDash(withAge(c.GetNotAfter(), now)),
				orDash(withAge(c.GetLastAttemptTime(), now)), orDash(c.GetLastError())})
		}
		if err := writeTable(w, []string{"DOMAIN", "ISSUER", "EXPIRES", "LAST ATTEMPT", "LAST ERROR"}, rows); err != nil {
			return err
		}
	}
	if len(s.GetConditions()) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nConditions:")
	rows := make([][]string, 0, len(s.GetConditions()))
	for _, c := range s.GetConditions() {
		rows = append(rows, []string{c.GetType(), c.GetStatus(), c.GetReason(), c.GetMessage(), age(c.GetLastTransitionTime(), now)})
	}
	return writeTable(w, []string{"TYPE", "STATUS", "REASON", "MESSAGE", "AGE"}, rows)
}

// uptimeCheckFlags are a site's uptime probe settings.
type uptimeCheckFlags struct {
	interval time.Duration
	status   int32
	keyword  string
}

func (c *uptimeCheckFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&c.interval, "check-interval", 0, "how often each vantage probes the site, 10s to 1h (default: the fleet's)")
	fs.Int32Var(&c.status, "check-status", 0, "the HTTP status a healthy site answers (default 200)")
	fs.StringVar(&c.keyword, "check-keyword", "", "text that must appear in the site's answer")
}

func (c *uptimeCheckFlags) proto() *berthv1.UptimeCheck {
	if c.interval == 0 && c.status == 0 && c.keyword == "" {
		return nil
	}
	return &berthv1.UptimeCheck{IntervalSeconds: int32(c.interval / time.Second), ExpectedStatus: c.status, Keyword: c.keyword}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
