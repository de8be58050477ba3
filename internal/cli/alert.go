package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func (a *app) alertCmd() *cobra.Command {
	return group("alert", "Manage where alerts go and see what was sent",
		group("channel", "Manage alert channels: webhooks, Slack and email",
			a.alertChannelCreateCmd(), a.alertChannelListCmd(), a.alertChannelDeleteCmd(), a.alertChannelTestCmd()),
		a.alertDeliveriesCmd())
}

func (a *app) alertService() (berthv1.AlertServiceClient, error) {
	conn, err := a.dial(true)
	if err != nil {
		return nil, err
	}
	return berthv1.NewAlertServiceClient(conn), nil
}

// alertChannelFlags are the flags of `alert channel create`.
type alertChannelFlags struct {
	fs                        *pflag.FlagSet
	name, kind, clientID, url string
	urlStdin                  bool
	smtpAddress, smtpUsername string
	smtpPasswordStdin         bool
	from                      string
	to                        []string
}

func newAlertChannelFlags(fs *pflag.FlagSet) *alertChannelFlags {
	f := &alertChannelFlags{fs: fs}
	fs.StringVar(&f.name, "name", "", "channel name, e.g. ops-slack")
	fs.StringVar(&f.kind, "kind", "", "webhook (JSON POST), slack (incoming webhook) or email (SMTP)")
	fs.StringVar(&f.clientID, "client", "", "send only alerts about this client's sites (default: every alert)")
	fs.StringVar(&f.url, "url", "", "webhook URL; when it holds a secret (Slack's do), pass --url-stdin instead")
	fs.BoolVar(&f.urlStdin, "url-stdin", false, "read the webhook URL from stdin, keeping it out of shell history and ps")
	fs.StringVar(&f.smtpAddress, "smtp-address", "", "SMTP server, host:port, e.g. smtp.example.com:587")
	fs.StringVar(&f.smtpUsername, "smtp-username", "", "SMTP login user (with --smtp-password-stdin)")
	fs.BoolVar(&f.smtpPasswordStdin, "smtp-password-stdin", false, "read the SMTP password from stdin")
	fs.StringVar(&f.from, "from", "", "sender address of the alert mails")
	fs.StringSliceVar(&f.to, "to", nil, "recipient address (repeatable)")
	return f
}

// channel builds the channel to create from the flags, reading the secret
// that a --*-stdin flag names from stdin. The flags are checked before
// stdin is read.
func (f *alertChannelFlags) channel(stdin io.Reader) (*berthv1.AlertChannel, error) {
	kind, err := parseEnum(berthv1.AlertChannelKind(0).Descriptor(), "kind", f.kind)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(f.name) == "" {
		return nil, usageErrorf("missing --name: name the channel, e.g. --name ops-slack")
	}
	c := &berthv1.AlertChannel{Name: f.name, Kind: berthv1.AlertChannelKind(kind), ClientId: f.clientID}
	if c.Kind == berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_EMAIL {
		return f.emailChannel(c, stdin)
	}
	for _, name := range []string{"smtp-address", "smtp-username", "smtp-password-stdin", "from", "to"} {
		if f.fs.Changed(name) {
			return nil, usageErrorf("--%s is only for --kind email", name)
		}
	}
	switch {
	case f.url != "" && f.urlStdin:
		return nil, usageErrorf("pass either --url or --url-stdin, not both")
	case f.url == "" && !f.urlStdin:
		return nil, usageErrorf("--kind %s needs the webhook URL: pass --url-stdin and pipe it in (or --url URL)", strings.ToLower(enumLabel(c.Kind)))
	case f.url != "":
		c.Url = f.url
	default:
		if c.Url, err = readStdinSecret(stdin, "url-stdin", "URL"); err != nil {
			return nil, err
		}
	}
	if err := checkWebhookURL(c.Url); err != nil {
		return nil, err
	}
	return c, nil
}

