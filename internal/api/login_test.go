package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// loginUser is a client-role user stored directly, with password as its password.
type loginUser struct {
	clientID, userID, email string
}

// newLoginUser stores a client and a client-role user of it.
func newLoginUser(t *testing.T, s *server, name string) loginUser {
	t.Helper()
	now := time.Now().UTC()
	u := loginUser{
		clientID: store.NewID("cl", now),
		userID:   store.NewID("usr", now),
		email:    fmt.Sprintf("owner@%s.test", name),
	}
	s.update(t, func(tx store.Tx) error {
		if err := tx.CreateClient(&store.Client{ID: u.clientID, DisplayName: name, Slug: name, ContactEmail: u.email, CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		return tx.CreateUser(&store.User{ID: u.userID, Email: u.email, Role: store.RoleClient, ClientID: u.clientID,
			PasswordHash: passwordHash, CreateTime: now, UpdateTime: now})
	})
	return u
}

// as returns a context that calls with the bearer token secret.
func as(t *testing.T, secret string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	if secret == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+secret)
}

// login logs in and returns the session secret, failing the test on error.
func login(t *testing.T, s *server, email, pw string) string {
	t.Helper()
	resp, err := berthv1.NewAuthServiceClient(s.conn).Login(as(t, ""), &berthv1.LoginRequest{Email: email, Password: pw})
	if err != nil {
		t.Fatalf("Login(%s): %v", email, err)
	}
	return resp.GetToken()
}

// tryLogin logs in and returns only the error.
func tryLogin(t *testing.T, s *server, email, pw string) error {
	t.Helper()
	_, err := berthv1.NewAuthServiceClient(s.conn).Login(as(t, ""), &berthv1.LoginRequest{Email: email, Password: pw})
	return err
}

func whoAmI(t *testing.T, s *server, secret string) (*berthv1.WhoAmIResponse, error) {
	t.Helper()
	return berthv1.NewAuthServiceClient(s.conn).WhoAmI(as(t, secret), &berthv1.WhoAmIRequest{})
}

// wantCode fails the test unless err has the code and its message contains every part.
func wantCode(t *testing.T, what string, err error, code codes.Code, parts ...string) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Errorf("%s: code %v (%v), want %v", what, got, err, code)
		return
	}
	msg := status.Convert(err).Message()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("%s: message %q does not contain %q", what, msg, p)
		}
	}
}

// adminToken stores an admin API token and returns its secret.
func adminToken(t *testing.T, s *server) string {
	t.Helper()
	return s.token(t, store.Token{Name: "ops", Role: store.RoleAdmin})
}

func TestLogin(t *testing.T) {
	s := newServer(t)
	u := newLoginUser(t, s, "alpha")

	resp, err := berthv1.NewAuthServiceClient(s.conn).Login(as(t, ""), &berthv1.LoginRequest{Email: u.email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.GetToken(), "berth_") {
		t.Errorf("session token %q does not start with berth_", resp.GetToken())
	}
	if exp := resp.GetExpireTime().AsTime(); !exp.After(time.Now()) {
		t.Errorf("session expire_time %v is not in the future", exp)
	}
	type identity struct {
		Email    string
		Role     berthv1.Role
		ClientID string
		UserID   string
	}
	want := identity{u.email, berthv1.Role_ROLE_CLIENT, u.clientID, u.userID}
	ru := resp.GetUser()
	if diff := cmp.Diff(want, identity{ru.GetEmail(), ru.GetRole(), ru.GetClientId(), ru.GetId()}); diff != "" {
		t.Errorf("Login user (-want +got):\n%s", diff)
	}

	who, err := whoAmI(t, s, resp.GetToken())
	if err != nil {
		t.Fatalf("WhoAmI with the session: %v", err)
	}
	if diff := cmp.Diff(want, identity{who.GetEmail(), who.GetRole(), who.GetClientId(), who.GetUserId()}); diff != "" {
		t.Errorf("WhoAmI (-want +got):\n%s", diff)
	}

	// Emails are matched without regard to case or surrounding space.
	if _, err := whoAmI(t, s, login(t, s, "  "+strings.ToUpper(u.email)+" ", password)); err != nil {
		t.Errorf("session of a login with an upper-case email: %v", err)
	}

	// A wrong password and an unknown email fail alike: no user enumeration.
	tests := []struct{ name, email, pw string }{
		{"wrong password", u.email, "correct horse battery stapler"},
		{"unknown email", "nobody@alpha.test", password},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tryLogin(t, s, tt.email, tt.pw)
			wantCode(t, "Login", err, codes.Unauthenticated)
			if msg := status.Convert(err).Message(); msg != "the email or password is wrong" {
				t.Errorf("Login message = %q, want %q", msg, "the email or password is wrong")
			}
		})
	}
}

