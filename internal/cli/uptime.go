package cli

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/timestamppb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func (a *app) uptimeService() (berthv1.UptimeServiceClient, error) {
	conn, err := a.dial(true)
	if err != nil {
		return nil, err
	}
	return berthv1.NewUptimeServiceClient(conn), nil
}

// timeExample ends the usage errors of time flags.
const timeExample = "want an RFC 3339 time, e.g. 2026-11-01T00:00:00Z or 2026-11-01T09:30:00+01:00"

// parseTimeFlag parses the RFC 3339 time s given to --flag; "" is unset (nil).
func parseTimeFlag(flag, s string) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, usageErrorf("invalid --%s %q: %s", flag, s, timeExample)
	}
	return timestamppb.New(t), nil
}

// timeRange parses --from and --to; either may be unset (nil), and when
// both are set --to must be after --from.
func timeRange(from, to string) (start, end *timestamppb.Timestamp, err error) {
	if start, err = parseTimeFlag("from", from); err != nil {
		return nil, nil, err
	}
	if end, err = parseTimeFlag("to", to); err != nil {
		return nil, nil, err
	}
	if start != nil && end != nil && !end.AsTime().After(start.AsTime()) {
		return nil, nil, usageErrorf("invalid --to %s: want a time after --from %s", to, from)
	}
	return start, end, nil
}

func (a *app) uptimeCmd() *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "uptime SITE [--from RFC3339 [--to RFC3339]]",
		Short: "Show a site's uptime, latency and last 90 days",
		Long: `Show what the probes measured of a site: its status in the last complete
minute, its uptime over 24 hours, 7, 30 and 90 days (and from --from to --to),
its latency over 24 hours and one bar per UTC day for the last 90 days.

Uptime counts degraded minutes as up, and leaves out minutes without data and
minutes in maintenance windows. It is rounded down, so 100.000% means that no
counted minute was down.`,
		Example: `  berth uptime site_123
  berth uptime site_123 --from 2026-11-01T00:00:00Z --to 2026-11-08T00:00:00Z`,
		Args: argNames("SITE"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			req, err := uptimeRequest(args[0], from, to, a.now())
			if err != nil {
				return err
			}
			svc, err := a.uptimeService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.GetSiteUptime(ctx, req)
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, now time.Time) error {
				return writeSiteUptime(w, now, resp)
			})
		}),
	}
	cmd.Flags().StringVar(&from, "from", "", "start of an extra custom window, RFC 3339")
	cmd.Flags().StringVar(&to, "to", "", "end of the custom window, RFC 3339 (default now)")
	return cmd
}

// uptimeRequest builds the GetSiteUptimeRequest of `berth uptime`. A custom
// window needs --from; --to defaults to now.
func uptimeRequest(siteID, from, to string, now time.Time) (*berthv1.GetSiteUptimeRequest, error) {
	if from == "" && to != "" {
		return nil, usageErrorf("--to needs --from: pass --from TIME for a custom window")
	}
	start, end, err := timeRange(from, to)
	if err != nil {
		return nil, err
	}
	if start != nil && end == nil {
		if !now.After(start.AsTime()) {
			return nil, usageErrorf("invalid --from %s: want a time in the past, or pass --to", from)
		}
		end = timestamppb.New(now.Truncate(time.Second))
	}
	return &berthv1.GetSiteUptimeRequest{SiteId: siteID, StartTime: start, EndTime: end}, nil
}

// writeSiteUptime shows a site's status, latency, windows and daily bars.
func writeSiteUptime(w io.Writer, now time.Time, resp *berthv1.GetSiteUptimeResponse) error {
	fields := [][2]string{
		{"Site", resp.GetSiteId()},
		{"Status", enumLabel(resp.GetStatus())},
		{"Latency 24h", latencySummary(resp.GetLatency_24H())},
	}
	for _, win := range resp.GetWindows() {
		if win.GetName() == "custom" {
			fields = append(fields, [2]string{"Custom window", timestamp(win.GetStartTime()) + " to " + timestamp(win.GetEndTime())})
		}
	}
	if err := writeFields(w, fields); err != nil {
		return err
	}
	if len(resp.GetWindows()) > 0 {
		fmt.Fprintln(w)
		rows := make([][]string, 0, len(resp.GetWindows()))
		for _, win := range resp.GetWindows() {
			rows = append(rows, []string{
				win.GetName(), uptimePercent(win),
				fmt.Sprint(win.GetDownMinutes()), fmt.Sprint(win.GetDegradedMinutes()),
				fmt.Sprint(win.GetNoDataMinutes()), fmt.Sprint(win.GetMaintenanceMinutes()),
			})
		}
		if err := writeTable(w, []string{"WINDOW", "UPTIME", "DOWN(min)", "DEGRADED(min)", "NO DATA(min)", "MAINTENANCE(min)"}, rows); err != nil {
			return err
		}
	}
	daily := resp.GetDaily()
	if len(daily) == 0 {
		return nil
	}
	_, err := fmt.Fprintf(w, "\nLast %d days (UTC):\n%s %s %s\n%s\n",
		len(daily), daily[0].GetDate(), dailyBars(daily), daily[len(daily)-1].GetDate(), barLegend)
	return err
}

