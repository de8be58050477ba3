package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/internal/store"
)

func testTokens(t *testing.T, s store.Store) {
	c := newClient(1)
	u, other := newUser(c.ID, 1), newUser(c.ID, 2)
	keep := newToken(c.ID, u.ID, store.TokenKindSession, 1)
	s2 := newToken(c.ID, u.ID, store.TokenKindSession, 2)
	s3 := newToken(c.ID, u.ID, store.TokenKindSession, 3)
	api := newToken(c.ID, u.ID, store.TokenKindAPI, 4)
	otherSession := newToken(c.ID, other.ID, store.TokenKindSession, 5)
	earlier := at(-time.Hour)
	s3.RevokeTime = earlier // already revoked: keeps its time
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateClient(c) },
			func() error { return tx.CreateUser(u) },
			func() error { return tx.CreateUser(other) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		for _, tok := range []*store.Token{keep, s2, s3, api, otherSession} {
			if err := tx.CreateToken(tok); err != nil {
				return err
			}
		}
		return nil
	})
	get := func(id string) *store.Token {
		t.Helper()
		return read(t, s, func(tx store.ReadTx) (*store.Token, error) { return tx.GetToken(id) })
	}

	revokeAt := at(time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.RevokeUserSessions(u.ID, keep.ID, revokeAt) })
	for _, tt := range []struct {
		tok  *store.Token
		want time.Time
	}{
		{keep, time.Time{}},
		{s2, revokeAt},
		{s3, earlier},
		{api, time.Time{}},          // not a session
		{otherSession, time.Time{}}, // another user's
	} {
		if got := get(tt.tok.ID).RevokeTime; !got.Equal(tt.want) {
			t.Errorf("%s: RevokeTime = %v after RevokeUserSessions, want %v", tt.tok.Name, got, tt.want)
		}
	}

	// RevokeToken sets the time once; a second revoke keeps the first time.
	first, second := at(2*time.Hour), at(3*time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.RevokeToken(api.ID, first) })
	update(t, s, func(tx store.Tx) error { return tx.RevokeToken(api.ID, second) })
	if got := get(api.ID).RevokeTime; !got.Equal(first) {
		t.Errorf("RevokeTime = %v after revoking twice, want the first time %v", got, first)
	}

	used := at(90 * time.Minute)
	update(t, s, func(tx store.Tx) error { return tx.TouchToken(keep.ID, used) })
	want := *keep
	want.LastUsedTime = used
	if diff := cmp.Diff(&want, get(keep.ID)); diff != "" {
		t.Errorf("after TouchToken (-want +got):\n%s", diff)
	}
	got := read(t, s, func(tx store.ReadTx) (*store.Token, error) { return tx.GetTokenByHash(keep.Hash) })
	if got.ID != keep.ID || !got.LastUsedTime.Equal(used) {
		t.Errorf("GetTokenByHash = %s used %v, want %s used %v", got.ID, got.LastUsedTime, keep.ID, used)
	}
}

