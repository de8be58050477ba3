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

type userService struct {
	*API
	berthv1.UnimplementedUserServiceServer
}

// checkRoleBinding validates a role and the client it is bound to: client
// roles need an existing client, admin roles must have none.
func checkRoleBinding(tx store.ReadTx, field string, role store.Role, clientID string) error {
	switch role {
	case store.RoleAdmin:
		if clientID != "" {
			return &validate.Error{Field: field + ".client_id", Msg: "must be empty for the ADMIN role"}
		}
	case store.RoleClient:
		if err := validate.ID(field+".client_id", "cl", clientID); err != nil {
			return err
		}
		if _, err := tx.GetClient(clientID); errors.Is(err, store.ErrNotFound) {
			return &validate.Error{Field: field + ".client_id", Msg: fmt.Sprintf("no client has id %q", clientID)}
		} else if err != nil {
			return err
		}
	default:
		return &validate.Error{Field: field + ".role", Msg: "choose ADMIN or CLIENT"}
	}
	return nil
}

func (s userService) CreateUser(ctx context.Context, req *berthv1.CreateUserRequest) (*berthv1.CreateUserResponse, error) {
	in := req.GetUser()
	email, err := validate.Email("user.email", in.GetEmail())
	if err != nil {
		return nil, err
	}
	if err := validate.Password("password", req.GetPassword()); err != nil {
		return nil, err
	}
	role, _ := roleFromProto(in.GetRole())
	hash, err := auth.HashPassword(req.GetPassword())
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := &store.User{
		ID: store.NewID("usr", now), Email: email, Role: role, ClientID: in.GetClientId(),
		PasswordHash: hash, CreateTime: now, UpdateTime: now,
	}
	rpc.SetResource(ctx, u.ID, u.ClientID)
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := checkRoleBinding(tx, "user", role, u.ClientID); err != nil {
			return err
		}
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, u.ID, u.ClientID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.CreateUserResponse{User: userToProto(u)}, nil
}

func (s userService) GetUser(ctx context.Context, req *berthv1.GetUserRequest) (*berthv1.GetUserResponse, error) {
	id := req.GetId()
	if err := validate.ID("id", "usr", id); err != nil {
		return nil, err
	}
	var u *store.User
	err := s.store.View(ctx, func(tx store.ReadTx) (err error) {
		u, err = tx.GetUser(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("user", id)
	} else if err != nil {
		return nil, err
	}
	return &berthv1.GetUserResponse{User: userToProto(u)}, nil
}

func (s userService) ListUsers(ctx context.Context, req *berthv1.ListUsersRequest) (*berthv1.ListUsersResponse, error) {
	if c := req.GetClientId(); c != "" {
		if err := validate.ID("client_id", "cl", c); err != nil {
			return nil, err
		}
	}
	page, n, err := pageFromRequest(req.GetPageSize(), req.GetPageToken(), "usr")
	if err != nil {
		return nil, err
	}
	var list []*store.User
	err = s.store.View(ctx, func(tx store.ReadTx) (err error) {
		list, err = tx.ListUsers(req.GetClientId(), page)
		return err
	})
	if err != nil {
		return nil, err
	}
	list, next := pageOf(list, n, func(u *store.User) string { return u.ID })
	resp := &berthv1.ListUsersResponse{NextPageToken: next}
	for _, u := range list {
		resp.Users = append(resp.Users, userToProto(u))
	}
	return resp, nil
}

func (s userService) DeleteUser(ctx context.Context, req *berthv1.DeleteUserRequest) (*berthv1.DeleteUserResponse, error) {
	id := req.GetId()
	if err := validate.ID("id", "usr", id); err != nil {
		return nil, err
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		u, err := tx.GetUser(id)
		if err != nil {
			return err
		}
		rpc.SetResource(ctx, id, u.ClientID)
		if p := auth.FromContext(ctx); p.UserID == id {
			return rpc.FailedPrecondition("you cannot delete your own user; ask another admin")
		}
		if err := tx.DeleteUser(id); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, id, u.ClientID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("user", id)
	} else if err != nil {
		return nil, err
	}
	return &berthv1.DeleteUserResponse{}, nil
}