// uptimePercent formats a window's uptime with three decimals, rounded
// down so that 100.000% means no counted minute was down; "" when no
// minute was counted.
func uptimePercent(win *berthv1.UptimeWindow) string {
	if win.GetCountedMinutes() == 0 {
		return ""
	}
	// The small addend keeps 0.99952 (stored as 0.99951999…) at 99.952.
	p := math.Floor(win.GetUptimeRatio()*100_000+1e-6) / 1000
	return fmt.Sprintf("%.3f%%", p)
}

// latencySummary is e.g. "p50 120 ms, p95 340 ms, p99 910 ms (1440 samples)".
func latencySummary(l *berthv1.Latency) string {
	if l.GetSamples() == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s, p95 %s, p99 %s (%d %s)",
		milliseconds(l.GetP50Ms()), milliseconds(l.GetP95Ms()), milliseconds(l.GetP99Ms()),
		l.GetSamples(), plural(int(l.GetSamples()), "sample", "samples"))
}

func milliseconds(ms float64) string {
	if ms < 10 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// barLegend explains the characters of dailyBars.
const barLegend = "█ ≥ 99.9%  ▆ ≥ 99%  ▃ ≥ 95%  ▁ < 95%  · no data"

// dailyBars is one character per day, oldest first; see barLegend.
func dailyBars(days []*berthv1.DailyBar) string {
	var b strings.Builder
	for _, d := range days {
		b.WriteRune(dayBar(d.GetUptime()))
	}
	return b.String()
}

func dayBar(win *berthv1.UptimeWindow) rune {
	// A ratio right at a threshold may arrive as 0.98999999…; it belongs
	// to the higher bar.
	const eps = 1e-9
	r := win.GetUptimeRatio()
	switch {
	case win.GetCountedMinutes() == 0:
		return '·'
	case r >= 0.999-eps:
		return '█'
	case r >= 0.99-eps:
		return '▆'
	case r >= 0.95-eps:
		return '▃'
	default:
		return '▁'
	}
}

// incidentsFlags are the flags of `berth incidents`.
type incidentsFlags struct {
	clientID, siteID, from, to string
	open, all                  bool
}

func newIncidentsFlags(fs *pflag.FlagSet) *incidentsFlags {
	f := &incidentsFlags{}
	fs.StringVar(&f.clientID, "client", "", "only incidents of this client's sites")
	fs.StringVar(&f.siteID, "site", "", "only incidents of this site")
	fs.BoolVar(&f.open, "open", false, "only incidents that are still open")
	fs.StringVar(&f.from, "from", "", "only incidents still open at or after this time, RFC 3339")
	fs.StringVar(&f.to, "to", "", "only incidents started before this time, RFC 3339")
	fs.BoolVar(&f.all, "all", false, "list every page, not only the first")
	return f
}

// request builds the ListIncidentsRequest of the flags, without a page token.
func (f *incidentsFlags) request() (*berthv1.ListIncidentsRequest, error) {
	start, end, err := timeRange(f.from, f.to)
	if err != nil {
		return nil, err
	}
	return &berthv1.ListIncidentsRequest{
		ClientId: f.clientID, SiteId: f.siteID, StartTime: start, EndTime: end, OpenOnly: f.open,
	}, nil
}

func (a *app) incidentsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "incidents [--client ID] [--site ID] [--open] [--from RFC3339] [--to RFC3339] [--all]",
		Short: "List incidents (runs of down minutes), newest first",
		Long: `List incidents, newest first. An incident is a run of minutes in which more
than half of the vantage points that reported saw a site fail. --from and --to
keep the incidents that overlap that range. Show one with ` + "`berth incident ID`" + `.`,
		Example: `  berth incidents --open
  berth incidents --client cl_123 --from 2026-11-01T00:00:00Z --to 2026-12-01T00:00:00Z --all`,
		Args: argNames(),
	}
	f := newIncidentsFlags(cmd.Flags())
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		req, err := f.request()
		if err != nil {
			return err
		}
		svc, err := a.uptimeService()
		if err != nil {
			return err
		}
		incidents, next, err := listAll(f.all, func(pageToken string) ([]*berthv1.Incident, string, error) {
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			req.PageToken = pageToken
			resp, err := svc.ListIncidents(ctx, req)
			return resp.GetIncidents(), resp.GetNextPageToken(), err
		})
		if err != nil {
			return err
		}
		err = a.printer().show(&berthv1.ListIncidentsResponse{Incidents: incidents, NextPageToken: next}, func(w io.Writer, now time.Time) error {
			return writeIncidents(w, now, incidents...)
		})
		if err == nil && next != "" {
			fmt.Fprintf(a.stdio.Err, "There are more than %d incidents: pass --all to list them all.\n", len(incidents))
		}
		return err
	})
	return cmd
}

