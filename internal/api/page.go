package api

import (
	"encoding/base64"

	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
)

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// pageFromRequest turns page_size and page_token into a store page that asks
// for one record more than the page, to learn whether another page follows.
// Page tokens are opaque to callers: the base64 of the last id returned.
func pageFromRequest(size int32, token, idPrefix string) (store.Page, int, error) {
	n := int(size)
	switch {
	case n < 0:
		return store.Page{}, 0, &validate.Error{Field: "page_size", Msg: "must not be negative"}
	case n == 0:
		n = defaultPageSize
	case n > maxPageSize:
		n = maxPageSize
	}
	p := store.Page{Limit: n + 1}
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || validate.ID("page_token", idPrefix, string(b)) != nil {
			return store.Page{}, 0, &validate.Error{Field: "page_token", Msg: "is not a page token from a previous response of this list; start again without it"}
		}
		p.After = string(b)
	}
	return p, n, nil
}

// pageOf cuts a result fetched with pageFromRequest to the page size and
// returns the next page token ("" on the last page).
func pageOf[T any](items []T, n int, id func(T) string) ([]T, string) {
	if len(items) <= n {
		return items, ""
	}
	items = items[:n]
	return items, base64.RawURLEncoding.EncodeToString([]byte(id(items[n-1])))
}