func TestLoginRateLimit(t *testing.T) {
	// Failures count per peer too, and every call here comes from 127.0.0.1:
	// this test has a server of its own.
	s := newServer(t)
	u := newLoginUser(t, s, "alpha")
	v := newLoginUser(t, s, "bravo")
	for i := range 5 {
		wantCode(t, fmt.Sprintf("wrong password #%d", i+1), tryLogin(t, s, u.email, "not the password at all"), codes.Unauthenticated)
	}
	wantCode(t, "6th login, right password", tryLogin(t, s, u.email, password), codes.ResourceExhausted, "try again")
	// The peer has used up its failures as well.
	wantCode(t, "login of another user from the same peer", tryLogin(t, s, v.email, password), codes.ResourceExhausted, "try again")
}

func TestLogout(t *testing.T) {
	s := newServer(t)
	u := newLoginUser(t, s, "alpha")
	session := login(t, s, u.email, password)
	other := login(t, s, u.email, password)
	auth := berthv1.NewAuthServiceClient(s.conn)

	if _, err := auth.Logout(as(t, session), &berthv1.LogoutRequest{}); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	_, err := whoAmI(t, s, session)
	wantCode(t, "WhoAmI after Logout", err, codes.Unauthenticated)
	_, err = auth.Logout(as(t, session), &berthv1.LogoutRequest{})
	wantCode(t, "second Logout", err, codes.Unauthenticated)
	if _, err := whoAmI(t, s, other); err != nil {
		t.Errorf("WhoAmI with the user's other session after Logout: %v", err)
	}

	_, err = auth.Logout(as(t, adminToken(t, s)), &berthv1.LogoutRequest{})
	wantCode(t, "Logout with an API token", err, codes.FailedPrecondition, "API token")
}

func TestChangePassword(t *testing.T) {
	s := newServer(t)
	u := newLoginUser(t, s, "alpha")
	a := login(t, s, u.email, password)
	b := login(t, s, u.email, password)
	const newPassword = "a brand new passphrase"

	_, err := berthv1.NewAuthServiceClient(s.conn).ChangePassword(as(t, a), &berthv1.ChangePasswordRequest{CurrentPassword: password, NewPassword: newPassword})
	if err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if _, err := whoAmI(t, s, a); err != nil {
		t.Errorf("WhoAmI with the session that changed the password: %v", err)
	}
	_, err = whoAmI(t, s, b)
	wantCode(t, "WhoAmI with the user's other session", err, codes.Unauthenticated)
	wantCode(t, "Login with the old password", tryLogin(t, s, u.email, password), codes.Unauthenticated)
	if _, err := whoAmI(t, s, login(t, s, u.email, newPassword)); err != nil {
		t.Errorf("WhoAmI with a session of the new password: %v", err)
	}
}

func TestChangePasswordRejected(t *testing.T) {
	s := newServer(t)
	u := newLoginUser(t, s, "alpha")
	tests := []struct {
		name        string
		current, pw string
		field       string
	}{
		{"wrong current password", "not the password at all", "a brand new passphrase", "current_password"},
		{"empty current password", "", "a brand new passphrase", "current_password"},
		{"new password too short", password, "short pass", "new_password"},
		{"empty new password", password, "", "new_password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := login(t, s, u.email, password)
			b := login(t, s, u.email, password)
			_, err := berthv1.NewAuthServiceClient(s.conn).ChangePassword(as(t, a), &berthv1.ChangePasswordRequest{CurrentPassword: tt.current, NewPassword: tt.pw})
			wantCode(t, "ChangePassword", err, codes.InvalidArgument, tt.field)
			// Nothing changed: the other session and the old password still work.
			if _, err := whoAmI(t, s, b); err != nil {
				t.Errorf("other session after a rejected change: %v", err)
			}
			if err := tryLogin(t, s, u.email, password); err != nil {
				t.Errorf("Login with the unchanged password: %v", err)
			}
		})
	}

	_, err := berthv1.NewAuthServiceClient(s.conn).ChangePassword(as(t, adminToken(t, s)), &berthv1.ChangePasswordRequest{CurrentPassword: password, NewPassword: "a brand new passphrase"})
	wantCode(t, "ChangePassword with an API token of no user", err, codes.FailedPrecondition)
}

