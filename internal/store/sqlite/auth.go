package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fixaroo/berth/internal/store"
)

// Users

const userCols = `id, email, role, client_id, password_hash, create_time, update_time`

func scanUser(sc scanner) (*store.User, error) {
	u := new(store.User)
	err := sc.Scan(&u.ID, &u.Email, &u.Role, strCol{&u.ClientID}, &u.PasswordHash,
		timeCol{&u.CreateTime}, timeCol{&u.UpdateTime})
	return u, err
}

func (r *readTx) GetUser(id string) (*store.User, error) {
	u, err := get(r, scanUser, `SELECT `+userCols+` FROM users WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user %q", id)
	}
	return u, wrap("get user "+id, err)
}

// GetUserByEmail finds a user by email, ignoring ASCII case.
func (r *readTx) GetUserByEmail(email string) (*store.User, error) {
	u, err := get(r, scanUser, `SELECT `+userCols+` FROM users WHERE email = ?`, email)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user with email %q", email)
	}
	return u, wrap("get user by email", err)
}

// ListUsers lists the users of one client, or every user for clientID "".
func (r *readTx) ListUsers(clientID string, p store.Page) ([]*store.User, error) {
	var (
		us  []*store.User
		err error
	)
	if clientID == "" {
		us, err = list(r, scanUser,
			`SELECT `+userCols+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, p.After, pageLimit(p))
	} else {
		us, err = list(r, scanUser,
			`SELECT `+userCols+` FROM users WHERE client_id = ? AND id > ? ORDER BY id LIMIT ?`,
			clientID, p.After, pageLimit(p))
	}
	return us, wrap("list users", err)
}

func userConflict(u *store.User, err error) error {
	switch cols, _ := uniqueViolation(err); cols {
	case "users.email":
		return conflict("a user with email %q already exists", u.Email)
	case "users.id":
		return conflict("user %q already exists", u.ID)
	}
	return err
}

func (w *writeTx) CreateUser(u *store.User) error {
	if u.ClientID != "" {
		if err := w.clientExists(u.ClientID); err != nil {
			return err
		}
	}
	_, err := w.exec(`INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, string(u.Role), strArg(u.ClientID), u.PasswordHash, timeArg(u.CreateTime), timeArg(u.UpdateTime))
	return wrap("create user", userConflict(u, err))
}

func (w *writeTx) UpdateUser(u *store.User) error {
	ok, err := w.exists(`SELECT 1 FROM users WHERE id = ?`, u.ID)
	if err != nil {
		return fmt.Errorf("update user %s: %w", u.ID, err)
	}
	if !ok {
		return notFound("user %q", u.ID)
	}
	if u.ClientID != "" {
		if err := w.clientExists(u.ClientID); err != nil {
			return err
		}
	}
	_, err = w.exec(`UPDATE users SET (email, role, client_id, password_hash, update_time) = (?, ?, ?, ?, ?) WHERE id = ?`,
		u.Email, string(u.Role), strArg(u.ClientID), u.PasswordHash, timeArg(u.UpdateTime), u.ID)
	return wrap("update user", userConflict(u, err))
}

func (w *writeTx) DeleteUser(id string) error {
	// Its tokens go with it (ON DELETE CASCADE).
	err := w.execOne(`DELETE FROM users WHERE id = ?`, id)
	if errors.Is(err, errNoRow) {
		return notFound("user %q", id)
	}
	return wrap("delete user "+id, err)
}

// Tokens

const tokenCols = `id, name, kind, role, client_id, user_id, hash,
	create_time, expire_time, last_used_time, revoke_time`

func scanToken(sc scanner) (*store.Token, error) {
	t := new(store.Token)
	err := sc.Scan(&t.ID, &t.Name, &t.Kind, &t.Role, strCol{&t.ClientID}, strCol{&t.UserID}, &t.Hash,
		timeCol{&t.CreateTime}, timeCol{&t.ExpireTime}, timeCol{&t.LastUsedTime}, timeCol{&t.RevokeTime})
	return t, err
}

func (r *readTx) GetToken(id string) (*store.Token, error) {
	t, err := get(r, scanToken, `SELECT `+tokenCols+` FROM tokens WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("token %q", id)
	}
	return t, wrap("get token "+id, err)
}

func (r *readTx) GetTokenByHash(hash []byte) (*store.Token, error) {
	t, err := get(r, scanToken, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?`, hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("token")
	}
	return t, wrap("get token by hash", err)
}

