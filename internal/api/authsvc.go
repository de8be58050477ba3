package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

type authService struct {
	*API
	berthv1.UnimplementedAuthServiceServer
}

var errBadLogin = status.Error(codes.Unauthenticated, "the email or password is wrong")

func (s authService) Login(ctx context.Context, req *berthv1.LoginRequest) (*berthv1.LoginResponse, error) {
	email := strings.ToLower(strings.TrimSpace(req.GetEmail()))
	if email == "" || req.GetPassword() == "" {
		return nil, &validate.Error{Field: "email", Msg: "give an email and a password"}
	}
	peerKey := "peer:" + rpc.Peer(ctx)
	emailKey := "email:" + email
	ok, wait, undo := s.limiter.Attempt(emailKey, peerKey)
	if !ok {
		return nil, status.Errorf(codes.ResourceExhausted, "too many failed logins; try again in %s", wait.Round(time.Second))
	}
	var u *store.User
	err := s.store.View(ctx, func(tx store.ReadTx) (err error) {
		u, err = tx.GetUserByEmail(email)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		auth.CheckDummyPassword(req.GetPassword())
		return nil, errBadLogin
	case err != nil:
		return nil, err
	}
	rpc.SetResource(ctx, u.ID, u.ClientID)
	if err := auth.CheckPassword(u.PasswordHash, req.GetPassword()); err != nil {
		if !errors.Is(err, auth.ErrPasswordMismatch) {
			return nil, fmt.Errorf("check password of %s: %w", u.ID, err)
		}
		return nil, errBadLogin
	}
	undo()
	s.limiter.Succeed(emailKey)
	now := s.now()
	secret, hash := auth.NewToken(auth.TokenPrefix)
	t := &store.Token{
		ID: store.NewID("tok", now), Name: "session", Kind: store.TokenKindSession, Role: u.Role,
		ClientID: u.ClientID, UserID: u.ID, Hash: hash, CreateTime: now, ExpireTime: now.Add(s.sessionTTL),
	}
	rpc.SetPrincipal(ctx, &auth.Principal{Role: u.Role, ClientID: u.ClientID, UserID: u.ID, Email: u.Email})
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateToken(t); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, u.ID, u.ClientID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.LoginResponse{Token: secret, ExpireTime: timestamppb.New(t.ExpireTime), User: userToProto(u)}, nil
}

func (s authService) Logout(ctx context.Context, _ *berthv1.LogoutRequest) (*berthv1.LogoutResponse, error) {
	p := auth.FromContext(ctx)
	if p.TokenKind != store.TokenKindSession {
		return nil, rpc.FailedPrecondition("this is an API token, not a login session; revoke it with `berth token revoke %s`", p.TokenID)
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.RevokeToken(p.TokenID, s.now()); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, p.UserID, p.ClientID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.LogoutResponse{}, nil
}

func (s authService) ChangePassword(ctx context.Context, req *berthv1.ChangePasswordRequest) (*berthv1.ChangePasswordResponse, error) {
	p := auth.FromContext(ctx)
	if p.UserID == "" {
		return nil, rpc.FailedPrecondition("this API token acts for no user, so it has no password")
	}
	if err := validate.Password("new_password", req.GetNewPassword()); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(req.GetNewPassword())
	if err != nil {
		return nil, err
	}
	rpc.SetResource(ctx, p.UserID, p.ClientID)
	err = s.store.Update(ctx, func(tx store.Tx) error {
		u, err := tx.GetUser(p.UserID)
		if err != nil {
			return err
		}
		if err := auth.CheckPassword(u.PasswordHash, req.GetCurrentPassword()); err != nil {
			if errors.Is(err, auth.ErrPasswordMismatch) {
				return &validate.Error{Field: "current_password", Msg: "is wrong"}
			}
			return err
		}
		now := s.now()
		u.PasswordHash, u.UpdateTime = hash, now
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		if err := tx.RevokeUserSessions(u.ID, p.TokenID, now); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, u.ID, u.ClientID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.ChangePasswordResponse{}, nil
}

func (s authService) WhoAmI(ctx context.Context, _ *berthv1.WhoAmIRequest) (*berthv1.WhoAmIResponse, error) {
	p := auth.FromContext(ctx)
	return &berthv1.WhoAmIResponse{
		Role: roles[p.Role], ClientId: p.ClientID, UserId: p.UserID, Email: p.Email,
		TokenId: p.TokenID, TokenName: p.TokenName,
	}, nil
}
