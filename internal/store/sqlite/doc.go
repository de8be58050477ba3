// Package sqlite implements store.Store on an SQLite database file, through
// the pure-Go driver modernc.org/sqlite.
//
// # Connections
//
// One file, two connection pools. The writer pool has a single connection:
// writes are serialised in-process by database/sql, every write transaction
// starts with BEGIN IMMEDIATE (so it never fails half-way on a lock upgrade),
// and synchronous=FULL makes a committed transaction survive a crash or power
// loss. The reader pool has a few query_only connections; in WAL mode readers
// never block the writer and each View sees one consistent snapshot, taken at
// its first read.
//
// # Data
//
// Times are stored as INTEGER nanoseconds since the Unix epoch and returned in
// UTC; a zero time.Time is stored as NULL and comes back zero. Times must lie
// between 1677-09-21 and 2262-04-11, the range of int64 nanoseconds. Empty
// optional strings, maps and slices are stored as NULL and come back nil.
// Site.Secrets is JSON sealed with a seal.Box, bound to the site id;
// certificate data values are sealed with the same Box, bound to their key,
// and alert channel settings (webhook URLs, SMTP passwords), bound to the
// channel id.
// Update methods replace every field of the record except ID and CreateTime.
//
// Domains (site_domains.domain) and user emails compare case-insensitively
// for uniqueness; they are returned as written.
//
// # Schema
//
// Migrations are embedded (migrations/NNNN_name.sql) and applied by Open, each
// in its own transaction, recorded in schema_migrations. Open refuses a
// database whose schema is newer than the binary knows.
package sqlite
