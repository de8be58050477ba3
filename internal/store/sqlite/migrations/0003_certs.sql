-- TLS: per-site edge settings, the certificate status nodes report, and the
-- storage and locks that the node agents' certmagic shares through berthd.

ALTER TABLE sites ADD COLUMN hsts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sites ADD COLUMN redirect_aliases INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sites ADD COLUMN certificates TEXT; -- JSON array

-- certmagic storage: '/'-separated keys, values sealed with seal.Box
-- (additional data = key) because private keys are among them.
CREATE TABLE cert_data (
	key         TEXT PRIMARY KEY,
	value       BLOB NOT NULL,
	modify_time INTEGER NOT NULL
) STRICT;

-- certmagic locks, so two nodes never obtain one certificate at once. A lock
-- whose expire_time has passed is free.
CREATE TABLE cert_locks (
	name        TEXT PRIMARY KEY,
	owner       TEXT NOT NULL,
	expire_time INTEGER NOT NULL
) STRICT;
