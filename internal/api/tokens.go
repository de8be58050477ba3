package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

type tokenService struct {
	*API
	berthv1.UnimplementedTokenServiceServer
}

func (s tokenService) CreateToken(ctx context.Context, req *berthv1.CreateTokenRequest) (*berthv1.CreateTokenResponse, error) {
	p := auth.FromContext(ctx)
	in := req.GetToken()
	if err := validate.TokenName("token.name", in.GetName()); err != nil {
		return nil, err
	}
	role, _ := roleFromProto(in.GetRole())
	clientID := in.GetClientId()
	if !p.IsAdmin() {
		// A client principal makes tokens for its own client only.
		if role == "" {
			role = store.RoleClient
		}
		if role != store.RoleClient {
			return nil, rpc.Deny(ctx, "role", string(role))
		}
		if clientID == "" {
			clientID = p.ClientID
		}
		if clientID != p.ClientID {
			return nil, rpc.Deny(ctx, "client", clientID)
		}
	}
	now := s.now()
	t := &store.Token{
		ID: store.NewID("tok", now), Name: in.GetName(), Kind: store.TokenKindAPI, Role: role, ClientID: clientID,
		CreateTime: now,
	}
	if e := in.GetExpireTime(); e != nil {
		if err := e.CheckValid(); err != nil {
			return nil, &validate.Error{Field: "token.expire_time", Msg: "is not a valid time"}
		}
		t.ExpireTime = e.AsTime().UTC()
		if !t.ExpireTime.After(now) {
			return nil, &validate.Error{Field: "token.expire_time", Msg: fmt.Sprintf("%s is in the past; give a future time or none", t.ExpireTime.Format("2006-01-02T15:04:05Z"))}
		}
	}
	secret, hash := auth.NewToken(auth.TokenPrefix)
	t.Hash = hash
	rpc.SetResource(ctx, t.ID, clientID)
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := checkRoleBinding(tx, "token", role, clientID); err != nil {
			return err
		}
		if err := tx.CreateToken(t); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, t.ID, clientID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.CreateTokenResponse{Token: tokenToProto(t), Secret: secret}, nil
}

func (s tokenService) ListTokens(ctx context.Context, req *berthv1.ListTokensRequest) (*berthv1.ListTokensResponse, error) {
	p := auth.FromContext(ctx)
	f := store.TokenFilter{Kind: store.TokenKindAPI, IncludeInactive: req.GetIncludeRevoked(), Now: s.now()}
	if !p.IsAdmin() {
		f.ClientID = p.ClientID
	}
	page, n, err := pageFromRequest(req.GetPageSize(), req.GetPageToken(), "tok")
	if err != nil {
		return nil, err
	}
	var list []*store.Token
	err = s.store.View(ctx, func(tx store.ReadTx) (err error) {
		list, err = tx.ListTokens(f, page)
		return err
	})
	if err != nil {
		return nil, err
	}
	list, next := pageOf(list, n, func(t *store.Token) string { return t.ID })
	resp := &berthv1.ListTokensResponse{NextPageToken: next}
	for _, t := range list {
		resp.Tokens = append(resp.Tokens, tokenToProto(t))
	}
	return resp, nil
}

func (s tokenService) RevokeToken(ctx context.Context, req *berthv1.RevokeTokenRequest) (*berthv1.RevokeTokenResponse, error) {
	id := req.GetId()
	if err := validate.ID("id", "tok", id); err != nil {
		return nil, err
	}
	p := auth.FromContext(ctx)
	var t *store.Token
	err := s.store.Update(ctx, func(tx store.Tx) (err error) {
		if t, err = tx.GetToken(id); err != nil {
			return err
		}
		if !p.IsAdmin() && (t.ClientID != p.ClientID || t.Kind != store.TokenKindAPI) {
			return rpc.Deny(ctx, "token", id)
		}
		rpc.SetResource(ctx, id, t.ClientID)
		if t.RevokeTime.IsZero() {
			t.RevokeTime = s.now()
			if err := tx.RevokeToken(id, t.RevokeTime); err != nil {
				return err
			}
		}
		return s.auditInTx(ctx, tx, id, t.ClientID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("token", id)
	} else if err != nil {
		return nil, err
	}
	return &berthv1.RevokeTokenResponse{Token: tokenToProto(t)}, nil
}
