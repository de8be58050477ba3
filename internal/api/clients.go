package api

import (
	"context"
	"fmt"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

type clientService struct {
	*API
	berthv1.UnimplementedClientServiceServer
}

func (s clientService) CreateClient(ctx context.Context, req *berthv1.CreateClientRequest) (*berthv1.CreateClientResponse, error) {
	in := req.GetClient()
	email, err := validateClient(in.GetDisplayName(), in.GetSlug(), in.GetContactEmail())
	if err != nil {
		return nil, err
	}
	now := s.now()
	c := &store.Client{
		ID: store.NewID("cl", now), DisplayName: in.GetDisplayName(), Slug: in.GetSlug(), ContactEmail: email,
		CreateTime: now, UpdateTime: now, StatusPage: statusPageFromProto(in.GetStatusPage()),
	}
	rpc.SetResource(ctx, c.ID, c.ID)
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := checkStatusPage(tx, c.ID, &c.StatusPage, true); err != nil {
			return err
		}
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, c.ID, c.ID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.CreateClientResponse{Client: clientToProto(c)}, nil
}

func validateClient(name, slug, email string) (string, error) {
	if err := validate.DisplayName("client.display_name", name); err != nil {
		return "", err
	}
	if err := validate.Slug("client.slug", slug); err != nil {
		return "", err
	}
	return validate.Email("client.contact_email", email)
}

func (s clientService) GetClient(ctx context.Context, req *berthv1.GetClientRequest) (*berthv1.GetClientResponse, error) {
	c, err := s.getClient(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &berthv1.GetClientResponse{Client: clientToProto(c)}, nil
}

// getClient reads a client the caller may see.
func (s clientService) getClient(ctx context.Context, id string) (*store.Client, error) {
	if err := validate.ID("id", "cl", id); err != nil {
		return nil, err
	}
	if !auth.FromContext(ctx).MayAccessClient(id) {
		return nil, rpc.Deny(ctx, "client", id)
	}
	var c *store.Client
	err := s.store.View(ctx, func(tx store.ReadTx) (err error) {
		c, err = tx.GetClient(id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s clientService) ListClients(ctx context.Context, req *berthv1.ListClientsRequest) (*berthv1.ListClientsResponse, error) {
	p := auth.FromContext(ctx)
	if !p.IsAdmin() {
		// A client principal's list is its own client.
		c, err := s.getClient(ctx, p.ClientID)
		if err != nil {
			return nil, err
		}
		return &berthv1.ListClientsResponse{Clients: []*berthv1.Client{clientToProto(c)}}, nil
	}
	page, n, err := pageFromRequest(req.GetPageSize(), req.GetPageToken(), "cl")
	if err != nil {
		return nil, err
	}
	var list []*store.Client
	err = s.store.View(ctx, func(tx store.ReadTx) (err error) {
		list, err = tx.ListClients(page)
		return err
	})
	if err != nil {
		return nil, err
	}
	list, next := pageOf(list, n, func(c *store.Client) string { return c.ID })
	resp := &berthv1.ListClientsResponse{NextPageToken: next}
	for _, c := range list {
		resp.Clients = append(resp.Clients, clientToProto(c))
	}
	return resp, nil
}

// updatableClientFields are UpdateClient's update_mask paths.
const updatableClientFields = "display_name, slug, contact_email, status_page, status_page.enabled, " +
	"status_page.site_ids, status_page.accent_color, status_page.logo"

func (s clientService) UpdateClient(ctx context.Context, req *berthv1.UpdateClientRequest) (*berthv1.UpdateClientResponse, error) {
	in := req.GetClient()
	id := in.GetId()
	if err := validate.ID("client.id", "cl", id); err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, &validate.Error{Field: "update_mask", Msg: "name the fields to change: " + updatableClientFields}
	}
	rpc.SetResource(ctx, id, id)
	var c *store.Client
	err := s.store.Update(ctx, func(tx store.Tx) (err error) {
		if c, err = tx.GetClient(id); err != nil {
			return err
		}
		sp := in.GetStatusPage()
		siteIDsChanged := false
		for _, p := range paths {
			switch p {
			case "display_name":
				c.DisplayName = in.GetDisplayName()
			case "slug":
				c.Slug = in.GetSlug()
			case "contact_email":
				c.ContactEmail = in.GetContactEmail()
			case "status_page":
				c.StatusPage, siteIDsChanged = statusPageFromProto(sp), true
			case "status_page.enabled":
				c.StatusPage.Enabled = sp.GetEnabled()
			case "status_page.site_ids":
				c.StatusPage.SiteIDs, siteIDsChanged = sp.GetSiteIds(), true
			case "status_page.accent_color":
				c.StatusPage.AccentColor = sp.GetAccentColor()
			case "status_page.logo":
				c.StatusPage.Logo = sp.GetLogo()
			default:
				return &validate.Error{Field: "update_mask", Msg: fmt.Sprintf("cannot update %q; updatable fields are %s", p, updatableClientFields)}
			}
		}
		if c.ContactEmail, err = validateClient(c.DisplayName, c.Slug, c.ContactEmail); err != nil {
			return err
		}
		if err := checkStatusPage(tx, id, &c.StatusPage, siteIDsChanged); err != nil {
			return err
		}
		c.UpdateTime = s.now()
		if err := tx.UpdateClient(c); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, id, id)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.UpdateClientResponse{Client: clientToProto(c)}, nil
}

func (s clientService) DeleteClient(ctx context.Context, req *berthv1.DeleteClientRequest) (*berthv1.DeleteClientResponse, error) {
	id := req.GetId()
	if err := validate.ID("id", "cl", id); err != nil {
		return nil, err
	}
	rpc.SetResource(ctx, id, id)
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteClient(id); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, id, id)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.DeleteClientResponse{}, nil
}
