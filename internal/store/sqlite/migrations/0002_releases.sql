-- Static-site releases: bundles stored content-addressed by berthd, and the
-- release each site should serve.
CREATE TABLE releases (
	id             TEXT PRIMARY KEY,
	site_id        TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	digest         TEXT NOT NULL,
	size_bytes     INTEGER NOT NULL,
	files          INTEGER NOT NULL,
	unpacked_bytes INTEGER NOT NULL,
	created_by     TEXT NOT NULL,
	create_time    INTEGER NOT NULL
) STRICT;
CREATE INDEX releases_site_id ON releases (site_id, id);
CREATE INDEX releases_digest ON releases (digest);

ALTER TABLE sites ADD COLUMN release_id TEXT;