// ListTokens lists tokens in id order. Without IncludeInactive it leaves out
// revoked tokens and those whose ExpireTime is at or before f.Now (the
// current time when f.Now is zero).
func (r *readTx) ListTokens(f store.TokenFilter, p store.Page) ([]*store.Token, error) {
	q := `SELECT ` + tokenCols + ` FROM tokens WHERE id > ?`
	args := []any{p.After}
	if f.ClientID != "" {
		q += ` AND client_id = ?`
		args = append(args, f.ClientID)
	}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, string(f.Kind))
	}
	if !f.IncludeInactive {
		now := f.Now
		if now.IsZero() {
			now = time.Now()
		}
		q += ` AND revoke_time IS NULL AND (expire_time IS NULL OR expire_time > ?)`
		args = append(args, timeArg(now))
	}
	q += ` ORDER BY id LIMIT ?`
	ts, err := list(r, scanToken, q, append(args, pageLimit(p))...)
	return ts, wrap("list tokens", err)
}

func (w *writeTx) CreateToken(t *store.Token) error {
	if t.ClientID != "" {
		if err := w.clientExists(t.ClientID); err != nil {
			return err
		}
	}
	if t.UserID != "" {
		ok, err := w.exists(`SELECT 1 FROM users WHERE id = ?`, t.UserID)
		if err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		if !ok {
			return notFound("user %q", t.UserID)
		}
	}
	_, err := w.exec(`INSERT INTO tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, string(t.Kind), string(t.Role), strArg(t.ClientID), strArg(t.UserID), t.Hash,
		timeArg(t.CreateTime), timeArg(t.ExpireTime), timeArg(t.LastUsedTime), timeArg(t.RevokeTime))
	switch cols, _ := uniqueViolation(err); cols {
	case "tokens.hash":
		// Never echo the hash: it identifies a credential.
		return conflict("a token with the same secret already exists")
	case "tokens.id":
		return conflict("token %q already exists", t.ID)
	}
	return wrap("create token", err)
}

func (w *writeTx) RevokeToken(id string, at time.Time) error {
	err := w.execOne(`UPDATE tokens SET revoke_time = ? WHERE id = ? AND revoke_time IS NULL`, timeArg(at), id)
	if errors.Is(err, errNoRow) {
		ok, err := w.exists(`SELECT 1 FROM tokens WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("revoke token %s: %w", id, err)
		}
		if !ok {
			return notFound("token %q", id)
		}
		return nil // already revoked: keep the first revoke time
	}
	return wrap("revoke token "+id, err)
}

func (w *writeTx) RevokeUserSessions(userID, keepID string, at time.Time) error {
	_, err := w.exec(`UPDATE tokens SET revoke_time = ?
		WHERE user_id = ? AND kind = ? AND id != ? AND revoke_time IS NULL`,
		timeArg(at), userID, string(store.TokenKindSession), keepID)
	return wrap("revoke sessions of user "+userID, err)
}

func (w *writeTx) TouchToken(id string, at time.Time) error {
	err := w.execOne(`UPDATE tokens SET last_used_time = ? WHERE id = ?`, timeArg(at), id)
	if errors.Is(err, errNoRow) {
		return notFound("token %q", id)
	}
	return wrap("touch token "+id, err)
}

// Join tokens

const joinTokenCols = `id, hash, created_by, create_time, expire_time, use_time`

func scanJoinToken(sc scanner) (*store.JoinToken, error) {
	j := new(store.JoinToken)
	err := sc.Scan(&j.ID, &j.Hash, &j.CreatedBy, timeCol{&j.CreateTime}, timeCol{&j.ExpireTime}, timeCol{&j.UseTime})
	return j, err
}

func (w *writeTx) CreateJoinToken(j *store.JoinToken) error {
	_, err := w.exec(`INSERT INTO join_tokens (`+joinTokenCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		j.ID, j.Hash, j.CreatedBy, timeArg(j.CreateTime), timeArg(j.ExpireTime), timeArg(j.UseTime))
	switch cols, _ := uniqueViolation(err); cols {
	case "join_tokens.hash":
		return conflict("a join token with the same secret already exists")
	case "join_tokens.id":
		return conflict("join token %q already exists", j.ID)
	}
	return wrap("create join token", err)
}

func (w *writeTx) ConsumeJoinToken(hash []byte, now time.Time) (*store.JoinToken, error) {
	j, err := get(&w.readTx, scanJoinToken, `UPDATE join_tokens SET use_time = ?
		WHERE hash = ? AND use_time IS NULL AND expire_time > ?
		RETURNING `+joinTokenCols, timeArg(now), hash, timeArg(now))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("join token is unknown, already used or expired")
	}
	return j, wrap("consume join token", err)
}