func (a *app) incidentCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "incident ID",
		Short: "Show an incident",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.uptimeService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.GetIncident(ctx, &berthv1.GetIncidentRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, now time.Time) error {
				return writeIncidentDetail(w, now, resp.GetIncident())
			})
		}),
	}
}

// incidentDuration is how long an incident lasted, or has lasted until now
// while it is open.
func incidentDuration(inc *berthv1.Incident, now time.Time) string {
	d := time.Duration(inc.GetDurationSeconds()) * time.Second
	if inc.GetOpen() && inc.GetStartTime() != nil {
		d = now.Sub(inc.GetStartTime().AsTime()).Truncate(time.Second)
	}
	if d <= 0 {
		return ""
	}
	return shortDuration(d)
}

func incidentEnd(inc *berthv1.Incident) string {
	if inc.GetOpen() {
		return "open"
	}
	return timestamp(inc.GetEndTime())
}

func writeIncidents(w io.Writer, now time.Time, incidents ...*berthv1.Incident) error {
	rows := make([][]string, 0, len(incidents))
	for _, inc := range incidents {
		rows = append(rows, []string{
			inc.GetId(), inc.GetSiteId(), timestamp(inc.GetStartTime()), incidentEnd(inc), incidentDuration(inc, now),
			strings.Join(inc.GetErrorClasses(), ", "), strings.Join(inc.GetVantages(), ", "),
		})
	}
	return writeTable(w, []string{"ID", "SITE", "STARTED", "ENDED", "DURATION", "CAUSE", "VANTAGES"}, rows)
}

func writeIncidentDetail(w io.Writer, now time.Time, inc *berthv1.Incident) error {
	ended := withAge(inc.GetEndTime(), now)
	if inc.GetOpen() {
		ended = "open"
	}
	if err := writeFields(w, [][2]string{
		{"ID", inc.GetId()},
		{"Site", inc.GetSiteId()},
		{"Client", inc.GetClientId()},
		{"Started", withAge(inc.GetStartTime(), now)},
		{"Ended", ended},
		{"Duration", incidentDuration(inc, now)},
		{"Cause", strings.Join(inc.GetErrorClasses(), ", ")},
		{"Vantages", strings.Join(inc.GetVantages(), ", ")},
	}); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nSee the site's uptime with `berth uptime %s`.\n", inc.GetSiteId())
	return err
}

// actionCSV is action for a command that also prints -o csv. The shared
// checks of action know only table and json, so csv passes them as table
// and fn is told to print CSV instead.
func (a *app) actionCSV(fn func(cmd *cobra.Command, args []string, csv bool) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if a.output != "table" && a.output != "json" && a.output != "csv" {
			return usageErrorf("invalid --output %q: want table, json or csv", a.output)
		}
		csv := a.output == "csv"
		if csv {
			a.output = "table"
		}
		return a.action(func(cmd *cobra.Command, args []string) error { return fn(cmd, args, csv) })(cmd, args)
	}
}

// slaMonth checks --month: a month as "2026-11".
func slaMonth(s string) (string, error) {
	if _, err := time.Parse("2006-01", s); err != nil {
		return "", usageErrorf("invalid --month %q: want YYYY-MM, e.g. 2026-11", s)
	}
	return s, nil
}

