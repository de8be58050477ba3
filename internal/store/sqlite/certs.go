package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fixaroo/berth/internal/store"
)

// Certificate data and locks for the node agents' certmagic storage.

// under returns a WHERE condition and its arguments selecting the keys below
// the directory prefix ("" for the root). It compares ranges rather than
// using LIKE, so '%' and '_' in keys are ordinary characters: the keys below
// "a" are those from "a/" up to, not including, "a0" ('0' follows '/').
func under(prefix string) (string, []any) {
	if prefix == "" {
		return "1", nil
	}
	return "key >= ? AND key < ?", []any{prefix + "/", prefix + "0"}
}

func (r *readTx) GetCertData(key string) (*store.CertData, error) {
	d := &store.CertData{Key: key}
	var sealed []byte
	err := r.tx.QueryRowContext(r.ctx, `SELECT value, modify_time FROM cert_data WHERE key = ?`, key).
		Scan(&sealed, timeCol{&d.ModifyTime})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("certificate data %q", key)
	}
	if err != nil {
		return nil, fmt.Errorf("get certificate data %s: %w", key, err)
	}
	if d.Value, err = r.box.Open(sealed, []byte(key)); err != nil {
		return nil, fmt.Errorf("certificate data %s: %w", key, err)
	}
	return d, nil
}

func (r *readTx) ListCertData(prefix string, recursive bool) ([]string, error) {
	cond, args := under(prefix)
	keys, err := list(r, func(sc scanner) (string, error) {
		var k string
		err := sc.Scan(&k)
		return k, err
	}, `SELECT key FROM cert_data WHERE `+cond+` ORDER BY key`, args...)
	if err != nil {
		return nil, fmt.Errorf("list certificate data %s: %w", prefix, err)
	}
	if len(keys) == 0 {
		return nil, notFound("certificate data under %q", prefix)
	}
	if recursive {
		return keys, nil
	}
	dir := prefix
	if dir != "" {
		dir += "/"
	}
	for i, k := range keys {
		child, _, _ := strings.Cut(k[len(dir):], "/")
		keys[i] = dir + child
	}
	// A directory sorts differently from the keys below it ("a/b" before
	// "a/b-c", but "a/b-c" before "a/b/x").
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

func (r *readTx) StatCertData(key string) (store.CertDataInfo, error) {
	info := store.CertDataInfo{Key: key}
	d, err := r.GetCertData(key)
	if err == nil {
		info.Size, info.ModifyTime, info.IsTerminal = int64(len(d.Value)), d.ModifyTime, true
		return info, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return info, err
	}
	cond, args := under(key)
	var n int
	err = r.tx.QueryRowContext(r.ctx, `SELECT count(*), max(modify_time) FROM cert_data WHERE `+cond, args...).
		Scan(&n, timeCol{&info.ModifyTime})
	if err != nil {
		return info, fmt.Errorf("stat certificate data %s: %w", key, err)
	}
	if n == 0 {
		return info, notFound("certificate data %q", key)
	}
	return info, nil
}

func (w *writeTx) PutCertData(d *store.CertData) error {
	if d.Key == "" || d.ModifyTime.IsZero() {
		return fmt.Errorf("put certificate data %q: the key and the modify time are required", d.Key)
	}
	_, err := w.exec(`INSERT INTO cert_data (key, value, modify_time) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, modify_time = excluded.modify_time`,
		d.Key, w.box.Seal(d.Value, []byte(d.Key)), timeArg(d.ModifyTime))
	return wrap("put certificate data "+d.Key, err)
}

func (w *writeTx) DeleteCertData(key string) error {
	if key == "" {
		return errors.New("delete certificate data: the key is required") // not a way to delete everything
	}
	cond, args := under(key)
	err := w.execOne(`DELETE FROM cert_data WHERE key = ? OR (`+cond+`)`, append([]any{key}, args...)...)
	if errors.Is(err, errNoRow) {
		return notFound("certificate data %q", key)
	}
	return wrap("delete certificate data "+key, err)
}

func (w *writeTx) AcquireCertLock(name, owner string, now, expires time.Time) (bool, error) {
	if expires.IsZero() {
		return false, fmt.Errorf("acquire certificate lock %q: the expiry time is required", name)
	}
	// The upsert changes no row when another owner holds an unexpired lock.
	err := w.execOne(`INSERT INTO cert_locks (name, owner, expire_time) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expire_time = excluded.expire_time
		WHERE cert_locks.owner = excluded.owner OR cert_locks.expire_time <= ?`,
		name, owner, timeArg(expires), timeArg(now))
	if errors.Is(err, errNoRow) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire certificate lock %s: %w", name, err)
	}
	return true, nil
}

func (w *writeTx) ReleaseCertLock(name, owner string) error {
	_, err := w.exec(`DELETE FROM cert_locks WHERE name = ? AND owner = ?`, name, owner)
	return wrap("release certificate lock "+name, err)
}
