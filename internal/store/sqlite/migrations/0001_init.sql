-- Berth store schema, version 1.
--
-- Times are INTEGER nanoseconds since the Unix epoch, UTC; NULL means unset.
-- Optional references and strings are NULL when empty. JSON columns hold
-- encoding/json output. Tables are STRICT so a wrong type is an error.

CREATE TABLE clients (
	id            TEXT PRIMARY KEY,
	display_name  TEXT NOT NULL,
	slug          TEXT NOT NULL UNIQUE,
	contact_email TEXT NOT NULL,
	create_time   INTEGER NOT NULL,
	update_time   INTEGER NOT NULL
) STRICT;

CREATE TABLE sites (
	id                  TEXT PRIMARY KEY,
	client_id           TEXT NOT NULL REFERENCES clients (id) ON DELETE RESTRICT,
	name                TEXT NOT NULL,
	kind                TEXT NOT NULL,
	primary_domain      TEXT NOT NULL,
	memory_mib          INTEGER NOT NULL,
	cpu_millicores      INTEGER NOT NULL,
	wp_title            TEXT NOT NULL,
	wp_admin_email      TEXT NOT NULL,
	secrets             BLOB,    -- seal.Box(JSON object), additional data = id
	node_id             TEXT,    -- no foreign key: a node may be deleted while sites still name it
	state               TEXT NOT NULL,
	conditions          TEXT,    -- JSON array
	generation          INTEGER NOT NULL,
	observed_generation INTEGER NOT NULL,
	create_time         INTEGER NOT NULL,
	update_time         INTEGER NOT NULL,
	UNIQUE (client_id, name)
) STRICT;
CREATE INDEX sites_client_id ON sites (client_id, id);
CREATE INDEX sites_node_id ON sites (node_id, id);
CREATE INDEX sites_state ON sites (state, id);

-- Every domain of every site, primary and aliases: the primary key makes a
-- domain belong to at most one site. NOCASE because DNS names are.
CREATE TABLE site_domains (
	domain     TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
	site_id    TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	is_primary INTEGER NOT NULL,
	position   INTEGER NOT NULL  -- 0 for the primary, then the aliases in order
) STRICT;
CREATE INDEX site_domains_site_id ON site_domains (site_id, position);

CREATE TABLE nodes (
	id                  TEXT PRIMARY KEY,
	name                TEXT NOT NULL UNIQUE,
	state               TEXT NOT NULL,
	memory_mib          INTEGER NOT NULL,
	cpu_millicores      INTEGER NOT NULL,
	disk_mib            INTEGER NOT NULL,
	labels              TEXT,    -- JSON object
	agent_version       TEXT NOT NULL,
	docker_version      TEXT NOT NULL,
	last_heartbeat_time INTEGER,
	create_time         INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
	role          TEXT NOT NULL,
	client_id     TEXT REFERENCES clients (id) ON DELETE CASCADE,
	password_hash TEXT NOT NULL,
	create_time   INTEGER NOT NULL,
	update_time   INTEGER NOT NULL
) STRICT;
CREATE INDEX users_client_id ON users (client_id, id);

CREATE TABLE tokens (
	id             TEXT PRIMARY KEY,
	name           TEXT NOT NULL,
	kind           TEXT NOT NULL,
	role           TEXT NOT NULL,
	client_id      TEXT REFERENCES clients (id) ON DELETE CASCADE,
	user_id        TEXT REFERENCES users (id) ON DELETE CASCADE,
	hash           BLOB NOT NULL UNIQUE,
	create_time    INTEGER NOT NULL,
	expire_time    INTEGER,
	last_used_time INTEGER,
	revoke_time    INTEGER
) STRICT;
CREATE INDEX tokens_client_id ON tokens (client_id, id);
CREATE INDEX tokens_user_id ON tokens (user_id, id);

CREATE TABLE join_tokens (
	id          TEXT PRIMARY KEY,
	hash        BLOB NOT NULL UNIQUE,
	created_by  TEXT NOT NULL,
	create_time INTEGER NOT NULL,
	expire_time INTEGER NOT NULL,
	use_time    INTEGER
) STRICT;

CREATE TABLE audit_events (
	id          TEXT PRIMARY KEY,
	time        INTEGER NOT NULL,
	actor       TEXT NOT NULL,
	method      TEXT NOT NULL,
	resource_id TEXT NOT NULL,
	client_id   TEXT NOT NULL,
	code        TEXT NOT NULL,
	message     TEXT NOT NULL,
	peer        TEXT NOT NULL
) STRICT;
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_client_id ON audit_events (client_id, id);
CREATE INDEX audit_events_resource_id ON audit_events (resource_id, id);

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;