func TestSessionValidity(t *testing.T) {
	s := newServer(t)
	u := newLoginUser(t, s, "alpha")
	now := time.Now().UTC()
	tests := []struct {
		name string
		tok  store.Token
		want codes.Code
	}{
		{"valid", store.Token{ExpireTime: now.Add(time.Hour)}, codes.OK},
		{"expired", store.Token{ExpireTime: now.Add(-time.Minute)}, codes.Unauthenticated},
		{"revoked", store.Token{ExpireTime: now.Add(time.Hour), RevokeTime: now.Add(-time.Minute)}, codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.tok
			tok.Kind, tok.Name, tok.Role, tok.ClientID, tok.UserID = store.TokenKindSession, "session", store.RoleClient, u.clientID, u.userID
			_, err := whoAmI(t, s, s.token(t, tok))
			wantCode(t, "WhoAmI", err, tt.want)
		})
	}
}

func TestDeletedUserSession(t *testing.T) {
	s := newServer(t)
	u := newLoginUser(t, s, "alpha")
	session := login(t, s, u.email, password)
	if _, err := whoAmI(t, s, session); err != nil {
		t.Fatalf("WhoAmI before the user is deleted: %v", err)
	}
	_, err := berthv1.NewUserServiceClient(s.conn).DeleteUser(as(t, adminToken(t, s)), &berthv1.DeleteUserRequest{Id: u.userID})
	if err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err = whoAmI(t, s, session)
	wantCode(t, "WhoAmI with a deleted user's session", err, codes.Unauthenticated)
	wantCode(t, "Login of a deleted user", tryLogin(t, s, u.email, password), codes.Unauthenticated, "the email or password is wrong")
}

