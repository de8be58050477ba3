package monitor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fixaroo/berth/internal/alerts"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/uptime"
)

// Alerter queues alerts for the channels that want them and delivers them,
// retrying with backoff. A delivery's (channel, dedup key) is unique, so an
// event reaches each channel once however often it is raised.
type Alerter struct {
	Store  store.Store
	Sender *alerts.Sender
	// Channel turns a stored channel into a sendable one (default
	// AlertChannel).
	Channel func(*store.AlertChannel) alerts.Channel
	Now     func() time.Time
	Log     interface {
		Info(msg string, args ...any)
		Warn(msg string, args ...any)
		Error(msg string, args ...any)
	}
	// NewTicker returns a channel ticking every d and a function that stops
	// it (default: a time.Ticker's).
	NewTicker func(d time.Duration) (<-chan time.Time, func())
	// wake is signalled when a delivery is queued.
	wake chan struct{}
}

// NewAlerter returns an Alerter; Run delivers.
func NewAlerter(a Alerter) *Alerter {
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.Channel == nil {
		a.Channel = AlertChannel
	}
	if a.NewTicker == nil {
		a.NewTicker = func(d time.Duration) (<-chan time.Time, func()) { t := time.NewTicker(d); return t.C, t.Stop }
	}
	a.wake = make(chan struct{}, 1)
	return &a
}

// AlertChannel turns a stored channel (secrets decrypted by the store) into
// what package alerts sends to.
func AlertChannel(c *store.AlertChannel) alerts.Channel {
	ch := alerts.Channel{ID: c.ID, ClientID: c.ClientID, Name: c.Name, Kind: c.Kind, URL: c.Config["url"],
		SMTPAddress: c.Config["smtp_address"], SMTPUsername: c.Config["smtp_username"], SMTPPassword: c.Config["smtp_password"],
		EmailFrom: c.Config["email_from"]}
	if to := c.Config["email_to"]; to != "" {
		ch.EmailTo = strings.Split(to, ",")
	}
	return ch
}

// Raise queues alert for every channel of clientID ("" for agency-wide
// events only) and every agency-wide channel, deduplicated by key.
func (a *Alerter) Raise(ctx context.Context, clientID, key string, alert alerts.Alert) error {
	now := a.Now()
	err := a.Store.Update(ctx, func(tx store.Tx) error {
		chans, err := tx.ListAlertChannels("")
		if err != nil {
			return err
		}
		for _, c := range chans {
			if c.ClientID != "" && c.ClientID != clientID {
				continue
			}
			d := &store.AlertDelivery{ID: store.NewID("dlv", now), ChannelID: c.ID, Event: alert.Event, DedupKey: key,
				Subject: alert.Subject, Body: encodeAlert(alert), State: "pending", NextAttempt: now, CreateTime: now}
			if err := tx.CreateAlertDelivery(d); err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	select {
	case a.wake <- struct{}{}:
	default:
	}
	return nil
}

// encodeAlert keeps an alert's text and fields in a delivery's body:
// "key=value" lines, a blank line, then the text.
func encodeAlert(a alerts.Alert) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(a.Fields)) {
		fmt.Fprintf(&b, "%s=%s\n", k, strings.ReplaceAll(a.Fields[k], "\n", " "))
	}
	b.WriteString("\n")
	b.WriteString(a.Text)
	return b.String()
}

func decodeAlert(d *store.AlertDelivery) alerts.Alert {
	a := alerts.Alert{Event: d.Event, Subject: d.Subject, Time: d.CreateTime, Fields: map[string]string{}}
	head, text, _ := strings.Cut(d.Body, "\n\n")
	for _, line := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			a.Fields[k] = v
		}
	}
	a.Text = text
	return a
}

// Periods of the Alerter's loop: due deliveries are looked for every
// deliverEvery (and when one is queued), the fleet every checkFleetEvery.
const (
	deliverEvery    = 5 * time.Second
	checkFleetEvery = time.Minute
)

