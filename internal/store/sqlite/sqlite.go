package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/store"
)

// readerConns is the size of the read pool. Reads in WAL mode run in
// parallel with each other and with the single writer.
const readerConns = 4

// subscriberBuffer is how many site ids a subscriber may fall behind before
// further ids are dropped for it.
const subscriberBuffer = 64

// Options configures Open. Zero values mean the documented default.
type Options struct {
	// Path is the database file; it is created if missing. Required.
	Path string
	// Box encrypts Site.Secrets (bound to the site id), certificate data
	// (bound to its key) and alert channel settings (bound to the channel
	// id). Required.
	Box *seal.Box
	// Registerer receives the histogram berth_store_tx_duration_seconds
	// {kind="read|write", outcome="ok|error"}. Nil means no metrics.
	Registerer prometheus.Registerer
	// Logger logs schema migrations. Nil discards.
	Logger *slog.Logger
}

// Store is the SQLite store.Store. It is safe for concurrent use.
type Store struct {
	writer  *sql.DB // one connection: writes are serialised
	reader  *sql.DB // query_only connections for View
	box     *seal.Box
	log     *slog.Logger
	metrics *metrics // nil without a Registerer

	mu     sync.Mutex // guards the fields below
	subs   map[*subscription]struct{}
	closed bool
}

var _ store.Store = (*Store)(nil)

type subscription struct {
	ch chan string
}

// Open opens or creates the database at o.Path and brings its schema up to
// date. It fails if the schema is newer than this binary knows.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Path == "" {
		return nil, errors.New("sqlite: Options.Path is required")
	}
	if strings.ContainsRune(o.Path, '?') {
		return nil, fmt.Errorf("sqlite: database path %q must not contain '?'", o.Path)
	}
	if o.Box == nil {
		return nil, errors.New("sqlite: Options.Box is required to encrypt site secrets")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		box:  o.Box,
		log:  log,
		subs: make(map[*subscription]struct{}),
	}
	if o.Registerer != nil {
		m, err := newMetrics(o.Registerer)
		if err != nil {
			return nil, err
		}
		s.metrics = m
	}

	var err error
	s.writer, err = openPool(o.Path, 1, url.Values{
		"_pragma": {"busy_timeout(10000)", "foreign_keys(1)", "journal_mode(WAL)", "synchronous(FULL)"},
		"_txlock": {"immediate"},
	})
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.writer.Close()
		return nil, err
	}
	// Readers open after migrate, so the file is already in WAL mode.
	s.reader, err = openPool(o.Path, readerConns, url.Values{
		"_pragma": {"busy_timeout(10000)", "foreign_keys(1)", "query_only(1)"},
	})
	if err != nil {
		s.writer.Close()
		return nil, err
	}
	if err := s.reader.PingContext(ctx); err != nil {
		s.writer.Close()
		s.reader.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", o.Path, err)
	}
	return s, nil
}

func openPool(path string, conns int, q url.Values) (*sql.DB, error) {
	// A plain file name (not a file: URI) followed by the driver's own query
	// parameters; the driver strips them before opening the file.
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// View runs fn in a read-only transaction on a consistent snapshot.
func (s *Store) View(ctx context.Context, fn func(store.ReadTx) error) (err error) {
	start := time.Now()
	defer func() { s.metrics.observe("read", start, err) }()

	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: begin read: %w", err)
	}
	defer tx.Rollback() // a read transaction has nothing to lose
	if err := fn(&readTx{ctx: ctx, tx: tx, box: s.box}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: end read: %w", err)
	}
	return nil
}

// Update runs fn in a write transaction. It commits if fn returns nil and
// rolls back otherwise (also if fn panics). Nothing is retried. After a
// commit, the ids of sites that fn created, updated or deleted are sent to
// subscribers. Writes are serialised, so fn must not call Update itself: it
// would wait for its own transaction.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) (err error) {
	start := time.Now()
	defer func() { s.metrics.observe("write", start, err) }()

	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin write: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	w := &writeTx{readTx: readTx{ctx: ctx, tx: tx, box: s.box}}
	if err := fn(w); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	s.announce(w.touched)
	return nil
}

// SubscribeSites returns a channel of changed site ids. Each subscriber has a
// buffer of 64 ids; ids that do not fit are dropped for that subscriber, so a
// receiver must re-read state after each wake-up rather than count on
// seeing every id. cancel removes the subscription and closes the channel;
// calling it again does nothing. Close closes every channel.
func (s *Store) SubscribeSites() (<-chan string, func()) {
	sub := &subscription{ch: make(chan string, subscriberBuffer)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(sub.ch)
		return sub.ch, func() {}
	}
	s.subs[sub] = struct{}{}
	return sub.ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[sub]; ok {
			delete(s.subs, sub)
			close(sub.ch)
		}
	}
}

func (s *Store) announce(ids []string) {
	if len(ids) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		for _, id := range ids {
			select {
			case sub.ch <- id:
			default: // the subscriber is behind; it re-reads state anyway
			}
		}
	}
}

// Close closes both connection pools and every subscription channel. View
// and Update fail afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for sub := range s.subs {
			close(sub.ch)
		}
		clear(s.subs)
	}
	s.mu.Unlock()
	return errors.Join(s.reader.Close(), s.writer.Close())
}
