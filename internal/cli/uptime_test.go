package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// uptimeNow is the fixed "now" of the uptime and alert tests.
var uptimeNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// ts is t as a Timestamp.
func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// localUTC makes timestamp() format in UTC for the rest of the test, so that
// expected tables do not depend on the machine's zone. The package's tests
// do not run in parallel.
func localUTC(t *testing.T) {
	t.Helper()
	saved := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = saved })
}

// wantUsageError fails unless err is a usage error containing want.
func wantUsageError(t *testing.T, err error, want string) {
	t.Helper()
	var ue *usageError
	if !errors.As(err, &ue) {
		t.Fatalf("error = %v, want a usage error containing %q", err, want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to contain %q", err, want)
	}
}

func TestUptimeRequest(t *testing.T) {
	tests := []struct {
		name, from, to string
		want           *berthv1.GetSiteUptimeRequest
		wantErr        string
	}{
		{name: "standard windows only", want: &berthv1.GetSiteUptimeRequest{SiteId: "site_1"}},
		{
			name: "custom window", from: "2026-11-01T00:00:00Z", to: "2026-11-08T01:00:00+01:00",
			want: &berthv1.GetSiteUptimeRequest{SiteId: "site_1",
				StartTime: ts(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)), EndTime: ts(time.Date(2026, 11, 8, 0, 0, 0, 0, time.UTC))},
		},
		{
			name: "custom window until now", from: "2026-11-27T12:00:00Z",
			want: &berthv1.GetSiteUptimeRequest{SiteId: "site_1",
				StartTime: ts(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)), EndTime: ts(uptimeNow)},
		},
		{name: "to without from", to: "2026-11-08T00:00:00Z", wantErr: "--to needs --from"},
		{name: "not RFC 3339", from: "2026-11-01", to: "2026-11-08", wantErr: `invalid --from "2026-11-01": want an RFC 3339 time`},
		{name: "backwards", from: "2026-11-08T00:00:00Z", to: "2026-11-01T00:00:00Z", wantErr: "invalid --to 2026-11-01T00:00:00Z: want a time after --from"},
		{name: "future from, no to", from: "2026-12-01T00:00:00Z", wantErr: "want a time in the past, or pass --to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := uptimeRequest("site_1", tt.from, tt.to, uptimeNow)
			if tt.wantErr != "" {
				wantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIncidentsRequest(t *testing.T) {
	tests := []struct {
		args    []string
		want    *berthv1.ListIncidentsRequest
		wantErr string
	}{
		{nil, &berthv1.ListIncidentsRequest{}, ""},
		{[]string{"--client", "cl_1", "--site", "site_1", "--open"}, &berthv1.ListIncidentsRequest{ClientId: "cl_1", SiteId: "site_1", OpenOnly: true}, ""},
		{[]string{"--from", "2026-11-01T00:00:00Z"}, &berthv1.ListIncidentsRequest{StartTime: ts(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))}, ""},
		{[]string{"--from", "2026-11-01T00:00:00Z", "--to", "2026-12-01T00:00:00Z", "--all"}, &berthv1.ListIncidentsRequest{
			StartTime: ts(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)), EndTime: ts(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))}, ""},
		{[]string{"--to", "yesterday"}, nil, `invalid --to "yesterday": want an RFC 3339 time`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := pflag.NewFlagSet("incidents", pflag.ContinueOnError)
			f := newIncidentsFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := f.request()
			if tt.wantErr != "" {
				wantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMaintenanceWindowFromFlags(t *testing.T) {
	start := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	tests := []struct {
		args    []string
		want    *berthv1.MaintenanceWindow
		wantErr string
	}{
		{
			args: []string{"--site", "site_1", "--start", "2026-12-01T22:00:00Z", "--duration", "2h", "--reason", " PHP 8.4 upgrade "},
			want: &berthv1.MaintenanceWindow{SiteId: "site_1", StartTime: ts(start), EndTime: ts(start.Add(2 * time.Hour)), Reason: "PHP 8.4 upgrade"},
		},
		{
			args: []string{"--client", "cl_1", "--start", "2026-12-01T23:00:00+01:00", "--end", "2026-12-02T00:30:00Z", "--reason", "node move"},
			want: &berthv1.MaintenanceWindow{ClientId: "cl_1", StartTime: ts(start), EndTime: ts(start.Add(150 * time.Minute)), Reason: "node move"},
		},
		{
			args: []string{"--site", "site_1", "--start", "now", "--duration", "30m", "--reason", "restart"},
			want: &berthv1.MaintenanceWindow{SiteId: "site_1", StartTime: ts(uptimeNow), EndTime: ts(uptimeNow.Add(30 * time.Minute)), Reason: "restart"},
		},
		{args: []string{"--start", "now", "--duration", "1h", "--reason", "r"}, wantErr: "pass --site ID for one site or --client ID"},
		{args: []string{"--site", "s", "--client", "c", "--start", "now", "--duration", "1h", "--reason", "r"}, wantErr: "pass either --site or --client, not both"},
		{args: []string{"--site", "s", "--duration", "1h", "--reason", "r"}, wantErr: `missing --start: pass an RFC 3339 time or "now"`},
		{args: []string{"--site", "s", "--start", "tonight", "--duration", "1h", "--reason", "r"}, wantErr: `invalid --start "tonight": want an RFC 3339 time`},
		{args: []string{"--site", "s", "--start", "now", "--reason", "r"}, wantErr: "pass --end TIME or --duration D"},
		{args: []string{"--site", "s", "--start", "now", "--end", "2026-12-01T00:00:00Z", "--duration", "1h", "--reason", "r"}, wantErr: "pass either --end or --duration, not both"},
		{args: []string{"--site", "s", "--start", "now", "--duration", "0s", "--reason", "r"}, wantErr: "invalid --duration 0s: want more than 0"},
		{args: []string{"--site", "s", "--start", "2026-12-01T22:00:00Z", "--end", "2026-12-01T21:00:00Z", "--reason", "r"}, wantErr: "invalid --end 2026-12-01T21:00:00Z: want a time after --start"},
		{args: []string{"--site", "s", "--start", "now", "--duration", "1h", "--reason", "  "}, wantErr: "missing --reason"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
			f := newMaintenanceCreateFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := f.window(uptimeNow)
			if tt.wantErr != "" {
				wantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("window (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAlertChannelFromFlags(t *testing.T) {
	const hook = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
	email := []string{"--name", "ops-mail", "--kind", "email", "--smtp-address", "smtp.example.com:587",
		"--from", "berth@example.com", "--to", "ops@example.com", "--to", "oncall@example.com"}
	tests := []struct {
		name    string
		args    []string
		stdin   string
		want    *berthv1.AlertChannel
		wantErr string // a usage error unless wantRun
		wantRun bool   // wantErr is a plain error, as when stdin is wrong
	}{
		{
			name: "slack from stdin", args: []string{"--name", "ops", "--kind", "slack", "--url-stdin"}, stdin: hook + "\n",
			want: &berthv1.AlertChannel{Name: "ops", Kind: berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_SLACK, Url: hook},
		},
		{
			name: "webhook for one client", args: []string{"--name", "acme", "--kind", "WEBHOOK", "--client", "cl_1", "--url", "http://10.0.0.5:8080/alerts"},
			want: &berthv1.AlertChannel{Name: "acme", Kind: berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_WEBHOOK, ClientId: "cl_1", Url: "http://10.0.0.5:8080/alerts"},
		},
		{
			name: "email with login", args: append([]string{"--smtp-username", "alerts", "--smtp-password-stdin"}, email...), stdin: "s3cret pass\r\n",
			want: &berthv1.AlertChannel{Name: "ops-mail", Kind: berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_EMAIL,
				SmtpAddress: "smtp.example.com:587", SmtpUsername: "alerts", SmtpPassword: "s3cret pass",
				EmailFrom: "berth@example.com", EmailTo: []string{"ops@example.com", "oncall@example.com"}},
		},
		{
			name: "email without login", args: email,
			want: &berthv1.AlertChannel{Name: "ops-mail", Kind: berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_EMAIL,
				SmtpAddress: "smtp.example.com:587", EmailFrom: "berth@example.com", EmailTo: []string{"ops@example.com", "oncall@example.com"}},
		},
		{name: "bad kind", args: []string{"--name", "n", "--kind", "pager"}, wantErr: `invalid --kind "pager": want webhook, slack or email`},
		{name: "no url", args: []string{"--name", "n", "--kind", "slack"}, wantErr: "--kind slack needs the webhook URL: pass --url-stdin"},
		{name: "both urls", args: []string{"--name", "n", "--kind", "webhook", "--url", "https://a.test/", "--url-stdin"}, wantErr: "pass either --url or --url-stdin, not both"},
		{name: "bad url", args: []string{"--name", "n", "--kind", "webhook", "--url", "ftp://a.test/x?token=abc"}, wantErr: "invalid webhook URL: want http:// or https://"},
		{name: "smtp flag on webhook", args: []string{"--name", "n", "--kind", "webhook", "--url", "https://a.test/", "--to", "a@b.test"}, wantErr: "--to is only for --kind email"},
		{name: "url on email", args: append([]string{"--url", "https://a.test/"}, email...), wantErr: "--url and --url-stdin are only for --kind webhook or slack"},
		{name: "email without server", args: []string{"--name", "n", "--kind", "email", "--from", "a@b.test", "--to", "c@d.test"}, wantErr: "--kind email needs --smtp-address host:port"},
		{name: "email bad server", args: append(email, "--smtp-address", "smtp.example.com"), wantErr: `invalid --smtp-address "smtp.example.com": want host:port`},
		{name: "email without recipients", args: []string{"--name", "n", "--kind", "email", "--smtp-address", "h:25", "--from", "a@b.test"}, wantErr: "needs --from ADDRESS and at least one --to ADDRESS"},
		{name: "email bad recipient", args: append(email, "--to", "oncall"), wantErr: `invalid --to "oncall": want an email address`},
		{name: "user without password", args: append(email, "--smtp-username", "alerts"), wantErr: "--smtp-username and --smtp-password-stdin go together"},
		{name: "empty name", args: []string{"--name", " ", "--kind", "slack", "--url-stdin"}, wantErr: "missing --name"},
		{name: "nothing on stdin", args: []string{"--name", "n", "--kind", "slack", "--url-stdin"}, wantErr: "no URL on stdin: pipe it in", wantRun: true},
		{name: "empty line on stdin", args: append([]string{"--smtp-username", "u", "--smtp-password-stdin"}, email...), stdin: "\n", wantErr: "empty SMTP password on stdin", wantRun: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
			f := newAlertChannelFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := f.channel(strings.NewReader(tt.stdin))
			switch {
			case tt.wantErr != "" && tt.wantRun:
				var ue *usageError
				if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want a plain error containing %q", err, tt.wantErr)
				}
				return
			case tt.wantErr != "":
				wantUsageError(t, err, tt.wantErr)
				return
			case err != nil:
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("channel (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSLAMonth(t *testing.T) {
	if got, err := slaMonth("2026-11"); err != nil || got != "2026-11" {
		t.Errorf(`slaMonth("2026-11") = %q, %v`, got, err)
	}
	for _, bad := range []string{"", "2026-13", "2026-11-01", "11/2026", "2026-1"} {
		_, err := slaMonth(bad)
		wantUsageError(t, err, `invalid --month "`+bad+`": want YYYY-MM, e.g. 2026-11`)
	}
}

// window is an UptimeWindow with counted minutes split as given.
func window(name string, ratio float64, counted, down, degraded, noData, maintenance int64) *berthv1.UptimeWindow {
	return &berthv1.UptimeWindow{Name: name, UptimeRatio: ratio, CountedMinutes: counted, DownMinutes: down,
		DegradedMinutes: degraded, NoDataMinutes: noData, MaintenanceMinutes: maintenance}
}

func TestUptimePercent(t *testing.T) {
	tests := []struct {
		win  *berthv1.UptimeWindow
		want string
	}{
		{window("", 1, 1440, 0, 0, 0, 0), "100.000%"},
		{window("", 0.99952, 10080, 5, 0, 0, 0), "99.952%"},
		{window("", 0.9999996, 43200, 0, 0, 0, 0), "99.999%"}, // never rounded up to 100.000%
		{window("", 0.5, 2, 1, 0, 0, 0), "50.000%"},
		{window("", 0, 60, 60, 0, 0, 0), "0.000%"},
		{window("", 1, 0, 0, 0, 1440, 0), ""}, // nothing counted
	}
	for _, tt := range tests {
		if got := uptimePercent(tt.win); got != tt.want {
			t.Errorf("uptimePercent(ratio %v, counted %d) = %q, want %q", tt.win.GetUptimeRatio(), tt.win.GetCountedMinutes(), got, tt.want)
		}
	}
}

func TestDailyBars(t *testing.T) {
	var days []*berthv1.DailyBar
	for _, w := range []*berthv1.UptimeWindow{
		window("", 1, 1440, 0, 0, 0, 0),
		window("", 0.999, 1000, 1, 0, 0, 0),
		window("", 0.99899, 1440, 2, 0, 0, 0),
		window("", 0.99, 1440, 15, 0, 0, 0),
		window("", 0.95, 1440, 72, 0, 0, 0),
		window("", 0.9499, 1440, 73, 0, 0, 0),
		window("", 1, 0, 0, 0, 1440, 0),
		window("", 1, 0, 0, 0, 0, 1440),
	} {
		days = append(days, &berthv1.DailyBar{Uptime: w})
	}
	if got, want := dailyBars(days), "██▆▆▃▁··"; got != want {
		t.Errorf("dailyBars = %q, want %q", got, want)
	}
}

func TestWriteSiteUptime(t *testing.T) {
	localUTC(t)
	resp := &berthv1.GetSiteUptimeResponse{
		SiteId: "site_01",
		Status: berthv1.MinuteStatus_MINUTE_STATUS_DEGRADED,
		Windows: []*berthv1.UptimeWindow{
			window("24h", 1, 1440, 0, 3, 0, 0),
			window("7d", 0.99952, 10075, 5, 12, 5, 0),
			window("30d", 0.998, 43080, 86, 40, 0, 120),
			window("90d", 0.9993, 128000, 90, 55, 1600, 0),
			{Name: "custom", StartTime: ts(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)), EndTime: ts(time.Date(2026, 11, 8, 0, 0, 0, 0, time.UTC)),
				UptimeRatio: 1, CountedMinutes: 10080},
		},
		Daily: []*berthv1.DailyBar{
			{Date: "2026-11-23", Uptime: window("", 1, 0, 0, 0, 1440, 0)},
			{Date: "2026-11-24", Uptime: window("", 1, 1440, 0, 0, 0, 0)},
			{Date: "2026-11-25", Uptime: window("", 0.995, 1440, 7, 0, 0, 0)},
			{Date: "2026-11-26", Uptime: window("", 0.96, 1440, 58, 0, 0, 0)},
			{Date: "2026-11-27", Uptime: window("", 0.9, 1440, 144, 0, 0, 0)},
			{Date: "2026-11-28", Uptime: window("", 1, 720, 0, 3, 0, 0)},
		},
		Latency_24H: &berthv1.Latency{P50Ms: 118.4, P95Ms: 342.6, P99Ms: 8.25, Samples: 4320},
	}
	var b bytes.Buffer
	if err := writeSiteUptime(&b, uptimeNow, resp); err != nil {
		t.Fatal(err)
	}
	want := `Site:           site_01
Status:         DEGRADED
Latency 24h:    p50 118 ms, p95 343 ms, p99 8.2 ms (4320 samples)
Custom window:  2026-11-01 00:00:00 UTC to 2026-11-08 00:00:00 UTC

WINDOW  UPTIME    DOWN(min)  DEGRADED(min)  NO DATA(min)  MAINTENANCE(min)
24h     100.000%  0          3              0             0
7d      99.952%   5          12             5             0
30d     99.800%   86         40             0             120
90d     99.930%   90         55             1600          0
custom  100.000%  0          0              0             0

Last 6 days (UTC):
2026-11-23 ·█▆▃▁█ 2026-11-28
█ ≥ 99.9%  ▆ ≥ 99%  ▃ ≥ 95%  ▁ < 95%  · no data
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}

	// A site without probe data yet.
	b.Reset()
	if err := writeSiteUptime(&b, uptimeNow, &berthv1.GetSiteUptimeResponse{SiteId: "site_02", Status: berthv1.MinuteStatus_MINUTE_STATUS_NO_DATA,
		Windows: []*berthv1.UptimeWindow{window("24h", 1, 0, 0, 0, 1440, 0)}}); err != nil {
		t.Fatal(err)
	}
	want = `Site:         site_02
Status:       NO_DATA
Latency 24h:  no samples

WINDOW  UPTIME  DOWN(min)  DEGRADED(min)  NO DATA(min)  MAINTENANCE(min)
24h     -       0          0              1440          0
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("output without data (-want +got):\n%s", diff)
	}
}

func testIncidents() []*berthv1.Incident {
	return []*berthv1.Incident{
		{
			Id: "inc_02", SiteId: "site_01", ClientId: "cl_acme", Open: true,
			StartTime:    ts(uptimeNow.Add(-95 * time.Minute)),
			ErrorClasses: []string{"timeout"}, Vantages: []string{"node_a", "node_b"},
		},
		{
			Id: "inc_01", SiteId: "site_02", ClientId: "cl_acme",
			StartTime: ts(time.Date(2026, 11, 20, 3, 14, 0, 0, time.UTC)), EndTime: ts(time.Date(2026, 11, 20, 3, 21, 0, 0, time.UTC)),
			DurationSeconds: 420, ErrorClasses: []string{"refused", "http_5xx"}, Vantages: []string{"node_b", "node_c", "node_d"},
		},
	}
}

func TestWriteIncidents(t *testing.T) {
	localUTC(t)
	var b bytes.Buffer
	if err := writeIncidents(&b, uptimeNow, testIncidents()...); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID      SITE     STARTED                  ENDED                    DURATION  CAUSE              VANTAGES\n" +
		"inc_02  site_01  2026-11-28 10:25:00 UTC  open                     1h35m     timeout            node_a, node_b\n" +
		"inc_01  site_02  2026-11-20 03:14:00 UTC  2026-11-20 03:21:00 UTC  7m        refused, http_5xx  node_b, node_c, node_d\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestWriteIncidentDetail(t *testing.T) {
	localUTC(t)
	var b bytes.Buffer
	if err := writeIncidentDetail(&b, uptimeNow, testIncidents()[1]); err != nil {
		t.Fatal(err)
	}
	want := `ID:        inc_01
Site:      site_02
Client:    cl_acme
Started:   2026-11-20 03:14:00 UTC (8d ago)
Ended:     2026-11-20 03:21:00 UTC (8d ago)
Duration:  7m
Cause:     refused, http_5xx
Vantages:  node_b, node_c, node_d

See the site's uptime with ` + "`berth uptime site_02`" + `.
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func testSLAReport() *berthv1.GetSLAReportResponse {
	return &berthv1.GetSLAReportResponse{
		ClientId: "cl_acme", Month: "2026-10",
		Sites: []*berthv1.SLASite{
			{SiteId: "site_01", Name: "blog", PrimaryDomain: "blog.acme.test", Uptime: window("2026-10", 0.99952, 44520, 21, 4, 0, 120), Incidents: 2},
			{SiteId: "site_02", Name: "docs", PrimaryDomain: "docs.acme.test", Uptime: window("2026-10", 1, 44640, 0, 0, 0, 0)},
		},
		Csv: "site_id,name,primary_domain,uptime_percent,down_minutes,incidents,maintenance_minutes\n" +
			"site_01,blog,blog.acme.test,99.952,21,2,120\nsite_02,docs,docs.acme.test,100.000,0,0,0",
	}
}

func TestWriteSLAReport(t *testing.T) {
	var b bytes.Buffer
	if err := writeSLAReport(&b, testSLAReport()); err != nil {
		t.Fatal(err)
	}
	want := `SLA report of client cl_acme for 2026-10 (UTC)

SITE     NAME  DOMAIN          UPTIME    DOWNTIME(min)  INCIDENTS  MAINTENANCE(min)
site_01  blog  blog.acme.test  99.952%   21             2          120
site_02  docs  docs.acme.test  100.000%  0              0          0
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestWriteMaintenanceWindows(t *testing.T) {
	localUTC(t)
	var b bytes.Buffer
	err := writeMaintenanceWindows(&b, uptimeNow,
		&berthv1.MaintenanceWindow{Id: "mw_3", SiteId: "site_01", StartTime: ts(uptimeNow.Add(10 * time.Hour)), EndTime: ts(uptimeNow.Add(12 * time.Hour)),
			Reason: "PHP 8.4 upgrade", CreatedBy: "ops@agency.test"},
		&berthv1.MaintenanceWindow{Id: "mw_2", ClientId: "cl_acme", StartTime: ts(uptimeNow.Add(-time.Hour)), EndTime: ts(uptimeNow.Add(time.Hour)),
			Reason: "node\tmove", CreatedBy: "tok_ci"},
		&berthv1.MaintenanceWindow{Id: "mw_1", SiteId: "site_02", StartTime: ts(uptimeNow.Add(-48 * time.Hour)), EndTime: ts(uptimeNow.Add(-47 * time.Hour))},
	)
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID    SITE     CLIENT   START                    END                      STATE     REASON           BY\n" +
		"mw_3  site_01  -        2026-11-28 22:00:00 UTC  2026-11-29 00:00:00 UTC  upcoming  PHP 8.4 upgrade  ops@agency.test\n" +
		"mw_2  -        cl_acme  2026-11-28 11:00:00 UTC  2026-11-28 13:00:00 UTC  active    node move        tok_ci\n" +
		"mw_1  site_02  -        2026-11-26 12:00:00 UTC  2026-11-26 13:00:00 UTC  over      -                -\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestWriteAlertChannels(t *testing.T) {
	var b bytes.Buffer
	err := writeAlertChannels(&b, uptimeNow,
		&berthv1.AlertChannel{Id: "ach_1", Name: "ops-slack", Kind: berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_SLACK,
			UrlHost: "hooks.slack.com", CreateTime: ts(uptimeNow.Add(-72 * time.Hour))},
		&berthv1.AlertChannel{Id: "ach_2", Name: "acme-mail", ClientId: "cl_acme", Kind: berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_EMAIL,
			SmtpAddress: "smtp.acme.test:587", EmailTo: []string{"it@acme.test", "boss@acme.test"}, CreateTime: ts(uptimeNow.Add(-5 * time.Minute))},
	)
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID     NAME       KIND   CLIENT   TARGET                                             AGE\n" +
		"ach_1  ops-slack  slack  all      hooks.slack.com                                    3d\n" +
		"ach_2  acme-mail  email  cl_acme  smtp.acme.test:587 → it@acme.test, boss@acme.test  5m\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func testDeliveries() []*berthv1.AlertDelivery {
	return []*berthv1.AlertDelivery{
		{Id: "dlv_2", ChannelId: "ach_1", Event: "incident.opened", Subject: "blog.acme.test is down", State: "pending", Attempts: 2,
			LastError: "POST hooks.slack.com: 503 Service Unavailable", CreateTime: ts(uptimeNow.Add(-3 * time.Minute))},
		{Id: "dlv_1", ChannelId: "ach_2", Event: "test", Subject: "Berth test alert", State: "delivered", Attempts: 1,
			CreateTime: ts(uptimeNow.Add(-2 * time.Hour)), DeliverTime: ts(uptimeNow.Add(-2*time.Hour + 2*time.Second))},
	}
}

func TestWriteAlertDeliveries(t *testing.T) {
	var b bytes.Buffer
	if err := writeAlertDeliveries(&b, uptimeNow, testDeliveries()...); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID     CHANNEL  EVENT            SUBJECT                 STATE      ATTEMPTS  AGE  LAST ERROR\n" +
		"dlv_2  ach_1    incident.opened  blog.acme.test is down  pending    2         3m   POST hooks.slack.com: 503 Service Unavailable\n" +
		"dlv_1  ach_2    test             Berth test alert        delivered  1         2h   -\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestWriteAlertDeliveryDetail(t *testing.T) {
	localUTC(t)
	var b bytes.Buffer
	if err := writeAlertDeliveryDetail(&b, uptimeNow, testDeliveries()[1]); err != nil {
		t.Fatal(err)
	}
	want := `Delivery:    dlv_1
Channel:     ach_2
Event:       test
Subject:     Berth test alert
State:       delivered
Attempts:    1
Last error:  -
Created:     2026-11-28 10:00:00 UTC (2h ago)
Delivered:   2026-11-28 10:00:02 UTC (1h ago)
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestTestDeliveryResult(t *testing.T) {
	var note bytes.Buffer
	if err := testDeliveryResult("ach_1", &berthv1.AlertDelivery{Id: "dlv_1", State: "delivered", Attempts: 1}, &note); err != nil || note.Len() != 0 {
		t.Errorf("delivered: error %v, note %q; want neither", err, note.String())
	}
	err := testDeliveryResult("ach_1", &berthv1.AlertDelivery{Id: "dlv_1", State: "failed", Attempts: 5, LastError: "dial tcp: connection refused"}, &note)
	if want := "test alert to channel ach_1 failed after 5 attempts: dial tcp: connection refused"; err == nil || err.Error() != want {
		t.Errorf("failed: error %v, want %q", err, want)
	}
	if err := testDeliveryResult("ach_1", testDeliveries()[0], &note); err != nil {
		t.Errorf("pending: error %v", err)
	}
	if want := "Test alert dlv_2: first attempt failed (POST hooks.slack.com: 503 Service Unavailable); it is retried: follow with `berth alert deliveries --channel ach_1`\n"; note.String() != want {
		t.Errorf("pending: note %q, want %q", note.String(), want)
	}
}

func TestRunUptimeUsageErrors(t *testing.T) {
	// As in TestRunUsageErrors: an unreachable server is configured, so a
	// test passes only if the usage error is found before any dialing.
	env := map[string]string{"HOME": t.TempDir(), "BERTH_TOKEN": "berth_x", "BERTH_SERVER": "127.0.0.1:1"}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"uptime"}, "missing SITE"},
		{[]string{"uptime", "site_1", "--to", "2026-11-01T00:00:00Z"}, "--to needs --from"},
		{[]string{"incidents", "--from", "last week"}, `invalid --from "last week": want an RFC 3339 time`},
		{[]string{"incidents", "inc_1"}, `unexpected argument "inc_1"`},
		{[]string{"incident"}, "missing ID"},
		{[]string{"sla", "cl_1"}, `required flag(s) "month" not set`},
		{[]string{"sla", "cl_1", "--month", "November"}, `invalid --month "November": want YYYY-MM`},
		{[]string{"sla", "cl_1", "--month", "2026-11", "-o", "yaml"}, `invalid --output "yaml": want table, json or csv`},
		{[]string{"-o", "csv", "incidents"}, `invalid --output "csv": want table or json`},
		{[]string{"maintenance", "create", "--site", "s", "--start", "now", "--reason", "r"}, "pass --end TIME or --duration D"},
		{[]string{"maintenance", "create", "--site", "s", "--start", "now", "--duration", "soon", "--reason", "r"}, `invalid argument "soon" for "--duration"`},
		{[]string{"maintenance", "bogus"}, `unknown command "bogus" for "berth maintenance"`},
		{[]string{"alert", "channel", "create", "--name", "n"}, `required flag(s) "kind" not set`},
		{[]string{"alert", "channel", "create", "--name", "n", "--kind", "sms"}, `invalid --kind "sms": want webhook, slack or email`},
		{[]string{"alert", "channel", "create", "--name", "n", "--kind", "slack", "--smtp-password-stdin"}, "--smtp-password-stdin is only for --kind email"},
		{[]string{"alert", "channel", "test"}, "missing ID"},
		{[]string{"alert", "deliveries", "--channel"}, "flag needs an argument: --channel"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, env, "", tt.args...)
			if r.code != 2 {
				t.Errorf("exit code = %d, want 2; stderr:\n%s", r.code, r.err)
			}
			if !strings.Contains(r.err, tt.want) || !strings.Contains(r.err, "--help' for usage") {
				t.Errorf("stderr = %q, want it to contain %q and a pointer to --help", r.err, tt.want)
			}
		})
	}
}

// testUptimeServer answers the UptimeService and AlertService calls of the
// CLI with canned responses and keeps the requests it got.
type testUptimeServer struct {
	berthv1.UnimplementedUptimeServiceServer
	berthv1.UnimplementedAlertServiceServer
	mu       sync.Mutex // guards the fields below
	requests []proto.Message
}

func (s *testUptimeServer) record(ctx context.Context, req proto.Message) error {
	if _, err := checkToken(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	return nil
}

// takeRequests returns the requests received since the last call.
func (s *testUptimeServer) takeRequests() []proto.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests
	s.requests = nil
	return r
}

func (s *testUptimeServer) GetSLAReport(ctx context.Context, req *berthv1.GetSLAReportRequest) (*berthv1.GetSLAReportResponse, error) {
	if err := s.record(ctx, req); err != nil {
		return nil, err
	}
	return testSLAReport(), nil
}

// ListIncidents serves testIncidents one per page.
func (s *testUptimeServer) ListIncidents(ctx context.Context, req *berthv1.ListIncidentsRequest) (*berthv1.ListIncidentsResponse, error) {
	if err := s.record(ctx, req); err != nil {
		return nil, err
	}
	incidents := testIncidents()
	if req.GetPageToken() == "" {
		return &berthv1.ListIncidentsResponse{Incidents: incidents[:1], NextPageToken: "p2"}, nil
	}
	return &berthv1.ListIncidentsResponse{Incidents: incidents[1:]}, nil
}

func (s *testUptimeServer) CreateAlertChannel(ctx context.Context, req *berthv1.CreateAlertChannelRequest) (*berthv1.CreateAlertChannelResponse, error) {
	if err := s.record(ctx, req); err != nil {
		return nil, err
	}
	c := proto.Clone(req.GetChannel()).(*berthv1.AlertChannel)
	c.Id, c.Url, c.UrlHost, c.CreateTime = "ach_new", "", "hooks.slack.com", timestamppb.Now()
	return &berthv1.CreateAlertChannelResponse{Channel: c}, nil
}

func (s *testUptimeServer) TestAlertChannel(ctx context.Context, req *berthv1.TestAlertChannelRequest) (*berthv1.TestAlertChannelResponse, error) {
	if err := s.record(ctx, req); err != nil {
		return nil, err
	}
	if req.GetId() != "ach_1" {
		return nil, status.Errorf(codes.NotFound, "alert channel %q not found", req.GetId())
	}
	return &berthv1.TestAlertChannelResponse{Delivery: &berthv1.AlertDelivery{
		Id: "dlv_9", ChannelId: "ach_1", Event: "test", State: "failed", Attempts: 1, LastError: "POST hooks.slack.com: 404 Not Found",
	}}, nil
}

// startUptimeTestServer serves a testUptimeServer over TLS on 127.0.0.1
// and returns it with the environment that points the CLI at it.
func startUptimeTestServer(t *testing.T) (*testUptimeServer, map[string]string) {
	t.Helper()
	caPEM, cert := newTestCertificates(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testUptimeServer{}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	berthv1.RegisterUptimeServiceServer(gs, s)
	berthv1.RegisterAlertServiceServer(gs, s)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return s, map[string]string{"HOME": t.TempDir(), "BERTH_SERVER": lis.Addr().String(), "BERTH_CA": caFile, "BERTH_TOKEN": "berth_good"}
}

func TestRunUptimeCommands(t *testing.T) {
	srv, env := startUptimeTestServer(t)

	t.Run("sla csv", func(t *testing.T) {
		r := runCLI(t, env, "", "sla", "cl_acme", "--month", "2026-10", "-o", "csv")
		if r.code != 0 {
			t.Fatalf("exit %d, stderr %q", r.code, r.err)
		}
		if want := testSLAReport().GetCsv() + "\n"; r.stdout != want {
			t.Errorf("stdout = %q, want the report's csv %q", r.stdout, want)
		}
		want := []proto.Message{&berthv1.GetSLAReportRequest{ClientId: "cl_acme", Month: "2026-10"}}
		if diff := cmp.Diff(want, srv.takeRequests(), protocmp.Transform()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})

	t.Run("sla json", func(t *testing.T) {
		r := runCLI(t, env, "", "sla", "cl_acme", "--month", "2026-10", "-o", "json")
		var got map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &got); r.code != 0 || err != nil {
			t.Fatalf("exit %d, stdout %q, stderr %q: want JSON", r.code, r.stdout, r.err)
		}
		if got["month"] != "2026-10" || got["csv"] == nil {
			t.Errorf("JSON = %v, want the whole response", got)
		}
		srv.takeRequests()
	})

	t.Run("incidents first page", func(t *testing.T) {
		r := runCLI(t, env, "", "incidents", "--client", "cl_acme", "--open")
		if r.code != 0 || strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, "inc_02") {
			t.Errorf("exit %d, stdout %q; want the header and inc_02", r.code, r.stdout)
		}
		if want := "There are more than 1 incidents: pass --all to list them all.\n"; r.err != want {
			t.Errorf("stderr = %q, want %q", r.err, want)
		}
		want := []proto.Message{&berthv1.ListIncidentsRequest{ClientId: "cl_acme", OpenOnly: true}}
		if diff := cmp.Diff(want, srv.takeRequests(), protocmp.Transform()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})

	t.Run("incidents all pages", func(t *testing.T) {
		r := runCLI(t, env, "", "incidents", "--all")
		if r.code != 0 || strings.Count(r.stdout, "\n") != 3 || r.err != "" {
			t.Errorf("exit %d, stdout %q, stderr %q; want both incidents", r.code, r.stdout, r.err)
		}
		want := []proto.Message{&berthv1.ListIncidentsRequest{}, &berthv1.ListIncidentsRequest{PageToken: "p2"}}
		if diff := cmp.Diff(want, srv.takeRequests(), protocmp.Transform()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})

	t.Run("channel create with the URL on stdin", func(t *testing.T) {
		const hook = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
		r := runCLI(t, env, hook+"\n", "alert", "channel", "create", "--name", "ops", "--kind", "slack", "--url-stdin")
		if r.code != 0 {
			t.Fatalf("exit %d, stderr %q", r.code, r.err)
		}
		if strings.Contains(r.stdout, "XXXXSECRET") || !strings.Contains(r.stdout, "ach_new  ops   slack  all     hooks.slack.com") {
			t.Errorf("stdout = %q, want the channel with its host only", r.stdout)
		}
		want := []proto.Message{&berthv1.CreateAlertChannelRequest{Channel: &berthv1.AlertChannel{
			Name: "ops", Kind: berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_SLACK, Url: hook}}}
		if diff := cmp.Diff(want, srv.takeRequests(), protocmp.Transform()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})

	t.Run("channel test that failed", func(t *testing.T) {
		r := runCLI(t, env, "", "alert", "channel", "test", "ach_1")
		if r.code != 1 || !strings.Contains(r.stdout, "State:       failed") {
			t.Errorf("exit %d, stdout %q; want 1 and the delivery", r.code, r.stdout)
		}
		if want := "error: test alert to channel ach_1 failed after 1 attempt: POST hooks.slack.com: 404 Not Found\n"; r.err != want {
			t.Errorf("stderr = %q, want %q", r.err, want)
		}
		srv.takeRequests()
	})
}