// Run delivers due alerts until ctx ends.
func (a *Alerter) Run(ctx context.Context) error {
	tick, stopTick := a.NewTicker(deliverEvery)
	defer stopTick()
	fleet, stopFleet := a.NewTicker(checkFleetEvery)
	defer stopFleet()
	for {
		a.deliverDue(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		case <-a.wake:
		case <-fleet:
			a.checkFleet(ctx)
		}
	}
}

// expiringWithin is when a certificate's coming expiry is worth an alert.
const expiringWithin = 14 * 24 * time.Hour

// checkFleet raises alerts for nodes not ready and certificates failing or
// expiring soon; the dedup keys name the episode, so each is sent once.
func (a *Alerter) checkFleet(ctx context.Context) {
	now := a.Now()
	type raise struct {
		client, key string
		alert       alerts.Alert
	}
	var raises []raise
	err := a.Store.View(ctx, func(tx store.ReadTx) error {
		nodes, err := tx.ListNodes(store.Page{Limit: 1000})
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if n.State != store.NodeStateNotReady {
				continue
			}
			raises = append(raises, raise{"", fmt.Sprintf("node.not_ready:%s:%d", n.ID, n.LastHeartbeatTime.Unix()), alerts.Alert{
				Event: "node.not_ready", Time: now, Subject: "NODE NOT READY: " + n.Name,
				Text:   fmt.Sprintf("Node %s has sent no heartbeat since %s UTC; its sites are judged by their other vantage points.", n.Name, n.LastHeartbeatTime.UTC().Format("2006-01-02 15:04")),
				Fields: map[string]string{"node_id": n.ID, "node": n.Name, "last_heartbeat": n.LastHeartbeatTime.UTC().Format(time.RFC3339)}}})
		}
		for s, err := range store.AllSites(tx, store.SiteFilter{}) {
			if err != nil {
				return err
			}
			for _, c := range s.Certificates {
				fields := map[string]string{"site_id": s.ID, "client_id": s.ClientID, "domain": c.Domain, "issuer": c.Issuer}
				switch {
				case c.LastError != "":
					fields["error"] = c.LastError
					raises = append(raises, raise{s.ClientID, fmt.Sprintf("certificate.failing:%s:%s", c.Domain, c.LastAttempt.UTC().Format(time.DateOnly)), alerts.Alert{
						Event: "certificate.failing", Time: now, Subject: "CERTIFICATE FAILING: " + c.Domain,
						Text: fmt.Sprintf("The certificate of %s could not be obtained or renewed: %s", c.Domain, c.LastError), Fields: fields}})
				case !c.NotAfter.IsZero() && c.NotAfter.Sub(now) < expiringWithin:
					fields["not_after"] = c.NotAfter.UTC().Format(time.RFC3339)
					raises = append(raises, raise{s.ClientID, fmt.Sprintf("certificate.expiring:%s:%d", c.Domain, c.NotAfter.Unix()), alerts.Alert{
						Event: "certificate.expiring", Time: now, Subject: "CERTIFICATE EXPIRING: " + c.Domain,
						Text: fmt.Sprintf("The certificate of %s expires on %s UTC and has not been renewed yet.", c.Domain, c.NotAfter.UTC().Format("2006-01-02 15:04")), Fields: fields}})
				}
			}
		}
		return nil
	})
	if err != nil {
		a.Log.Error("check the fleet for alerts", "err", err)
		return
	}
	for _, r := range raises {
		if err := a.Raise(ctx, r.client, r.key, r.alert); err != nil {
			a.Log.Error("raise alert", "key", r.key, "err", err)
		}
	}
}

