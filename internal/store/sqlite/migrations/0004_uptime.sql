-- Uptime: raw probe results and their per-minute rollups, the incident
-- tracker's state, incidents, maintenance windows, and alert channels and
-- their deliveries. Everything about a site goes with it (ON DELETE CASCADE),
-- so deleting a site or a client never fails because of this history.

-- Raw probe results, kept about a week. A vantage numbers its results, so
-- the primary key recognises a retransmitted one. node_id is a node id or
-- "berthd" and outlives a deleted node: no foreign key. WITHOUT ROWID: the
-- rows are small, and the index on (site_id, time) then holds the primary
-- key too, so a site's results come out in (time, node_id, seq) order.
CREATE TABLE probe_results (
	node_id        TEXT NOT NULL,
	seq            INTEGER NOT NULL, -- uint64 stored as int64 (two's complement)
	site_id        TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	time           INTEGER NOT NULL,
	ok             INTEGER NOT NULL,
	status_code    INTEGER NOT NULL,
	total_ms       REAL NOT NULL,
	connect_ms     REAL NOT NULL,
	tls_ms         REAL NOT NULL,
	first_byte_ms  REAL NOT NULL,
	cert_not_after INTEGER,
	error_class    TEXT,
	error          TEXT,
	PRIMARY KEY (node_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX probe_results_site_id ON probe_results (site_id, time);

-- One row per site and minute, kept about 400 days. status is the proto
-- MinuteStatus number.
CREATE TABLE site_minutes (
	site_id         TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	minute          INTEGER NOT NULL,
	status          INTEGER NOT NULL,
	up              INTEGER NOT NULL,
	total           INTEGER NOT NULL,
	p50_ms          REAL NOT NULL,
	p95_ms          REAL NOT NULL,
	p99_ms          REAL NOT NULL,
	error_classes   TEXT, -- JSON array
	failed_vantages TEXT, -- JSON array
	PRIMARY KEY (site_id, minute)
) STRICT, WITHOUT ROWID;

-- The incident tracker's state per site, JSON that the tracker owns.
CREATE TABLE uptime_state (
	site_id TEXT PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
	state   TEXT NOT NULL
) STRICT;

-- client_id is the site's client when the incident opened, kept for
-- filtering like audit_events.client_id: no foreign key, the incident
-- belongs to its site.
CREATE TABLE incidents (
	id            TEXT PRIMARY KEY,
	site_id       TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	client_id     TEXT,
	start_time    INTEGER NOT NULL,
	end_time      INTEGER, -- NULL while open
	error_classes TEXT,    -- JSON array
	vantages      TEXT,    -- JSON array
	create_time   INTEGER NOT NULL,
	update_time   INTEGER NOT NULL
) STRICT;
CREATE INDEX incidents_start_time ON incidents (start_time, id);
CREATE INDEX incidents_site_id ON incidents (site_id, start_time, id);
CREATE INDEX incidents_client_id ON incidents (client_id, start_time, id);

-- A window belongs to a site or to a client (every site of it).
CREATE TABLE maintenance_windows (
	id          TEXT PRIMARY KEY,
	site_id     TEXT REFERENCES sites (id) ON DELETE CASCADE,
	client_id   TEXT REFERENCES clients (id) ON DELETE CASCADE,
	start_time  INTEGER NOT NULL,
	end_time    INTEGER NOT NULL,
	reason      TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	create_time INTEGER NOT NULL,
	CHECK ((site_id IS NULL) != (client_id IS NULL))
) STRICT;
CREATE INDEX maintenance_windows_site_id ON maintenance_windows (site_id, start_time);
CREATE INDEX maintenance_windows_client_id ON maintenance_windows (client_id, start_time);

-- client_id NULL: one of the agency's own channels. config is sealed because
-- it holds SMTP passwords and webhook URLs, which are credentials too.
CREATE TABLE alert_channels (
	id          TEXT PRIMARY KEY,
	client_id   TEXT REFERENCES clients (id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	kind        TEXT NOT NULL,
	config      BLOB, -- seal.Box(JSON object), additional data = id
	create_time INTEGER NOT NULL
) STRICT;
CREATE INDEX alert_channels_client_id ON alert_channels (client_id, id);

-- The unique (channel_id, dedup_key) sends an alert once per channel; a NULL
-- dedup_key never conflicts.
CREATE TABLE alert_deliveries (
	id           TEXT PRIMARY KEY,
	channel_id   TEXT NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
	event        TEXT NOT NULL,
	dedup_key    TEXT,
	subject      TEXT NOT NULL,
	body         TEXT NOT NULL,
	state        TEXT NOT NULL,
	attempts     INTEGER NOT NULL,
	last_error   TEXT,
	next_attempt INTEGER, -- NULL: due at once
	create_time  INTEGER NOT NULL,
	deliver_time INTEGER,
	UNIQUE (channel_id, dedup_key)
) STRICT;
CREATE INDEX alert_deliveries_channel_id ON alert_deliveries (channel_id, id);
CREATE INDEX alert_deliveries_pending ON alert_deliveries (create_time, id) WHERE state = 'pending';