func TestClientTokens(t *testing.T) {
	s := newServer(t)
	u := newLoginUser(t, s, "alpha")
	other := newLoginUser(t, s, "bravo")
	session := as(t, login(t, s, u.email, password))
	admin := as(t, adminToken(t, s))
	tokens := berthv1.NewTokenServiceClient(s.conn)
	clients := berthv1.NewClientServiceClient(s.conn)

	// The role defaults to CLIENT, bound to the caller's client.
	created, err := tokens.CreateToken(session, &berthv1.CreateTokenRequest{Token: &berthv1.Token{Name: "deploy"}})
	if err != nil {
		t.Fatalf("CreateToken as a client: %v", err)
	}
	tok := created.GetToken()
	if tok.GetRole() != berthv1.Role_ROLE_CLIENT || tok.GetClientId() != u.clientID {
		t.Errorf("token role %v, client %q; want ROLE_CLIENT, %q", tok.GetRole(), tok.GetClientId(), u.clientID)
	}
	if !strings.HasPrefix(created.GetSecret(), "berth_") {
		t.Errorf("secret %q does not start with berth_", created.GetSecret())
	}

	// A client cannot mint an admin token, nor one of another client; the API
	// answers as if they did not exist.
	denied := []struct {
		name string
		tok  *berthv1.Token
	}{
		{"admin role", &berthv1.Token{Name: "root", Role: berthv1.Role_ROLE_ADMIN}},
		{"another client", &berthv1.Token{Name: "theirs", Role: berthv1.Role_ROLE_CLIENT, ClientId: other.clientID}},
	}
	for _, tt := range denied {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tokens.CreateToken(session, &berthv1.CreateTokenRequest{Token: tt.tok})
			wantCode(t, "CreateToken", err, codes.NotFound)
		})
	}

	// The secret acts as the client, on its own client only.
	if _, err := clients.GetClient(as(t, created.GetSecret()), &berthv1.GetClientRequest{Id: u.clientID}); err != nil {
		t.Errorf("GetClient of its own client with the new token: %v", err)
	}
	_, err = clients.GetClient(as(t, created.GetSecret()), &berthv1.GetClientRequest{Id: other.clientID})
	wantCode(t, "GetClient of another client with the new token", err, codes.NotFound)

	// ListTokens as the client shows only its client's active API tokens.
	kept, err := tokens.CreateToken(session, &berthv1.CreateTokenRequest{Token: &berthv1.Token{Name: "ci"}})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := tokens.CreateToken(admin, &berthv1.CreateTokenRequest{Token: &berthv1.Token{Name: "theirs", Role: berthv1.Role_ROLE_CLIENT, ClientId: other.clientID}})
	if err != nil {
		t.Fatalf("CreateToken for another client as admin: %v", err)
	}
	list, err := tokens.ListTokens(session, &berthv1.ListTokensRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, lt := range list.GetTokens() {
		ids = append(ids, lt.GetId())
		if lt.GetId() == theirs.GetToken().GetId() || lt.GetClientId() != u.clientID {
			t.Errorf("ListTokens as client %s shows token %s of client %q", u.clientID, lt.GetId(), lt.GetClientId())
		}
	}
	if diff := cmp.Diff([]string{tok.GetId(), kept.GetToken().GetId()}, ids); diff != "" {
		t.Errorf("ListTokens as the client (-want +got):\n%s", diff)
	}

	// RevokeToken ends the token.
	revoked, err := tokens.RevokeToken(session, &berthv1.RevokeTokenRequest{Id: tok.GetId()})
	if err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if revoked.GetToken().GetRevokeTime() == nil {
		t.Error("RevokeToken response has no revoke_time")
	}
	_, err = clients.GetClient(as(t, created.GetSecret()), &berthv1.GetClientRequest{Id: u.clientID})
	wantCode(t, "GetClient with the revoked token", err, codes.Unauthenticated)
	_, err = tokens.RevokeToken(session, &berthv1.RevokeTokenRequest{Id: theirs.GetToken().GetId()})
	wantCode(t, "RevokeToken of another client's token", err, codes.NotFound)
	if _, err := clients.GetClient(as(t, theirs.GetSecret()), &berthv1.GetClientRequest{Id: other.clientID}); err != nil {
		t.Errorf("the other client's token after a denied revoke: %v", err)
	}

	list, err = tokens.ListTokens(session, &berthv1.ListTokensRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ids = nil
	for _, lt := range list.GetTokens() {
		ids = append(ids, lt.GetId())
	}
	if diff := cmp.Diff([]string{kept.GetToken().GetId()}, ids); diff != "" {
		t.Errorf("ListTokens after the revoke (-want +got):\n%s", diff)
	}
}

func TestCreateTokenExpireTime(t *testing.T) {
	s := newServer(t)
	u := newLoginUser(t, s, "alpha")
	session := as(t, login(t, s, u.email, password))
	tokens := berthv1.NewTokenServiceClient(s.conn)
	future := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	tests := []struct {
		name   string
		expire *timestamppb.Timestamp
		want   codes.Code
	}{
		{"past", timestamppb.New(time.Now().Add(-time.Hour)), codes.InvalidArgument},
		{"far past", timestamppb.New(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)), codes.InvalidArgument},
		{"invalid", &timestamppb.Timestamp{Seconds: 1, Nanos: -1}, codes.InvalidArgument},
		{"future", timestamppb.New(future), codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tokens.CreateToken(session, &berthv1.CreateTokenRequest{Token: &berthv1.Token{Name: "deploy", ExpireTime: tt.expire}})
			if tt.want != codes.OK {
				wantCode(t, "CreateToken", err, tt.want, "token.expire_time")
				return
			}
			if err != nil {
				t.Fatalf("CreateToken: %v", err)
			}
			if got := resp.GetToken().GetExpireTime().AsTime(); !got.Equal(future) {
				t.Errorf("expire_time = %v, want %v", got, future)
			}
		})
	}
}