func (a *Alerter) deliverDue(ctx context.Context) {
	var due []*store.AlertDelivery
	err := a.Store.View(ctx, func(tx store.ReadTx) (err error) {
		due, err = tx.DueAlertDeliveries(a.Now(), 50)
		return err
	})
	if err != nil {
		a.Log.Error("list due alerts", "err", err)
		return
	}
	for _, d := range due {
		var ch *store.AlertChannel
		err := a.Store.View(ctx, func(tx store.ReadTx) (err error) {
			ch, err = tx.GetAlertChannel(d.ChannelID)
			return err
		})
		if err != nil {
			continue // deleted with its deliveries meanwhile
		}
		sendCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		sendErr := a.Sender.Send(sendCtx, a.Channel(ch), decodeAlert(d))
		cancel()
		if ctx.Err() != nil {
			return
		}
		d.Attempts++
		now := a.Now()
		if sendErr == nil {
			d.State, d.DeliverTime, d.LastError = "delivered", now, ""
			a.Log.Info("alert delivered", "delivery_id", d.ID, "channel_id", d.ChannelID, "event", d.Event)
		} else {
			d.LastError = sendErr.Error()
			next, giveUp := alerts.NextAttempt(int(d.Attempts), now)
			if giveUp {
				d.State = "failed"
			}
			d.NextAttempt = next
			a.Log.Warn("alert delivery failed", "delivery_id", d.ID, "channel_id", d.ChannelID, "attempt", d.Attempts, "err", sendErr, "gave_up", giveUp)
		}
		if err := a.Store.Update(ctx, func(tx store.Tx) error { return tx.UpdateAlertDelivery(d) }); err != nil {
			a.Log.Error("record alert delivery", "err", err)
		}
	}
}

// IncidentAlert raises the alert of an incident event.
func (a *Alerter) IncidentAlert(ctx context.Context, kind uptime.EventKind, inc *store.Incident) {
	var site *store.Site
	var client *store.Client
	err := a.Store.View(ctx, func(tx store.ReadTx) (err error) {
		if site, err = tx.GetSite(inc.SiteID); err != nil {
			return err
		}
		client, err = tx.GetClient(inc.ClientID)
		return err
	})
	if err != nil {
		a.Log.Error("incident alert", "incident_id", inc.ID, "err", err)
		return
	}
	fields := map[string]string{"incident_id": inc.ID, "site_id": site.ID, "site": site.PrimaryDomain, "client_id": client.ID,
		"client": client.DisplayName, "started": inc.Start.UTC().Format(time.RFC3339), "causes": strings.Join(inc.ErrorClasses, ","),
		"vantages": strings.Join(inc.Vantages, ",")}
	alert := alerts.Alert{Time: a.Now(), Fields: fields}
	var key string
	if kind == uptime.EventOpened {
		alert.Event, key = "incident.opened", "incident.opened:"+inc.ID
		alert.Subject = fmt.Sprintf("DOWN: %s (%s)", site.PrimaryDomain, client.DisplayName)
		alert.Text = fmt.Sprintf("%s has been down since %s UTC, as most vantage points see it (%s).",
			site.PrimaryDomain, inc.Start.UTC().Format("2006-01-02 15:04"), orNone(inc.ErrorClasses))
	} else {
		alert.Event, key = "incident.resolved", "incident.resolved:"+inc.ID
		fields["resolved"] = inc.End.UTC().Format(time.RFC3339)
		fields["duration"] = inc.End.Sub(inc.Start).String()
		alert.Subject = fmt.Sprintf("UP: %s (%s) after %s", site.PrimaryDomain, client.DisplayName, inc.End.Sub(inc.Start))
		alert.Text = fmt.Sprintf("%s is up again since %s UTC; it was down for %s.",
			site.PrimaryDomain, inc.End.UTC().Format("2006-01-02 15:04"), inc.End.Sub(inc.Start))
	}
	if err := a.Raise(ctx, client.ID, key, alert); err != nil {
		a.Log.Error("raise incident alert", "incident_id", inc.ID, "err", err)
	}
}

func orNone(classes []string) string {
	if len(classes) == 0 {
		return "no error class recorded"
	}
	return strings.Join(classes, ", ")
}