func (f *alertChannelFlags) emailChannel(c *berthv1.AlertChannel, stdin io.Reader) (*berthv1.AlertChannel, error) {
	if f.url != "" || f.urlStdin {
		return nil, usageErrorf("--url and --url-stdin are only for --kind webhook or slack")
	}
	if f.smtpAddress == "" {
		return nil, usageErrorf("--kind email needs --smtp-address host:port")
	}
	if host, port, err := net.SplitHostPort(f.smtpAddress); err != nil || host == "" || port == "" {
		return nil, usageErrorf("invalid --smtp-address %q: want host:port, e.g. smtp.example.com:587", f.smtpAddress)
	}
	if f.from == "" || len(f.to) == 0 {
		return nil, usageErrorf("--kind email needs --from ADDRESS and at least one --to ADDRESS")
	}
	for i, addr := range append([]string{f.from}, f.to...) {
		if _, err := mail.ParseAddress(addr); err != nil {
			flag := "to"
			if i == 0 {
				flag = "from"
			}
			return nil, usageErrorf("invalid --%s %q: want an email address, e.g. ops@example.com", flag, addr)
		}
	}
	if (f.smtpUsername != "") != f.smtpPasswordStdin {
		return nil, usageErrorf("--smtp-username and --smtp-password-stdin go together: pass both to log in to the SMTP server, or neither")
	}
	c.SmtpAddress, c.SmtpUsername, c.EmailFrom, c.EmailTo = f.smtpAddress, f.smtpUsername, f.from, f.to
	if f.smtpPasswordStdin {
		var err error
		if c.SmtpPassword, err = readStdinSecret(stdin, "smtp-password-stdin", "SMTP password"); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// checkWebhookURL checks that u is an http or https URL with a host. The
// message does not repeat u: it may hold a token.
func checkWebhookURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return usageErrorf("invalid webhook URL: want http:// or https:// and a host, e.g. https://hooks.slack.com/services/…")
	}
	return nil
}

// readStdinSecret reads a secret (what) from the first line of stdin, as
// asked for by --flag.
func readStdinSecret(stdin io.Reader, flag, what string) (string, error) {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("no %s on stdin: pipe it in, e.g. printf '%%s\\n' \"$SECRET\" | berth ... --%s", what, flag)
		}
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	s := strings.TrimRight(line, "\r\n")
	if s == "" {
		return "", fmt.Errorf("empty %s on stdin (--%s)", what, flag)
	}
	return s, nil
}

func (a *app) alertChannelCreateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create --name NAME --kind webhook|slack|email [--client ID] [flags]",
		Short: "Add a place where alerts are sent",
		Long: `Add an alert channel. It gets every alert (incident opened and resolved,
certificate failing or expiring, node not ready), or with --client only those
about that client's sites.

Webhook and Slack channels need the URL; as it usually carries a token, pipe
it in with --url-stdin. Email channels need an SMTP server (STARTTLS unless it
is on loopback), a sender and recipients; the password comes from stdin with
--smtp-password-stdin. Secrets are stored encrypted and never shown again.
Check a new channel with ` + "`berth alert channel test ID`" + `.`,
		Example: `  printf '%s\n' "$SLACK_WEBHOOK" | berth alert channel create --name ops-slack --kind slack --url-stdin
  berth alert channel create --name acme-hook --kind webhook --client cl_123 --url https://acme.test/berth-alerts
  printf '%s\n' "$SMTP_PASSWORD" | berth alert channel create --name ops-mail --kind email \
    --smtp-address smtp.example.com:587 --smtp-username alerts --smtp-password-stdin \
    --from berth@example.com --to ops@example.com --to oncall@example.com`,
		Args: argNames(),
	}
	f := newAlertChannelFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("kind")
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions([]string{"webhook", "slack", "email"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		ch, err := f.channel(a.stdio.In)
		if err != nil {
			return err
		}
		svc, err := a.alertService()
		if err != nil {
			return err
		}
		ctx, cancel := a.callCtx(cmd.Context())
		defer cancel()
		resp, err := svc.CreateAlertChannel(ctx, &berthv1.CreateAlertChannelRequest{Channel: ch})
		if err != nil {
			return err
		}
		return a.printer().show(resp, func(w io.Writer, now time.Time) error {
			return writeAlertChannels(w, now, resp.GetChannel())
		})
	})
	return cmd
}

func (a *app) alertChannelListCmd() *cobra.Command {
	var clientID string
	cmd := &cobra.Command{
		Use:   "list [--client ID]",
		Short: "List alert channels (without secrets)",
		Args:  argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.alertService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.ListAlertChannels(ctx, &berthv1.ListAlertChannelsRequest{ClientId: clientID})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, now time.Time) error {
				return writeAlertChannels(w, now, resp.GetChannels()...)
			})
		}),
	}
	cmd.Flags().StringVar(&clientID, "client", "", "only this client's channels")
	return cmd
}

func (a *app) alertChannelDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an alert channel",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.alertService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.DeleteAlertChannel(ctx, &berthv1.DeleteAlertChannelRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				_, err := fmt.Fprintf(w, "Deleted alert channel %s\n", args[0])
				return err
			})
		}),
	}
}

func (a *app) alertChannelTestCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "test ID",
		Short: "Send a test alert to a channel now and show the delivery",
		Long: `Send a test alert to a channel and show its delivery. Exits 1 if the
delivery failed for good; a first attempt that failed is retried like any
alert: follow it with ` + "`berth alert deliveries --channel ID`" + `.`,
		Args: argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.alertService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.TestAlertChannel(ctx, &berthv1.TestAlertChannelRequest{Id: args[0]})
			if err != nil {
				return err
			}
			if err := a.printer().show(resp, func(w io.Writer, now time.Time) error {
				return writeAlertDeliveryDetail(w, now, resp.GetDelivery())
			}); err != nil {
				return err
			}
			return testDeliveryResult(args[0], resp.GetDelivery(), a.stdio.Err)
		}),
	}
}