func testListTokensFilter(t *testing.T, s store.Store) {
	a, b := newClient(1), newClient(2)
	u := newUser(a.ID, 1)
	active := newToken(a.ID, "", store.TokenKindAPI, 1)
	expiring := newToken(a.ID, "", store.TokenKindAPI, 2)
	expiring.ExpireTime = at(time.Minute)
	expired := newToken(a.ID, "", store.TokenKindAPI, 3)
	expired.ExpireTime = at(-time.Minute)
	revoked := newToken(a.ID, "", store.TokenKindAPI, 4)
	revoked.RevokeTime = at(-time.Hour)
	session := newToken(a.ID, u.ID, store.TokenKindSession, 5)
	ofB := newToken(b.ID, "", store.TokenKindAPI, 6)
	admin := newToken("", "", store.TokenKindAPI, 7)
	all := []*store.Token{active, expiring, expired, revoked, session, ofB, admin}
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateClient(a) },
			func() error { return tx.CreateClient(b) },
			func() error { return tx.CreateUser(u) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		for _, tok := range all {
			if err := tx.CreateToken(tok); err != nil {
				return err
			}
		}
		return nil
	})
	ids := func(ts ...*store.Token) []string {
		var out []string
		for _, tok := range ts {
			out = append(out, tok.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.TokenFilter
		want []string
	}{
		{"active", store.TokenFilter{Now: base}, ids(active, expiring, session, ofB, admin)},
		{"active later", store.TokenFilter{Now: at(time.Hour)}, ids(active, session, ofB, admin)},
		{"all", store.TokenFilter{IncludeInactive: true, Now: base}, ids(all...)},
		{"client", store.TokenFilter{ClientID: a.ID, Now: base}, ids(active, expiring, session)},
		{"client all", store.TokenFilter{ClientID: a.ID, IncludeInactive: true}, ids(active, expiring, expired, revoked, session)},
		{"kind", store.TokenFilter{Kind: store.TokenKindSession, Now: base}, ids(session)},
		{"kind and client", store.TokenFilter{Kind: store.TokenKindAPI, ClientID: b.ID, Now: base}, ids(ofB)},
	}
	for _, tt := range tests {
		got := read(t, s, func(tx store.ReadTx) ([]*store.Token, error) { return tx.ListTokens(tt.f, store.Page{}) })
		var gotIDs []string
		for _, tok := range got {
			gotIDs = append(gotIDs, tok.ID)
		}
		checkIDs(t, "ListTokens "+tt.name, gotIDs, sorted(tt.want, false))
	}
}

func testJoinTokens(t *testing.T, s store.Store) {
	good := &store.JoinToken{
		ID: store.NewID("join", base), Hash: hash("join-good"), CreatedBy: "admin",
		CreateTime: base, ExpireTime: at(time.Hour),
	}
	stale := &store.JoinToken{
		ID: store.NewID("join", at(time.Millisecond)), Hash: hash("join-stale"), CreatedBy: "admin",
		CreateTime: at(-2 * time.Hour), ExpireTime: at(-time.Hour),
	}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateJoinToken(good); err != nil {
			return err
		}
		return tx.CreateJoinToken(stale)
	})
	dup := *good
	dup.ID = store.NewID("join", at(2*time.Millisecond))
	wantErr(t, "CreateJoinToken with a used hash",
		updateErr(t, s, func(tx store.Tx) error { return tx.CreateJoinToken(&dup) }), store.ErrConflict)

	consume := func(h []byte, now time.Time) (*store.JoinToken, error) {
		var j *store.JoinToken
		err := s.Update(t.Context(), func(tx store.Tx) error {
			var err error
			j, err = tx.ConsumeJoinToken(h, now)
			return err
		})
		return j, err
	}
	useTime := at(time.Minute)
	got, err := consume(good.Hash, useTime)
	if err != nil {
		t.Fatalf("ConsumeJoinToken: %v", err)
	}
	want := *good
	want.UseTime = useTime
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("ConsumeJoinToken (-want +got):\n%s", diff)
	}
	_, err = consume(good.Hash, at(2*time.Minute))
	wantErr(t, "ConsumeJoinToken twice", err, store.ErrNotFound)
	_, err = consume(stale.Hash, base)
	wantErr(t, "ConsumeJoinToken expired", err, store.ErrNotFound)
	_, err = consume(hash("unknown"), base)
	wantErr(t, "ConsumeJoinToken unknown", err, store.ErrNotFound)

	// A consume that rolls back leaves the token usable.
	fresh := &store.JoinToken{
		ID: store.NewID("join", at(3*time.Millisecond)), Hash: hash("join-fresh"), CreatedBy: "admin",
		CreateTime: base, ExpireTime: at(time.Hour),
	}
	update(t, s, func(tx store.Tx) error { return tx.CreateJoinToken(fresh) })
	err = s.Update(t.Context(), func(tx store.Tx) error {
		if _, err := tx.ConsumeJoinToken(fresh.Hash, base); err != nil {
			return err
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("Update = %v, want the fn's error", err)
	}
	if _, err := consume(fresh.Hash, base); err != nil {
		t.Errorf("ConsumeJoinToken after a rolled-back consume: %v", err)
	}
}
