package certs

import (
	"context"
	"log/slog"
	"time"
)

// Storage exposes the layered storage to the external tests.
type Storage = storage

// NewStorage makes the layered storage of a Manager whose certs directory
// is dir, with each Remote call bounded by timeout.
func NewStorage(dir string, r Remote, timeout time.Duration) (*Storage, error) {
	s, err := newStorage(dir, r, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	s.timeout = timeout
	return s, nil
}

// Sync runs one sync pass.
func (s *storage) Sync(ctx context.Context) (int, error) { return s.sync(ctx) }
