package sqlite

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fixaroo/berth/internal/store"
)

// Column codecs: Valuers for arguments and Scanners for results, so that the
// mapping of zero values to NULL lives in one place.

// minTime and maxTime bound what int64 nanoseconds since the epoch can hold.
var (
	minTime = time.Unix(0, -1<<63).UTC()
	maxTime = time.Unix(0, 1<<63-1).UTC()
)

// timeArg stores a time as UTC nanoseconds, the zero time as NULL.
type timeArg time.Time

func (t timeArg) Value() (driver.Value, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return nil, nil
	}
	if tt.Before(minTime) || tt.After(maxTime) {
		return nil, fmt.Errorf("time %s is outside the storable range %d to %d", tt.Format(time.RFC3339), minTime.Year(), maxTime.Year())
	}
	return tt.UnixNano(), nil
}

// timeCol scans nanoseconds (or NULL, as the zero time) into a UTC time.
type timeCol struct{ p *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.p = time.Time{}
	case int64:
		*c.p = time.Unix(0, v).UTC()
	default:
		return fmt.Errorf("time column holds %T, want INTEGER", v)
	}
	return nil
}

// strArg stores "" as NULL.
type strArg string

func (s strArg) Value() (driver.Value, error) {
	if s == "" {
		return nil, nil
	}
	return string(s), nil
}

// strCol scans TEXT or NULL (as "") into a string.
type strCol struct{ p *string }

func (c strCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.p = ""
	case string:
		*c.p = v
	case []byte:
		*c.p = string(v)
	default:
		return fmt.Errorf("text column holds %T", v)
	}
	return nil
}

// jsonArg stores a map or slice as JSON, and an empty one as NULL.
type jsonArg struct{ v any }

func (j jsonArg) Value() (driver.Value, error) {
	rv := reflect.ValueOf(j.v)
	if !rv.IsValid() || ((rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice) && rv.Len() == 0) {
		return nil, nil
	}
	b, err := json.Marshal(j.v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// jsonCol decodes JSON TEXT into p; NULL leaves p untouched (nil).
type jsonCol struct{ p any }

func (c jsonCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		return json.Unmarshal([]byte(v), c.p)
	case []byte:
		return json.Unmarshal(v, c.p)
	default:
		return fmt.Errorf("JSON column holds %T", v)
	}
}

// defaultPageLimit is the page size for Page.Limit <= 0.
const defaultPageLimit = 100

func pageLimit(p store.Page) int {
	if p.Limit <= 0 {
		return defaultPageLimit
	}
	return p.Limit
}

// uniqueViolation reports which columns a UNIQUE or PRIMARY KEY constraint
// violation is about, as SQLite names them ("clients.slug",
// "sites.client_id, sites.name"); ok is false for any other error.
func uniqueViolation(err error) (cols string, ok bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return "", false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
	default:
		return "", false
	}
	const marker = "UNIQUE constraint failed: "
	msg := se.Error()
	i := strings.Index(msg, marker)
	if i < 0 {
		return "", true
	}
	cols = msg[i+len(marker):]
	if j := strings.Index(cols, " ("); j >= 0 { // the driver appends " (code)"
		cols = cols[:j]
	}
	return cols, true
}

// conflict wraps store.ErrConflict with a message for the user.
func conflict(format string, args ...any) error {
	return &store.Error{Kind: store.ErrConflict, Msg: fmt.Sprintf(format, args...)}
}

// notFound wraps store.ErrNotFound with what was looked for.
func notFound(format string, args ...any) error {
	return &store.Error{Kind: store.ErrNotFound, Msg: fmt.Sprintf(format, args...)}
}

// inUse wraps store.ErrInUse with what to remove first.
func inUse(format string, args ...any) error {
	return &store.Error{Kind: store.ErrInUse, Msg: fmt.Sprintf(format, args...)}
}

// wrap adds op to an unexpected error. Errors that wrap a store sentinel
// already carry a message meant for the user and are returned as they are.
func wrap(op string, err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInUse) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}