func (a *app) slaCmd() *cobra.Command {
	var month string
	cmd := &cobra.Command{
		Use:   "sla CLIENT --month YYYY-MM [-o table|json|csv]",
		Short: "Show a client's monthly SLA report",
		Long: `Show a client's SLA report for one calendar month (UTC): each site's uptime,
down minutes, incidents and the minutes left out for maintenance. Uptime counts
degraded minutes as up and leaves out minutes without data and in maintenance.

-o csv prints the report as CSV, one line per site, as berthd makes it.`,
		Example: `  berth sla cl_123 --month 2026-11
  berth sla cl_123 --month 2026-11 -o csv > acme-2026-11.csv`,
		Args: argNames("CLIENT"),
	}
	cmd.Flags().StringVar(&month, "month", "", "the month, YYYY-MM (UTC)")
	_ = cmd.MarkFlagRequired("month")
	cmd.RunE = a.actionCSV(func(cmd *cobra.Command, args []string, csv bool) error {
		m, err := slaMonth(month)
		if err != nil {
			return err
		}
		svc, err := a.uptimeService()
		if err != nil {
			return err
		}
		ctx, cancel := a.callCtx(cmd.Context())
		defer cancel()
		resp, err := svc.GetSLAReport(ctx, &berthv1.GetSLAReportRequest{ClientId: args[0], Month: m})
		if err != nil {
			return err
		}
		if csv {
			return writeCSV(a.stdio.Out, resp.GetCsv())
		}
		return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
			return writeSLAReport(w, resp)
		})
	})
	return cmd
}

// writeCSV writes the report's CSV as berthd made it, ending with a newline.
func writeCSV(w io.Writer, csv string) error {
	if csv != "" && !strings.HasSuffix(csv, "\n") {
		csv += "\n"
	}
	_, err := io.WriteString(w, csv)
	return err
}

func writeSLAReport(w io.Writer, resp *berthv1.GetSLAReportResponse) error {
	fmt.Fprintf(w, "SLA report of client %s for %s (UTC)\n\n", resp.GetClientId(), resp.GetMonth())
	rows := make([][]string, 0, len(resp.GetSites()))
	for _, s := range resp.GetSites() {
		u := s.GetUptime()
		rows = append(rows, []string{
			s.GetSiteId(), s.GetName(), s.GetPrimaryDomain(), uptimePercent(u),
			fmt.Sprint(u.GetDownMinutes()), fmt.Sprint(s.GetIncidents()), fmt.Sprint(u.GetMaintenanceMinutes()),
		})
	}
	return writeTable(w, []string{"SITE", "NAME", "DOMAIN", "UPTIME", "DOWNTIME(min)", "INCIDENTS", "MAINTENANCE(min)"}, rows)
}

func (a *app) maintenanceCmd() *cobra.Command {
	return group("maintenance", "Manage maintenance windows, left out of uptime, SLA and alerts",
		a.maintenanceCreateCmd(), a.maintenanceListCmd(), a.maintenanceDeleteCmd())
}

// maintenanceCreateFlags are the flags of `maintenance create`.
type maintenanceCreateFlags struct {
	fs                                   *pflag.FlagSet
	siteID, clientID, start, end, reason string
	duration                             time.Duration
}

func newMaintenanceCreateFlags(fs *pflag.FlagSet) *maintenanceCreateFlags {
	f := &maintenanceCreateFlags{fs: fs}
	fs.StringVar(&f.siteID, "site", "", "the site under maintenance")
	fs.StringVar(&f.clientID, "client", "", "the client all of whose sites are under maintenance")
	fs.StringVar(&f.start, "start", "", `start, RFC 3339, or "now"`)
	fs.StringVar(&f.end, "end", "", "end, RFC 3339")
	fs.DurationVar(&f.duration, "duration", 0, "length instead of --end, e.g. 2h or 90m")
	fs.StringVar(&f.reason, "reason", "", `why, e.g. "PHP 8.4 upgrade"; shown in reports`)
	return f
}

// window builds the maintenance window to create from the flags.
func (f *maintenanceCreateFlags) window(now time.Time) (*berthv1.MaintenanceWindow, error) {
	switch {
	case f.siteID == "" && f.clientID == "":
		return nil, usageErrorf("pass --site ID for one site or --client ID for all of a client's sites")
	case f.siteID != "" && f.clientID != "":
		return nil, usageErrorf("pass either --site or --client, not both")
	}
	var start time.Time
	switch f.start {
	case "":
		return nil, usageErrorf(`missing --start: pass an RFC 3339 time or "now"`)
	case "now":
		start = now.Truncate(time.Second)
	default:
		ts, err := parseTimeFlag("start", f.start)
		if err != nil {
			return nil, usageErrorf(`invalid --start %q: %s, or "now"`, f.start, timeExample)
		}
		start = ts.AsTime()
	}
	var end time.Time
	switch {
	case f.end != "" && f.fs.Changed("duration"):
		return nil, usageErrorf("pass either --end or --duration, not both")
	case f.end != "":
		ts, err := parseTimeFlag("end", f.end)
		if err != nil {
			return nil, err
		}
		if end = ts.AsTime(); !end.After(start) {
			return nil, usageErrorf("invalid --end %s: want a time after --start %s", f.end, f.start)
		}
	case f.fs.Changed("duration"):
		if f.duration <= 0 {
			return nil, usageErrorf("invalid --duration %s: want more than 0, e.g. 2h", f.duration)
		}
		end = start.Add(f.duration)
	default:
		return nil, usageErrorf("pass --end TIME or --duration D (e.g. 2h) to say when the maintenance ends")
	}
	reason := strings.TrimSpace(f.reason)
	if reason == "" {
		return nil, usageErrorf(`missing --reason: say why, e.g. --reason "PHP 8.4 upgrade"`)
	}
	return &berthv1.MaintenanceWindow{
		SiteId: f.siteID, ClientId: f.clientID,
		StartTime: timestamppb.New(start), EndTime: timestamppb.New(end),
		Reason: reason,
	}, nil
}