// testDeliveryResult is the error of a test delivery that failed for good;
// of one still pending it writes a note to w.
func testDeliveryResult(channelID string, d *berthv1.AlertDelivery, w io.Writer) error {
	switch d.GetState() {
	case "failed":
		return fmt.Errorf("test alert to channel %s failed after %d %s: %s",
			channelID, d.GetAttempts(), plural(int(d.GetAttempts()), "attempt", "attempts"), cell(d.GetLastError()))
	case "pending":
		note := "not sent yet"
		if d.GetLastError() != "" {
			note = "first attempt failed (" + d.GetLastError() + ")"
		}
		fmt.Fprintf(w, "Test alert %s: %s; it is retried: follow with `berth alert deliveries --channel %s`\n", d.GetId(), note, channelID)
	}
	return nil
}

func (a *app) alertDeliveriesCmd() *cobra.Command {
	var (
		channelID string
		all       bool
	)
	cmd := &cobra.Command{
		Use:   "deliveries [--channel ID] [--all]",
		Short: "List alerts sent to channels, newest first",
		Args:  argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.alertService()
			if err != nil {
				return err
			}
			deliveries, next, err := listAll(all, func(pageToken string) ([]*berthv1.AlertDelivery, string, error) {
				ctx, cancel := a.callCtx(cmd.Context())
				defer cancel()
				resp, err := svc.ListAlertDeliveries(ctx, &berthv1.ListAlertDeliveriesRequest{ChannelId: channelID, PageToken: pageToken})
				return resp.GetDeliveries(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			err = a.printer().show(&berthv1.ListAlertDeliveriesResponse{Deliveries: deliveries, NextPageToken: next}, func(w io.Writer, now time.Time) error {
				return writeAlertDeliveries(w, now, deliveries...)
			})
			if err == nil && next != "" {
				fmt.Fprintf(a.stdio.Err, "There are more than %d deliveries: pass --all to list them all.\n", len(deliveries))
			}
			return err
		}),
	}
	cmd.Flags().StringVar(&channelID, "channel", "", "only deliveries to this channel")
	cmd.Flags().BoolVar(&all, "all", false, "list every page, not only the first")
	return cmd
}

// channelTarget is where a channel sends: the webhook's host, or the SMTP
// server and recipients.
func channelTarget(c *berthv1.AlertChannel) string {
	if c.GetKind() == berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_EMAIL {
		return c.GetSmtpAddress() + " → " + strings.Join(c.GetEmailTo(), ", ")
	}
	return c.GetUrlHost()
}

func writeAlertChannels(w io.Writer, now time.Time, channels ...*berthv1.AlertChannel) error {
	rows := make([][]string, 0, len(channels))
	for _, c := range channels {
		client := c.GetClientId()
		if client == "" {
			client = "all"
		}
		rows = append(rows, []string{
			c.GetId(), c.GetName(), strings.ToLower(enumLabel(c.GetKind())), client, channelTarget(c), age(c.GetCreateTime(), now),
		})
	}
	return writeTable(w, []string{"ID", "NAME", "KIND", "CLIENT", "TARGET", "AGE"}, rows)
}

func writeAlertDeliveries(w io.Writer, now time.Time, deliveries ...*berthv1.AlertDelivery) error {
	rows := make([][]string, 0, len(deliveries))
	for _, d := range deliveries {
		rows = append(rows, []string{
			d.GetId(), d.GetChannelId(), d.GetEvent(), d.GetSubject(), d.GetState(), fmt.Sprint(d.GetAttempts()),
			age(d.GetCreateTime(), now), d.GetLastError(),
		})
	}
	return writeTable(w, []string{"ID", "CHANNEL", "EVENT", "SUBJECT", "STATE", "ATTEMPTS", "AGE", "LAST ERROR"}, rows)
}

func writeAlertDeliveryDetail(w io.Writer, now time.Time, d *berthv1.AlertDelivery) error {
	return writeFields(w, [][2]string{
		{"Delivery", d.GetId()},
		{"Channel", d.GetChannelId()},
		{"Event", d.GetEvent()},
		{"Subject", d.GetSubject()},
		{"State", d.GetState()},
		{"Attempts", fmt.Sprint(d.GetAttempts())},
		{"Last error", d.GetLastError()},
		{"Created", withAge(d.GetCreateTime(), now)},
		{"Delivered", withAge(d.GetDeliverTime(), now)},
	})
}
