package api

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/alerts"
	"github.com/fixaroo/berth/internal/monitor"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

type alertService struct {
	*API
	berthv1.UnimplementedAlertServiceServer
}

var channelKinds = map[berthv1.AlertChannelKind]string{
	berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_WEBHOOK: "webhook",
	berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_SLACK:   "slack",
	berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_EMAIL:   "email",
}

// channelToProto shows a channel without its secrets.
func channelToProto(c *store.AlertChannel) *berthv1.AlertChannel {
	p := &berthv1.AlertChannel{Id: c.ID, ClientId: c.ClientID, Name: c.Name, SmtpAddress: c.Config["smtp_address"],
		SmtpUsername: c.Config["smtp_username"], EmailFrom: c.Config["email_from"], CreateTime: timestamppb.New(c.CreateTime)}
	for k, v := range channelKinds {
		if v == c.Kind {
			p.Kind = k
		}
	}
	if u, err := url.Parse(c.Config["url"]); err == nil {
		p.UrlHost = u.Host
	}
	if to := c.Config["email_to"]; to != "" {
		p.EmailTo = strings.Split(to, ",")
	}
	return p
}

func (s alertService) CreateAlertChannel(ctx context.Context, req *berthv1.CreateAlertChannelRequest) (*berthv1.CreateAlertChannelResponse, error) {
	in := req.GetChannel()
	now := s.now()
	c := &store.AlertChannel{ID: store.NewID("ach", now), ClientID: in.GetClientId(), Name: in.GetName(),
		Kind: channelKinds[in.GetKind()], CreateTime: now, Config: map[string]string{}}
	if c.Kind == "" {
		return nil, &validate.Error{Field: "channel.kind", Msg: "must be ALERT_CHANNEL_KIND_WEBHOOK, _SLACK or _EMAIL"}
	}
	if err := validate.DisplayName("channel.name", c.Name); err != nil {
		return nil, err
	}
	for k, v := range map[string]string{"url": in.GetUrl(), "smtp_address": in.GetSmtpAddress(), "smtp_username": in.GetSmtpUsername(),
		"smtp_password": in.GetSmtpPassword(), "email_from": in.GetEmailFrom(), "email_to": strings.Join(in.GetEmailTo(), ",")} {
		if v != "" {
			c.Config[k] = v
		}
	}
	if err := alerts.ValidateChannel(monitor.AlertChannel(c)); err != nil {
		return nil, &validate.Error{Field: "channel", Msg: err.Error()}
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if c.ClientID != "" {
			if err := validate.ID("channel.client_id", "cl", c.ClientID); err != nil {
				return err
			}
			if _, err := tx.GetClient(c.ClientID); errors.Is(err, store.ErrNotFound) {
				return rpc.NotFound("client", c.ClientID)
			} else if err != nil {
				return err
			}
		}
		rpc.SetResource(ctx, c.ID, c.ClientID)
		if err := tx.CreateAlertChannel(c); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, c.ID, c.ClientID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.CreateAlertChannelResponse{Channel: channelToProto(c)}, nil
}

func (s alertService) ListAlertChannels(ctx context.Context, req *berthv1.ListAlertChannelsRequest) (*berthv1.ListAlertChannelsResponse, error) {
	if id := req.GetClientId(); id != "" {
		if err := validate.ID("client_id", "cl", id); err != nil {
			return nil, err
		}
	}
	resp := &berthv1.ListAlertChannelsResponse{}
	err := s.store.View(ctx, func(tx store.ReadTx) error {
		list, err := tx.ListAlertChannels(req.GetClientId())
		for _, c := range list {
			resp.Channels = append(resp.Channels, channelToProto(c))
		}
		return err
	})
	return resp, err
}

func (s alertService) DeleteAlertChannel(ctx context.Context, req *berthv1.DeleteAlertChannelRequest) (*berthv1.DeleteAlertChannelResponse, error) {
	if err := validate.ID("id", "ach", req.GetId()); err != nil {
		return nil, err
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		c, err := tx.GetAlertChannel(req.GetId())
		if errors.Is(err, store.ErrNotFound) {
			return rpc.NotFound("alert channel", req.GetId())
		} else if err != nil {
			return err
		}
		rpc.SetResource(ctx, c.ID, c.ClientID)
		if err := tx.DeleteAlertChannel(c.ID); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, c.ID, c.ClientID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.DeleteAlertChannelResponse{}, nil
}

func deliveryToProto(d *store.AlertDelivery) *berthv1.AlertDelivery {
	p := &berthv1.AlertDelivery{Id: d.ID, ChannelId: d.ChannelID, Event: d.Event, DedupKey: d.DedupKey, Subject: d.Subject,
		State: d.State, Attempts: d.Attempts, LastError: d.LastError, CreateTime: timestamppb.New(d.CreateTime)}
	if !d.DeliverTime.IsZero() {
		p.DeliverTime = timestamppb.New(d.DeliverTime)
	}
	return p
}

// TestAlertChannel sends a test alert at once, recording it like any other
// delivery.
func (s alertService) TestAlertChannel(ctx context.Context, req *berthv1.TestAlertChannelRequest) (*berthv1.TestAlertChannelResponse, error) {
	if err := validate.ID("id", "ach", req.GetId()); err != nil {
		return nil, err
	}
	var c *store.AlertChannel
	err := s.store.View(ctx, func(tx store.ReadTx) (err error) {
		c, err = tx.GetAlertChannel(req.GetId())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("alert channel", req.GetId())
	} else if err != nil {
		return nil, err
	}
	rpc.SetResource(ctx, c.ID, c.ClientID)
	now := s.now()
	a := alerts.Alert{Event: "test", Subject: "Berth test alert for " + c.Name,
		Text: "This is a test alert from Berth. If you can read it, the channel works.", Time: now,
		Fields: map[string]string{"channel": c.Name}}
	d := &store.AlertDelivery{ID: store.NewID("dlv", now), ChannelID: c.ID, Event: a.Event, DedupKey: "test:" + store.NewID("t", now),
		Subject: a.Subject, Body: a.Text, State: "pending", Attempts: 1, NextAttempt: now, CreateTime: now}
	sendCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.alertSender.Send(sendCtx, monitor.AlertChannel(c), a); err != nil {
		d.State, d.LastError = "failed", err.Error()
	} else {
		d.State, d.DeliverTime = "delivered", s.now()
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAlertDelivery(d); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, c.ID, c.ClientID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.TestAlertChannelResponse{Delivery: deliveryToProto(d)}, nil
}

func (s alertService) ListAlertDeliveries(ctx context.Context, req *berthv1.ListAlertDeliveriesRequest) (*berthv1.ListAlertDeliveriesResponse, error) {
	if id := req.GetChannelId(); id != "" {
		if err := validate.ID("channel_id", "ach", id); err != nil {
			return nil, err
		}
	}
	page, n, err := pageFromRequest(req.GetPageSize(), req.GetPageToken(), "dlv")
	if err != nil {
		return nil, err
	}
	var list []*store.AlertDelivery
	err = s.store.View(ctx, func(tx store.ReadTx) (err error) {
		list, err = tx.ListAlertDeliveries(req.GetChannelId(), page)
		return err
	})
	if err != nil {
		return nil, err
	}
	list, next := pageOf(list, n, func(d *store.AlertDelivery) string { return d.ID })
	resp := &berthv1.ListAlertDeliveriesResponse{NextPageToken: next}
	for _, d := range list {
		resp.Deliveries = append(resp.Deliveries, deliveryToProto(d))
	}
	return resp, nil
}