func (a *app) maintenanceCreateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create (--site ID | --client ID) --start RFC3339|now (--end RFC3339 | --duration 2h) --reason TEXT",
		Short: "Plan a maintenance window for a site or all of a client's sites",
		Long: `Plan a maintenance window. Its minutes are left out of uptime and SLA reports,
and no alerts are sent for them.`,
		Example: `  berth maintenance create --site site_123 --start 2026-12-01T22:00:00Z --duration 2h --reason "PHP 8.4 upgrade"
  berth maintenance create --client cl_123 --start now --end 2026-11-29T06:00:00+01:00 --reason "node move"`,
		Args: argNames(),
	}
	f := newMaintenanceCreateFlags(cmd.Flags())
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		win, err := f.window(a.now())
		if err != nil {
			return err
		}
		svc, err := a.uptimeService()
		if err != nil {
			return err
		}
		ctx, cancel := a.callCtx(cmd.Context())
		defer cancel()
		resp, err := svc.CreateMaintenanceWindow(ctx, &berthv1.CreateMaintenanceWindowRequest{Window: win})
		if err != nil {
			return err
		}
		return a.printer().show(resp, func(w io.Writer, now time.Time) error {
			return writeMaintenanceWindows(w, now, resp.GetWindow())
		})
	})
	return cmd
}

func (a *app) maintenanceListCmd() *cobra.Command {
	var (
		req      berthv1.ListMaintenanceWindowsRequest
		upcoming bool
	)
	cmd := &cobra.Command{
		Use:   "list [--client ID] [--site ID] [--upcoming]",
		Short: "List maintenance windows",
		Args:  argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			if upcoming {
				req.EndAfter = timestamppb.New(a.now())
			}
			svc, err := a.uptimeService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.ListMaintenanceWindows(ctx, &req)
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, now time.Time) error {
				return writeMaintenanceWindows(w, now, resp.GetWindows()...)
			})
		}),
	}
	cmd.Flags().StringVar(&req.ClientId, "client", "", "only this client's windows")
	cmd.Flags().StringVar(&req.SiteId, "site", "", "only this site's windows")
	cmd.Flags().BoolVar(&upcoming, "upcoming", false, "only windows that are not over: active and upcoming")
	return cmd
}

func (a *app) maintenanceDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a maintenance window",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.uptimeService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.DeleteMaintenanceWindow(ctx, &berthv1.DeleteMaintenanceWindowRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				_, err := fmt.Fprintf(w, "Deleted maintenance window %s\n", args[0])
				return err
			})
		}),
	}
}

// maintenanceState is "upcoming", "active" or "over" at now.
func maintenanceState(m *berthv1.MaintenanceWindow, now time.Time) string {
	switch {
	case m.GetStartTime() != nil && now.Before(m.GetStartTime().AsTime()):
		return "upcoming"
	case m.GetEndTime() != nil && now.Before(m.GetEndTime().AsTime()):
		return "active"
	default:
		return "over"
	}
}

func writeMaintenanceWindows(w io.Writer, now time.Time, windows ...*berthv1.MaintenanceWindow) error {
	rows := make([][]string, 0, len(windows))
	for _, m := range windows {
		rows = append(rows, []string{
			m.GetId(), m.GetSiteId(), m.GetClientId(), timestamp(m.GetStartTime()), timestamp(m.GetEndTime()),
			maintenanceState(m, now), m.GetReason(), m.GetCreatedBy(),
		})
	}
	return writeTable(w, []string{"ID", "SITE", "CLIENT", "START", "END", "STATE", "REASON", "BY"}, rows)
}
